// Pieces shared by the settings sections.
import { h } from './dom.js';

// A titled card: section('profile', 'Profile', ...children).
export const section = (key, title, ...children) => h('section', {
  class: 'card settings-section', 'aria-labelledby': `settings-${key}`, 'data-testid': `settings-${key}`,
}, h('h2', { id: `settings-${key}`, text: title }), ...children);

// The line under a form where its error (or success) is read out.
export const statusLine = () => h('p', { class: 'form-error', role: 'alert' });

export function say(line, text, ok = false) {
  line.textContent = text;
  line.classList.toggle('form-ok', ok);
}

// A list of recovery codes with a button that copies them.
export function codeList(codes) {
  const list = h('ol', { class: 'recovery-codes', 'data-testid': 'recovery-codes' },
    codes.map((c) => h('li', {}, h('code', { text: c }))));
  const done = h('span', { class: 'hint', role: 'status' });
  const copy = h('button', {
    type: 'button', text: 'Copy codes',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(codes.join('\n'));
        done.textContent = 'Copied.';
      } catch {
        getSelection().selectAllChildren(list);
        done.textContent = 'Selected: press Ctrl+C to copy.';
      }
    },
  });
  return h('div', { class: 'recovery' }, list, h('div', { class: 'row' }, copy, done));
}
