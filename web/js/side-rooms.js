// The sidebar's "Rooms": the rooms I belong to, by category, each a link
// with its unread count. Every joined room is watched on the live socket
// (at most 200), so its messages count while another view is open. The
// open room counts nothing; its view marks it read on the server (POST
// /api/message/read), which is where the counts start from after a reload
// (GET /api/message/read/last and the messages after it).
import { api } from './api.js';
import { $, $$, h, replace } from './dom.js';
import { live } from './live.js';
import { session } from './session.js';
import { toast } from './ui.js';
import { debounce, inPool, keepFocus, markCurrent, onRoute, routeOf, setUnread } from './side-util.js';

const MAX_WATCHED = 200;
const rooms = new Map();   // id -> room as GET /api/rooms has it (with my role)
const unread = new Map();  // id -> Set of unread message ids
let categories = [];
let box = null;
let openRoom = null;
let generation = 0;        // bumped by cleanup: late answers are dropped

export const isMember = (id) => rooms.has(id);
export const roomById = (id) => rooms.get(id) ?? null;

const me = () => session.user?.id;

// Reads my rooms and the categories again; new rooms get watched.
export async function refreshRooms() {
  const gen = generation;
  const [all, cats] = await Promise.all([api('GET', '/api/rooms'), api('GET', '/api/categories')]);
  if (gen !== generation) return;
  categories = cats ?? [];
  const mine = (all ?? []).filter((r) => r.role);
  const ids = new Set(mine.map((r) => r.id));
  for (const id of [...rooms.keys()]) if (!ids.has(id)) forget(id);
  const added = mine.filter((r) => !rooms.has(r.id)).map((r) => r.id);
  for (const r of mine) rooms.set(r.id, r);
  watch(added);
  render();
  await inPool(added.map((id) => () => loadUnread(id)));
}
const refreshSoon = debounce(() => refreshRooms().catch(() => {}), 300);

// Every joined room is watched, at most MAX_WATCHED (live.js paces the
// subscriptions under the socket's message rate).
function watch(ids) {
  let n = countWatched();
  for (const id of ids) if (n < MAX_WATCHED && !live.watching(id)) { live.watchRoom(id); n += 1; }
}
const countWatched = () => [...rooms.keys()].filter((id) => live.watching(id)).length;

function forget(id) {
  rooms.delete(id);
  unread.delete(id);
  live.unwatchRoom(id);
}

// Messages from others after my last read one (none read yet: nothing).
async function loadUnread(id) {
  if (id === openRoom) { clearOpen(); return; }
  const last = await api('GET', '/api/message/read/last', undefined, { room_id: id });
  if (!last?.message_id) return;
  const msgs = await api('GET', '/api/messages', undefined, { room_id: id, after: last.message_id, limit: 100 });
  if (id === openRoom || !rooms.has(id)) return;
  for (const m of msgs ?? []) if (countable(m)) unreadOf(id).add(m.id);
  showUnread(id);
}

const countable = (m) => m.user_id !== me() && !m.is_deleted && m.type !== 'system';

function unreadOf(id) {
  if (!unread.has(id)) unread.set(id, new Set());
  return unread.get(id);
}

function showUnread(id) {
  const link = box && $(`a[data-room-id="${CSS.escape(id)}"]`, box);
  if (link) setUnread(link, unread.get(id)?.size ?? 0);
}

// The open room: nothing unread here. The chat view tells the server what
// was read (it knows when the newest message is on screen).
function clearOpen() {
  const id = openRoom;
  if (!id || !rooms.has(id)) return;
  unread.set(id, new Set());
  showUnread(id);
}

function onMessage(ev) {
  const id = ev.room_id;
  if (!rooms.has(id) || !ev.payload?.id) return;
  if (!countable({ ...ev.payload, user_id: ev.user_id ?? ev.payload.user_id })) return;
  if (id === openRoom) return;
  unreadOf(id).add(ev.payload.id);
  showUnread(id);
}

