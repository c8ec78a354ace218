// The box that edits a message's text in place: Enter saves, Shift+Enter
// is a new line, Escape cancels; focused at the end of the text once shown.
//
//   editBox({ text, label, onInput(text), save(), cancel() }) -> element
import { h } from './dom.js';

export function editBox({ text, label = 'Edit text', onInput, save, cancel }) {
  const ta = h('textarea', { class: 'msg-edit-input', 'aria-label': label, rows: '2', maxlength: '16000' });
  ta.value = text;
  ta.addEventListener('input', () => onInput?.(ta.value));
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); cancel(); }
    else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); save(); }
  });
  requestAnimationFrame(() => {
    if (ta.isConnected && document.activeElement !== ta) { ta.focus(); ta.setSelectionRange(ta.value.length, ta.value.length); }
  });
  return h('div', { class: 'msg-edit' }, ta,
    h('div', { class: 'msg-edit-bar' },
      h('span', { class: 'hint', text: 'Escape to cancel, Enter to save' }),
      h('button', { type: 'button', text: 'Cancel', onclick: cancel }),
      h('button', { type: 'button', class: 'primary', text: 'Save', onclick: save })));
}
