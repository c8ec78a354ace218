// @mention autocomplete for a textarea: typing "@al" lists the members whose
// username or display name starts with "al" (and @here / @all in rooms).
// ArrowUp/Down move, Enter or Tab insert "@username ", Escape closes.
//
//   const m = mentionMenu(textarea, () => [{id, username, display_name}], {groups: true});
//   m.key(e) -> true when the key was the menu's; m.el is the listbox.
import { h, replace } from './dom.js';
import { avatar } from './ui.js';

let seq = 0;
const MAX = 8;

// "@word" right before the caret: {query, start}.
function queryAt(ta) {
  const pos = ta.selectionStart;
  if (pos !== ta.selectionEnd) return null;
  const before = ta.value.slice(Math.max(0, pos - 40), pos);
  const m = /(?:^|[^\w@])@(\w{0,32})$/.exec(before);
  return m ? { query: m[1].toLowerCase(), start: pos - m[1].length - 1 } : null;
}

export function mentionMenu(ta, candidates, { groups = false, self = null } = {}) {
  const id = `mention-${++seq}`;
  const el = h('ul', { class: 'mention-menu', id, role: 'listbox', 'aria-label': 'Mention someone', hidden: true });
  let items = [];
  let active = 0;
  let at = null;

  ta.setAttribute('aria-autocomplete', 'list');
  ta.setAttribute('aria-controls', id);
  ta.setAttribute('aria-expanded', 'false');

  function matches(q) {
    const out = [];
    for (const u of candidates() || []) {
      if (u.id === self) continue;
      const un = (u.username || '').toLowerCase();
      const dn = (u.display_name || '').toLowerCase();
      if (un.startsWith(q) || dn.startsWith(q)) out.push(u);
      if (out.length >= MAX) break;
    }
    if (groups) {
      for (const g of ['here', 'all']) {
        if (g.startsWith(q)) out.push({ id: `@${g}`, username: g, display_name: g === 'here' ? 'Everyone online' : 'Everyone in the room', group: true });
      }
    }
    return out;
  }

  function render() {
    replace(el, items.map((u, i) => h('li', {
      id: `${id}-${i}`, role: 'option', class: 'mention-option', 'aria-selected': i === active ? 'true' : 'false',
      onmousedown: (e) => { e.preventDefault(); pick(i); },
    }, u.group ? h('span', { class: 'mention-at', 'aria-hidden': 'true' }, '@') : avatar(u, 20),
    h('span', { class: 'mention-name' }, u.username), ' ',
    h('span', { class: 'hint' }, u.display_name && u.display_name !== u.username ? u.display_name : ''))));
    ta.setAttribute('aria-activedescendant', items.length ? `${id}-${active}` : '');
  }

  function close() {
    at = null;
    items = [];
    el.hidden = true;
    ta.setAttribute('aria-expanded', 'false');
    ta.removeAttribute('aria-activedescendant');
  }

  function update() {
    at = queryAt(ta);
    items = at ? matches(at.query) : [];
    if (!items.length) { close(); return; }
    active = Math.min(active, items.length - 1);
    el.hidden = false;
    ta.setAttribute('aria-expanded', 'true');
    render();
  }

  function pick(i) {
    const u = items[i];
    if (!u || !at) return;
    const pos = ta.selectionStart;
    const text = `@${u.username} `;
    ta.value = ta.value.slice(0, at.start) + text + ta.value.slice(pos);
    const caret = at.start + text.length;
    ta.setSelectionRange(caret, caret);
    close();
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function key(e) {
    if (el.hidden) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      active = (active + (e.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      render();
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      pick(active);
    } else if (e.key === 'Escape') {
      close();
    } else return false;
    e.preventDefault();
    e.stopPropagation();
    return true;
  }

  ta.addEventListener('input', () => { active = 0; update(); });
  ta.addEventListener('click', update);
  ta.addEventListener('blur', () => setTimeout(close, 100));
  return { el, key, close };
}
