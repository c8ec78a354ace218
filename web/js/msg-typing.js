// "alice is typing…": who is typing in a view, from typing events; each
// entry expires on its own if its stop never arrives.
import { h } from './dom.js';
import { cachedUser, displayName } from './users.js';

const EXPIRE_MS = 8000;

export function typingLine(meId) {
  const el = h('div', { class: 'chat-typing', 'data-testid': 'typing', 'aria-live': 'polite' });
  const who = new Map(); // user id -> {name, timer}

  function render() {
    const names = [...who.values()].map((t) => t.name);
    const n = names.length;
    el.textContent = n === 0 ? ''
      : n === 1 ? `${names[0]} is typing…`
        : n === 2 ? `${names[0]} and ${names[1]} are typing…`
          : n === 3 ? `${names[0]}, ${names[1]} and ${names[2]} are typing…`
            : 'Several people are typing…';
  }

  function stop(id) {
    const t = who.get(id);
    if (!t) return;
    clearTimeout(t.timer);
    who.delete(id);
    render();
  }

  function set(id, username, on) {
    if (!id || id === meId) return;
    if (!on) { stop(id); return; }
    clearTimeout(who.get(id)?.timer);
    const user = cachedUser(id) ?? { id, username };
    who.set(id, { name: displayName(user), timer: setTimeout(() => stop(id), EXPIRE_MS) });
    render();
  }

  const destroy = () => { for (const t of who.values()) clearTimeout(t.timer); who.clear(); };
  return { el, set, stop, destroy };
}