function onDeleted(ev) {
  if (unread.get(ev.room_id)?.delete(ev.payload?.id)) showUnread(ev.room_id);
}

function onMemberLeft(ev) {
  const id = ev.room_id;
  if (ev.payload?.user_id !== me() || !rooms.has(id)) return;
  const name = rooms.get(id).name;
  forget(id);
  render();
  if (id === openRoom) {
    if (ev.payload.removed_by) toast(`You were removed from ${name}`);
    location.hash = '#/';
  }
}

function onRoleChanged(ev) {
  const r = rooms.get(ev.room_id);
  if (r && ev.payload?.user_id === me()) r.role = ev.payload.role;
}

function roomLink(r) {
  const a = h('a', {
    href: `#/room/${r.id}`, class: 'side-link', 'data-testid': 'room-link', 'data-room-id': r.id,
  }, r.is_private ? h('span', { class: 'side-hash' }, h('span', { class: 'side-lock', role: 'img', 'aria-label': 'private' }))
    : h('span', { class: 'side-hash', 'aria-hidden': 'true' }, '#'),
  h('span', { class: 'side-name', text: r.name }));
  setUnread(a, unread.get(r.id)?.size ?? 0);
  if (r.id === openRoom) a.setAttribute('aria-current', 'page');
  return h('li', {}, a);
}

const byName = (a, b) => a.name.localeCompare(b.name);

function groups() {
  const known = new Set(categories.map((c) => c.id));
  const list = [...rooms.values()].sort(byName);
  const out = [{ name: null, rooms: list.filter((r) => !known.has(r.category_id)) }];
  for (const c of categories) out.push({ name: c.name, rooms: list.filter((r) => r.category_id === c.id) });
  return out.filter((g) => g.rooms.length);
}

function render() {
  if (!box) return;
  keepFocus(box, () => {
    const gs = groups();
    replace(box, gs.length ? gs.map((g) => [
      g.name ? h('h3', { class: 'side-cat', text: g.name }) : null,
      h('ul', { class: 'side-list' }, g.rooms.map(roomLink)),
    ]) : h('p', { class: 'side-empty', text: 'No rooms yet.' }));
  });
}

function route(r) {
  openRoom = r.room ?? null;
  if (openRoom && !rooms.has(openRoom)) refreshSoon(); // joined in another tab?
  if (box) markCurrent($$('a[data-room-id]', box), (a) => a.dataset.roomId === openRoom);
  if (openRoom) clearOpen();
}

// The section; returns its cleanup (which forgets every room).
export function mountRoomsSection() {
  box = h('div', { class: 'side-rooms' });
  openRoom = routeOf().room ?? null;
  let connected = false;
  const onChanged = (e) => {
    if (e.detail?.left) { forget(e.detail.left); render(); }
    refreshSoon();
  };
  document.addEventListener('enclavr:rooms-changed', onChanged);
  const offs = [
    onRoute(route),
    live.on('chat-message', onMessage),
    live.on('message-deleted', onDeleted),
    live.on('member-left', onMemberLeft),
    live.on('member-role-changed', onRoleChanged),
    live.on('room-updated', refreshSoon),
    live.on('reconnected', () => { if (connected) refreshSoon(); connected = true; }),
    () => document.removeEventListener('enclavr:rooms-changed', onChanged),
  ];
  render();
  refreshRooms().catch(() => { replace(box, h('p', { class: 'side-empty', text: 'Rooms could not be loaded.' })); });
  const section = h('section', { class: 'side-section', 'aria-labelledby': 'side-rooms-h' },
    h('h2', { id: 'side-rooms-h', class: 'side-h', text: 'Rooms' }), box);
  return {
    section,
    cleanup() {
      offs.forEach((off) => off());
      refreshSoon.cancel();
      rooms.clear(); unread.clear();
      generation += 1;
      box = null;
    },
  };
}
