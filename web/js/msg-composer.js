// The message box: Enter sends, Shift+Enter is a new line, 1-4000
// characters, @mention autocomplete, typing notices (at most one every 3 s
// while typing; a stop on send, on blur and when emptied).
//
//   const c = composer({ label: 'Message', send: async (text) => ..., typing(on),
//                        members: () => [...], groups: true, self: myId, onEmptyUp });
//   c.el, c.focus(), c.disable(reason | null), c.destroy()
import { h } from './dom.js';
import { mentionMenu } from './msg-mention.js';
import { toastError } from './ui.js';

export const MAX_CHARS = 4000;
const TYPING_EVERY_MS = 3000;

export const charCount = (s) => {
  let n = 0;
  for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i); if (c < 0xdc00 || c > 0xdfff) n++; }
  return n;
};

export function composer({ label = 'Message', placeholder, send, typing, members, groups = false, self = null, onEmptyUp }) {
  const ta = h('textarea', { class: 'composer-input', 'aria-label': label, rows: '1', placeholder: placeholder || `${label}…` });
  const counter = h('span', { class: 'composer-count', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'primary composer-send', 'aria-label': 'Send', title: 'Send (Enter)' }, 'Send');
  const notice = h('p', { class: 'composer-notice', hidden: true });
  const menu = members ? mentionMenu(ta, members, { groups, self }) : null;
  const form = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); submit(); } },
    menu?.el, notice, h('div', { class: 'composer-box' }, ta, counter, button));
  let lastTyping = 0;
  let typingOn = false;
  let queue = Promise.resolve();

  const stopTyping = () => { if (typingOn) { typingOn = false; lastTyping = 0; typing?.(false); } };

  function refresh() {
    const n = charCount(ta.value);
    counter.textContent = n > MAX_CHARS - 500 ? `${n}/${MAX_CHARS}` : '';
    counter.classList.toggle('over', n > MAX_CHARS);
    button.disabled = ta.disabled || !ta.value.trim() || n > MAX_CHARS;
  }

  // Sends go out one after another, in order: a message typed while the
  // previous one is on its way waits for it instead of being refused.
  function submit() {
    const text = ta.value;
    if (ta.disabled || !text.trim() || charCount(text) > MAX_CHARS) return;
    stopTyping();
    ta.value = '';
    refresh();
    queue = queue.then(() => send(text)).catch((e) => {
      if (!ta.value) { ta.value = text; refresh(); }
      toastError(e);
    });
  }

  ta.addEventListener('keydown', (e) => {
    if (menu?.key(e)) return;
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    else if (e.key === 'ArrowUp' && !ta.value && onEmptyUp) { e.preventDefault(); onEmptyUp(); }
  });
  ta.addEventListener('input', () => {
    refresh();
    if (!typing) return;
    if (!ta.value.trim()) { stopTyping(); return; }
    const now = Date.now();
    if (now - lastTyping >= TYPING_EVERY_MS) { lastTyping = now; typingOn = true; typing(true); }
  });
  ta.addEventListener('blur', stopTyping);
  refresh();

  return {
    el: form,
    textarea: ta,
    focus: () => ta.focus(),
    disable(reason) {
      ta.disabled = !!reason;
      notice.hidden = !reason;
      notice.textContent = reason || '';
      refresh();
    },
    destroy: stopTyping,
  };
}
