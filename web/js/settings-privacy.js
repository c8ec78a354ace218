// Privacy (docs/status-privacy.md): who may reach you, and whether others
// see you online.
import { api } from './api.js';
import { h } from './dom.js';
import { busy, field } from './ui.js';
import { say, section, statusLine } from './settings-ui.js';

const WHO = [['everyone', 'Everyone'], ['friends', 'Friends only'], ['none', 'No one']];
const REACH = [
  ['allow_direct_messages', 'Who can send you direct messages'],
  ['allow_group_invites', 'Who can add you to group conversations'],
  ['allow_friend_requests', 'Who can send you friend requests'],
];

export function privacySection() {
  const selects = Object.fromEntries(REACH.map(([k]) => [k, h('select', { name: k },
    WHO.map(([v, t]) => h('option', { value: v, text: t })))]));
  const online = h('input', { type: 'checkbox', name: 'show_online_status', id: 'show-online' });
  const line = statusLine();
  const form = h('form', { class: 'settings-form' },
    REACH.map(([k, label]) => field(label, selects[k])),
    h('div', { class: 'check' }, online, h('label', { for: 'show-online', text: 'Show others when I am online' })),
    line, h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Save privacy settings' })));

  const show = (p) => {
    for (const [k] of REACH) selects[k].value = p[k] ?? 'everyone';
    online.checked = p.show_online_status !== false;
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      try {
        const body = Object.fromEntries(REACH.map(([k]) => [k, selects[k].value]));
        body.show_online_status = online.checked;
        show(await api('PUT', '/api/privacy/update', body));
        say(line, 'Privacy settings saved.', true);
      } catch (ex) { say(line, ex.message); }
    });
  });

  api('GET', '/api/privacy').then(show).catch((e) => say(line, e.message));
  return { el: section('privacy', 'Privacy', form) };
}
