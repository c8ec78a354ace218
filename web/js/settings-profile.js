// Profile: display name and avatar address (PUT /api/user/update; an empty
// field leaves the value as it is, docs/auth.md).
import { api } from './api.js';
import { h } from './dom.js';
import { session } from './session.js';
import { busy, field } from './ui.js';
import { rememberUser } from './users.js';
import { say, section, statusLine } from './settings-ui.js';

export function profileSection() {
  const u = session.user || {};
  const name = h('input', { name: 'display_name', maxlength: 64, value: u.display_name || '', autocomplete: 'nickname' });
  const pic = h('input', { name: 'avatar_url', inputmode: 'url', maxlength: 512, value: u.avatar_url || '' });
  const line = statusLine();
  const form = h('form', { class: 'settings-form' },
    h('p', { class: 'hint', text: `Signed in as ${u.username}${u.email ? ` (${u.email})` : ''}.` }),
    field('Display name', name, 'Up to 64 characters; others see it instead of your username.'),
    field('Avatar URL', pic, 'An http(s) address or a path on this server. Leave empty to keep the current one.'),
    line, h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Save profile' })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      try {
        const user = await api('PUT', '/api/user/update', { display_name: name.value.trim(), avatar_url: pic.value.trim() });
        session.setUser(user);
        rememberUser(user);
        name.value = user.display_name || '';
        pic.value = user.avatar_url || '';
        say(line, 'Profile saved.', true);
      } catch (ex) { say(line, ex.message); }
    });
  });
  return { el: section('profile', 'Profile', form) };
}
