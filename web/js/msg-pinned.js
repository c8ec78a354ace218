// The pinned messages of a room: each opens its message in the history;
// moderators and up may unpin. Kept current by pin events.
import { h, replace } from './dom.js';
import { timeLabel, toastError } from './ui.js';

export function pinnedPane(view) {
  const { source } = view;
  const listEl = h('ol', { class: 'pinned-list', 'data-testid': 'pinned', 'aria-label': 'Pinned messages' });
  const note = h('p', { class: 'hint', role: 'status' });
  const el = h('section', { class: 'pinned-pane', 'aria-label': 'Pinned messages' }, note, listEl);
  let stamp = 0;

  async function load() {
    const mine = ++stamp;
    try {
      const pins = (await source.pinned()) || [];
      if (mine !== stamp) return;
      note.textContent = pins.length ? '' : 'No pinned messages.';
      replace(listEl, pins.map(item));
    } catch (e) { toastError(e); }
  }

  const item = (p) => h('li', { class: 'pinned-item', 'data-testid': 'pinned-message', 'data-id': p.message_id },
    h('button', { type: 'button', class: 'pinned-open', onclick: () => view.jumpTo(p.message_id) },
      h('span', { class: 'pinned-text' }, p.content || '(no text)'),
      h('span', { class: 'hint' }, `Pinned by ${p.username || 'someone'} · `, timeLabel(p.created_at))),
    source.canModerate() ? h('button', {
      type: 'button', class: 'link', 'aria-label': 'Unpin', title: 'Unpin',
      onclick: () => source.unpin(p.message_id).then(() => { view.list.changed(false); load(); }, toastError),
    }, 'Unpin') : null);

  load();
  return {
    el, title: 'Pinned messages', focus: () => listEl.querySelector('button')?.focus(),
    onOp: (op) => { if (op.type === 'pins') load(); }, destroy() {},
  };
}
