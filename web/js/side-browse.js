// #/browse: the rooms I can see (public ones and my private ones), a search,
// joining (with a password when the room has one), creating a room, and
// for administrators creating a category.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { session } from './session.js';
import { busy, dialog, field, toast, toastError } from './ui.js';
import { debounce, roomsChanged } from './side-util.js';
import { isMember, refreshRooms } from './side-rooms.js';

// A labelled control: visible label and the same aria-label.
const labelled = (label, tag, attrs = {}, ...kids) => field(label, h(tag, { 'aria-label': label, ...attrs }, ...kids));

async function openRoom(id) {
  roomsChanged();
  await refreshRooms().catch(() => {});
  location.hash = `#/room/${id}`;
}

function askPassword(room, error) {
  const input = h('input', { type: 'password', 'aria-label': 'Room password', autocomplete: 'off' });
  const body = h('div', {},
    h('p', { text: `${room.name} needs a password.` }),
    field('Room password', input),
    error ? h('p', { class: 'form-error', role: 'alert', text: error }) : null);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); body.closest('dialog')?.querySelector('button.primary')?.click(); }
  });
  const answer = dialog('Join room', body, [{ label: 'Cancel', value: false }, { label: 'Join', value: true, primary: true }]);
  input.focus();
  return answer.then((ok) => (ok ? input.value : undefined));
}

// Joins, asking for the password as long as the server says it is wrong.
async function join(room, rowError) {
  let password;
  for (;;) {
    try {
      await api('POST', '/api/room/join', password === undefined ? { room_id: room.id } : { room_id: room.id, password });
      break;
    } catch (e) {
      if (e.code === 'invalid_password') {
        password = await askPassword(room, password === undefined ? '' : e.message);
        if (password === undefined) return;
        continue;
      }
      if (e.status === 409) break; // already a member
      rowError.textContent = e.message;
      toastError(e);
      return;
    }
  }
  await openRoom(room.id);
}

function roomRow(r) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const member = r.role || isMember(r.id);
  const nameId = `browse-${r.id}`;
  const users = `${r.user_count ?? '?'} member${r.user_count === 1 ? '' : 's'}${r.max_users ? ` of ${r.max_users}` : ''}`;
  return h('li', { class: 'browse-row', 'data-testid': 'room-row', 'data-room-id': r.id },
    h('div', { class: 'browse-info' },
      h('strong', { class: 'browse-name', id: nameId, text: r.name }),
      r.is_private ? h('span', { class: 'browse-tag', text: 'private' }) : null,
      r.description ? h('p', { class: 'browse-desc', text: r.description }) : null,
      h('small', { class: 'hint', text: users }), error),
    member
      ? h('a', { class: 'button', href: `#/room/${r.id}`, text: 'Open', 'aria-describedby': nameId })
      : h('button', { type: 'button', class: 'primary', text: 'Join', 'aria-describedby': nameId,
        onclick: (e) => { e.target.disabled = true; join(r, error).finally(() => { e.target.disabled = false; }); } }));
}

function roomList() {
  const list = h('ul', { class: 'browse-list', 'aria-live': 'polite' });
  const input = h('input', { type: 'search', 'aria-label': 'Search rooms', placeholder: 'Search rooms', maxlength: '100' });
  let asked = 0;
  const load = async () => {
    const q = input.value.trim();
    const n = ++asked;
    try {
      const rooms = q ? (await api('GET', '/api/rooms/search', undefined, { q, limit: 50 })).rooms
        : await api('GET', '/api/rooms');
      if (n !== asked) return;
      const sorted = q ? rooms : [...(rooms ?? [])].sort((a, b) => a.name.localeCompare(b.name));
      replace(list, sorted?.length ? sorted.map(roomRow) : h('li', { class: 'side-empty', text: 'No rooms found.' }));
    } catch (e) { if (n === asked) replace(list, h('li', { class: 'form-error', text: e.message })); }
  };
  input.addEventListener('input', debounce(load, 250));
  load();
  return h('section', { class: 'browse-part', 'aria-labelledby': 'browse-rooms-h' },
    h('h2', { id: 'browse-rooms-h', text: 'Rooms' }), input, list);
}

