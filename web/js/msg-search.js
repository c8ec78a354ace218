// The search pane of a room: full-text search over the caller's rooms
// (GET /api/messages/search); a result of this room scrolls to it (loading
// older pages as needed), one of another room opens that room on it.
import { h, replace } from './dom.js';
import { api } from './api.js';
import { jumpLater } from './msg-view.js';
import { timeLabel, toastError } from './ui.js';

export function searchPane(view) {
  const roomId = view.source.id;
  const input = h('input', { type: 'search', 'aria-label': 'Search', placeholder: 'Search messages', maxlength: '200', required: true });
  const onlyHere = h('input', { type: 'checkbox', checked: true });
  const results = h('ol', { class: 'search-results', 'aria-label': 'Search results' });
  const note = h('p', { class: 'hint', role: 'status' });
  const form = h('form', { class: 'search-form', role: 'search', onsubmit: (e) => { e.preventDefault(); run(); } },
    h('div', { class: 'search-row' }, input, h('button', { type: 'submit', text: 'Search' })),
    h('label', { class: 'check' }, onlyHere, 'Only this room'));
  onlyHere.addEventListener('change', () => { if (input.value.trim()) run(); });
  const el = h('section', { class: 'search-pane', 'aria-label': 'Search messages' }, form, note, results);

  async function run() {
    const q = input.value.trim();
    if (!q) return;
    note.textContent = 'Searching…';
    try {
      let list = (await api('GET', '/api/messages/search', undefined, { q, limit: 50 })) || [];
      if (onlyHere.checked) list = list.filter((r) => r.room_id === roomId);
      note.textContent = list.length ? `${list.length} result${list.length === 1 ? '' : 's'}` : 'No messages found.';
      replace(results, list.map(item));
    } catch (e) {
      note.textContent = '';
      toastError(e);
    }
  }

  function open(r) {
    if (r.room_id === roomId) { view.jumpTo(r.id, r.seq); return; }
    jumpLater(r.room_id, r.id, r.seq);
    location.hash = `#/room/${r.room_id}`;
  }

  const item = (r) => h('li', {},
    h('button', { type: 'button', class: 'search-result', 'data-testid': 'search-result', 'data-id': r.id, onclick: () => open(r) },
      h('span', { class: 'search-meta' },
        h('strong', {}, r.username || 'unknown'),
        r.room_id !== roomId ? ` in #${r.room_name}` : '', ' · ', timeLabel(r.created_at)),
      h('span', { class: 'search-text' }, r.content)));

  return { el, title: 'Search', focus: () => input.focus(), destroy() {} };
}
