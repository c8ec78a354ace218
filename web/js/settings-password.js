// Password change (POST /api/auth/password/change): the server's policy and
// messages; the other sessions end, this one stays.
import { api } from './api.js';
import { h } from './dom.js';
import { busy, field } from './ui.js';
import { say, section, statusLine } from './settings-ui.js';

const pw = (name, autocomplete) => h('input', { name, type: 'password', autocomplete, required: true, maxlength: 1024 });

export function passwordSection(bus) {
  const old = pw('old_password', 'current-password');
  const next = pw('new_password', 'new-password');
  const again = pw('confirm_password', 'new-password');
  const line = statusLine();
  const form = h('form', { class: 'settings-form' },
    field('Current password', old),
    field('New password', next, 'At least 8 characters with upper and lower case, a digit and a symbol.'),
    field('Confirm new password', again),
    h('p', { class: 'hint', text: 'Changing your password signs you out on every other device and browser; this one stays signed in.' }),
    line, h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Change password' })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (next.value !== again.value) {
      say(line, 'The new passwords do not match.');
      again.focus();
      return;
    }
    busy(form, async () => {
      try {
        await api('POST', '/api/auth/password/change', { old_password: old.value, new_password: next.value });
        form.reset();
        say(line, 'Password changed. Your other sessions have been signed out.', true);
        bus.emit('sessions');
      } catch (ex) {
        say(line, ex.message);
        (ex.code === 'invalid_password' ? old : next).focus();
      }
    });
  });
  return { el: section('password', 'Password', form) };
}
