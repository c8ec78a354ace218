// My status at the foot of the sidebar: a dot and a select over the status
// API (docs/status-privacy.md): online, away, do not disturb, invisible.
import { api } from './api.js';
import { h } from './dom.js';
import { session } from './session.js';
import { presenceDot, toastError } from './ui.js';
import { displayName, setPresence } from './users.js';

const CHOICES = [['online', 'Online'], ['away', 'Away'], ['dnd', 'Do not disturb'], ['invisible', 'Invisible']];

export function mountStatusSection() {
  const select = h('select', { 'aria-label': 'My status', class: 'side-status-select' },
    CHOICES.map(([v, label]) => h('option', { value: v, text: label })));
  const dotBox = h('span', { class: 'side-status-dot' });
  let current = 'online';

  const show = (status) => {
    current = status;
    if (![...select.options].some((o) => o.value === status)) {
      select.append(h('option', { value: status, text: status }));
    }
    select.value = status;
    dotBox.replaceChildren(presenceDot(status));
  };

  select.addEventListener('change', async () => {
    const want = select.value;
    try {
      const s = await api('PUT', '/api/status/update', { status: want });
      show(s?.status ?? want);
      setPresence(session.user.id, want === 'invisible' ? 'offline' : want);
    } catch (e) {
      toastError(e);
      show(current);
    }
  });

  show(current);
  api('GET', '/api/status').then((s) => show(s?.status || 'online')).catch(() => {});
  return h('div', { class: 'side-status' }, dotBox,
    h('span', { class: 'side-status-name', text: displayName(session.user) }), select);
}
