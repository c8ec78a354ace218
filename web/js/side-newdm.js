// "New message": find a user and open the conversation with them, or tick
// up to 9 users and start a group DM (POST /api/group-dm/create).
import { api } from './api.js';
import { h, replace } from './dom.js';
import { session } from './session.js';
import { dialog, field, toastError } from './ui.js';
import { displayName, rememberUser } from './users.js';
import { debounce } from './side-util.js';

const MAX_GROUP = 9;

export function openNewMessage() {
  const picked = new Map(); // id -> user
  const results = h('ul', { class: 'side-results', 'aria-label': 'Users found' });
  const input = h('input', { type: 'text', 'aria-label': 'Find a user', autocomplete: 'off', placeholder: 'Username' });
  const groupBox = h('div', { class: 'side-group', hidden: true });
  const body = h('div', { class: 'side-newdm' }, field('Find a user', input), results, groupBox);
  const close = () => body.closest('dialog')?.close();
  const go = (hash) => { close(); location.hash = hash; };
  let found = [];

  const showResults = () => replace(results, found.map((u) => h('li', { class: 'side-result' },
    h('button', { type: 'button', class: 'link', text: u.username, title: displayName(u),
      onclick: () => go(`#/dm/${u.id}`) }),
    h('input', { type: 'checkbox', 'aria-label': `Add ${u.username} to a group`,
      checked: picked.has(u.id), disabled: !picked.has(u.id) && picked.size >= MAX_GROUP,
      onchange: (e) => pick(u, e.target.checked) }))));

  const pick = (u, on) => {
    if (on) picked.set(u.id, u); else picked.delete(u.id);
    for (const box of results.querySelectorAll('input[type=checkbox]')) {
      box.disabled = !box.checked && picked.size >= MAX_GROUP;
    }
    showGroup();
  };

  const nameInput = h('input', { type: 'text', maxlength: '100', 'aria-label': 'Group name' });
  const showGroup = () => {
    groupBox.hidden = picked.size === 0;
    if (!nameInput.value || nameInput.dataset.auto) {
      nameInput.value = [...picked.values()].map((u) => u.username).join(', ').slice(0, 100);
      nameInput.dataset.auto = '1';
    }
    replace(groupBox,
      h('p', { text: `Group with ${[...picked.values()].map((u) => u.username).join(', ')}` }),
      field('Group name', nameInput),
      h('button', { type: 'button', class: 'primary', text: 'Create group', onclick: createGroup }));
  };
  nameInput.addEventListener('input', () => { delete nameInput.dataset.auto; });

  async function createGroup(e) {
    e.target.disabled = true;
    try {
      const g = await api('POST', '/api/group-dm/create', { name: nameInput.value.trim(), member_ids: [...picked.keys()] });
      go(`#/group/${g.id}`);
    } catch (err) { toastError(err); e.target.disabled = false; }
  }

  const search = debounce(async () => {
    const q = input.value.trim().toLowerCase();
    if (!q) { found = []; showResults(); return; }
    try {
      const users = await api('GET', '/api/users/search', undefined, { username: q });
      if (q !== input.value.trim().toLowerCase()) return;
      found = (users ?? []).filter((u) => u.id !== session.user?.id).map(rememberUser);
      showResults();
      if (!found.length) results.append(h('li', { class: 'side-empty', text: 'No user found.' }));
    } catch (err) { toastError(err); }
  }, 250);
  input.addEventListener('input', search);

  const shown = dialog('New message', body, [{ label: 'Close', value: undefined }]);
  input.focus();
  return shown;
}