function categoryOptions(select, cats) {
  replace(select, h('option', { value: '', text: 'No category' }),
    cats.map((c) => h('option', { value: c.id, text: c.name })));
}

function createRoomForm(categorySelect) {
  const name = labelled('Room name', 'input', { required: true, maxlength: '100', autocomplete: 'off' });
  const desc = labelled('Description', 'input', { maxlength: '500', autocomplete: 'off' });
  const vis = labelled('Visibility', 'select', {},
    h('option', { value: 'public', text: 'Public' }), h('option', { value: 'private', text: 'Private (unlisted)' }),
    h('option', { value: 'password', text: 'Password protected' }));
  const pw = labelled('Password', 'input', { type: 'password', maxlength: '128', autocomplete: 'new-password' });
  const max = labelled('Max users', 'input', { type: 'number', min: '1', max: '100000', value: '50' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const value = (f) => f.querySelector('input, select').value;
  const showPw = () => { pw.hidden = value(vis) !== 'password'; };
  vis.addEventListener('change', showPw);
  showPw();
  const form = h('form', { class: 'browse-form', novalidate: true },
    name, desc, field('Category', categorySelect), vis, pw, max, error,
    h('button', { type: 'submit', class: 'primary', text: 'Create room' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    const v = value(vis);
    if (!value(name).trim()) { error.textContent = 'Enter a room name.'; return; }
    if (v === 'password' && !value(pw)) { error.textContent = 'Enter a password.'; return; }
    const body = {
      name: value(name).trim(), description: value(desc), is_private: v === 'private',
      max_users: Number(value(max)) || 50, category_id: categorySelect.value || undefined,
      password: v === 'password' ? value(pw) : undefined,
    };
    busy(form, async () => {
      try { const room = await api('POST', '/api/room/create', body); await openRoom(room.id); } catch (err) { error.textContent = err.message; }
    });
  });
  return h('section', { class: 'browse-part', 'aria-labelledby': 'browse-create-h' },
    h('h2', { id: 'browse-create-h', text: 'Create a room' }), form);
}

// Administrators: "New category" opens a small dialog (kept out of the page
// so that the create form's "Category" select is the only such label).
function newCategoryButton(onCreated) {
  const ask = async () => {
    const input = h('input', { type: 'text', maxlength: '100', 'aria-label': 'Category name', autocomplete: 'off' });
    const body = field('Category name', input);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); body.closest('dialog')?.querySelector('button.primary')?.click(); }
    });
    const shown = dialog('New category', body, [{ label: 'Cancel', value: false }, { label: 'Create category', value: true, primary: true }]);
    input.focus();
    const name = (await shown) ? input.value.trim() : '';
    if (!name) return;
    try {
      await api('POST', '/api/category/create', { name });
      toast(`Category ${name} created`);
      onCreated();
    } catch (err) { toastError(err); }
  };
  return h('p', {}, h('button', { type: 'button', text: 'New category', onclick: ask }));
}

export function mountBrowse(el) {
  const categorySelect = h('select', { 'aria-label': 'Category' });
  const loadCategories = () => api('GET', '/api/categories')
    .then((cats) => categoryOptions(categorySelect, cats ?? [])).catch(() => {});
  categoryOptions(categorySelect, []);
  loadCategories();
  roomsChanged(); // the sidebar catches up with rooms joined elsewhere
  replace(el, h('section', { class: 'browse' },
    h('h1', { text: 'Browse rooms' }),
    h('div', { class: 'browse-grid' }, roomList(),
      h('div', { class: 'browse-side' }, createRoomForm(categorySelect),
        session.user?.is_admin ? newCategoryButton(() => { loadCategories(); roomsChanged(); }) : null))));
  return () => {};
}
