// A small emoji picker: a popup of common emoji next to a button.
// pickEmoji(anchor) -> Promise<emoji | undefined>. Arrow keys move, Enter
// or a click picks, Escape or a click outside closes; focus returns to the
// anchor (when it is still in the page).
import { h } from './dom.js';

export const COMMON_EMOJI = [
  ['👍', 'thumbs up'], ['👎', 'thumbs down'], ['😄', 'smile'], ['😂', 'tears of joy'],
  ['🎉', 'party'], ['❤️', 'heart'], ['😮', 'surprised'], ['😢', 'sad'],
  ['😡', 'angry'], ['🙏', 'thanks'], ['👀', 'eyes'], ['🔥', 'fire'],
  ['✅', 'check'], ['🚀', 'rocket'], ['💯', 'hundred'], ['👏', 'clap'],
];
const COLS = 4;

let open = null; // the one picker shown

export function closeEmojiPicker() { open?.close(); }

export function pickEmoji(anchor) {
  closeEmojiPicker();
  return new Promise((resolve) => {
    const buttons = COMMON_EMOJI.map(([e, name]) => h('button', {
      type: 'button', class: 'emoji-btn', 'aria-label': name, title: name, 'data-emoji': e,
      onclick: () => done(e),
    }, e));
    const box = h('div', { class: 'emoji-picker', role: 'dialog', 'aria-label': 'Pick a reaction' },
      h('div', { class: 'emoji-grid' }, buttons));
    const onKey = (e) => {
      const i = buttons.indexOf(document.activeElement);
      const move = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLS, ArrowUp: -COLS }[e.key];
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); done(undefined); }
      else if (move && i >= 0) {
        e.preventDefault();
        buttons[(i + move + buttons.length) % buttons.length].focus();
      } else if (e.key === 'Tab') {
        e.preventDefault();
        buttons[(i + (e.shiftKey ? -1 : 1) + buttons.length) % buttons.length].focus();
      }
    };
    const onDown = (e) => { if (!box.contains(e.target)) done(undefined); };
    function done(value) {
      box.remove();
      document.removeEventListener('pointerdown', onDown, true);
      if (open?.box === box) open = null;
      if (anchor.isConnected) anchor.focus({ preventScroll: true });
      resolve(value);
    }
    box.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', onDown, true);
    document.body.append(box);
    place(box, anchor);
    open = { box, close: () => done(undefined) };
    buttons[0].focus();
  });
}

// Fixed position next to the anchor, kept inside the window.
function place(box, anchor) {
  const r = anchor.getBoundingClientRect();
  const w = box.offsetWidth;
  const ht = box.offsetHeight;
  const left = Math.max(8, Math.min(window.innerWidth - w - 8, r.right - w));
  const top = r.top - ht - 6 > 8 ? r.top - ht - 6 : Math.min(window.innerHeight - ht - 8, r.bottom + 6);
  box.style.left = `${left}px`;
  box.style.top = `${Math.max(8, top)}px`;
}
