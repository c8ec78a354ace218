// The sidebar's "Direct messages": 1:1 conversations and group DMs, newest
// first, each with the last message and the unread count the server keeps
// (docs/dm.md, docs/group-dms.md), raised live by dm-message events. The
// open conversation counts nothing; its view marks it read on the server.
import { api } from './api.js';
import { $, $$, h, replace } from './dom.js';
import { live } from './live.js';
import { session } from './session.js';
import { avatar } from './ui.js';
import { displayName, rememberUser, setPresence } from './users.js';
import { openNewMessage } from './side-newdm.js';
import { debounce, inPool, keepFocus, markCurrent, onRoute, routeOf, setUnread, userDot } from './side-util.js';

const convs = new Map(); // conversation id -> entry
let box = null;
let open = {};           // routeOf(): {peer} or {group}

const me = () => session.user?.id;

// {id, peerId?, name, user, preview, time, unread}
function fromDirect(c) {
  const user = rememberUser({ id: c.user_id, username: c.username, display_name: c.display_name, avatar_url: c.avatar_url });
  return { id: c.conversation_id, peerId: c.user_id, user, name: displayName(user),
    preview: c.last_message ?? '', time: c.last_time, unread: c.unread_count ?? 0 };
}

function fromGroup(g) {
  return { id: g.id, group: true, user: { id: g.id, display_name: g.name }, name: g.name,
    preview: g.last_message ?? '', time: g.last_time, unread: g.unread_count ?? 0 };
}

async function load() {
  const mounted = box;
  const [direct, grouped] = await Promise.all([
    api('GET', '/api/dm/conversations', undefined, { limit: 100 }),
    api('GET', '/api/group-dms', undefined, { limit: 100 }),
  ]);
  if (!mounted || box !== mounted) return; // signed out meanwhile
  convs.clear();
  for (const c of direct ?? []) convs.set(c.conversation_id, fromDirect(c));
  for (const g of grouped ?? []) convs.set(g.id, fromGroup(g));
  const current = [...convs.values()].find(isOpen);
  if (current?.unread) clearOpen(current);
  render();
}
const loadSoon = debounce(() => load().catch(() => {}), 400);

// Presence of the people I write to (403 after a block: offline).
function loadPresence() {
  const peers = [...convs.values()].filter((c) => c.peerId).slice(0, 30);
  inPool(peers.map((c) => async () => {
    const p = await api('GET', '/api/presence/user', undefined, { user_id: c.peerId });
    setPresence(c.peerId, p.status);
  }));
}

const isOpen = (c) => !!c && (c.peerId ? c.peerId === open.peer : c.group && c.id === open.group);

// The open conversation: nothing unread here. The chat view tells the
// server what was read (it knows when the newest message is on screen).
function clearOpen(c) {
  c.unread = 0;
  showUnread(c);
}

function showUnread(c) {
  const link = box && $(`a[data-key="${CSS.escape(c.id)}"]`, box);
  if (link) setUnread(link, c.unread);
}

function onMessage(ev) {
  const m = ev.payload ?? {};
  let c = convs.get(ev.conversation_id);
  if (!c) {
    if (m.group_dm_id || !m.sender || !m.receiver) { loadSoon(); return; }
    const peer = m.sender_id === me() ? m.receiver : m.sender;
    c = fromDirect({ conversation_id: ev.conversation_id, user_id: peer.id, username: peer.username,
      display_name: peer.display_name, avatar_url: peer.avatar_url, unread_count: 0 });
    convs.set(c.id, c);
  }
  c.preview = m.content ?? '';
  c.time = m.created_at ?? new Date().toISOString();
  if (m.sender_id !== me() && !isOpen(c)) c.unread += 1;
  render();
}

function onRemoved(ev) {
  if (ev.payload?.user_id !== me()) return;
  convs.delete(ev.conversation_id);
  render();
}

// Reads that come from elsewhere (another tab, the conversation view).
function onRead(ev) { if (ev.user_id === me()) loadSoon(); }

const newest = (a, b) => (Date.parse(b.time) || 0) - (Date.parse(a.time) || 0);

function convLink(c) {
  const a = h('a', {
    href: c.peerId ? `#/dm/${c.peerId}` : `#/group/${c.id}`, class: 'side-link side-dm',
    'data-testid': 'dm-link', 'data-key': c.id,
    'data-peer-id': c.peerId ?? null, 'data-conversation-id': c.group ? c.id : null,
  },
  h('span', { class: 'side-avatar' }, avatar(c.user, 28), c.peerId ? userDot(c.peerId) : null),
  h('span', { class: 'side-dm-text' },
    h('span', { class: 'side-name', text: c.name }),
    h('span', { class: 'side-preview', text: c.preview })));
  setUnread(a, c.unread);
  if (isOpen(c)) a.setAttribute('aria-current', 'page');
  return h('li', {}, a);
}

function render() {
  if (!box) return;
  const list = [...convs.values()].sort(newest);
  keepFocus(box, () => replace(box, list.length
    ? h('ul', { class: 'side-list' }, list.map(convLink))
    : h('p', { class: 'side-empty', text: 'No conversations yet.' })));
}

function route(r) {
  open = r;
  if (!box) return;
  markCurrent($$('a[data-key]', box), (a) => isOpen(convs.get(a.dataset.key)));
  const c = [...convs.values()].find(isOpen);
  if (c?.unread) clearOpen(c);
}

export function mountDmSection() {
  box = h('div', { class: 'side-dms' });
  open = routeOf();
  let connected = false;
  const offs = [
    onRoute(route),
    live.on('dm-message', onMessage),
    live.on('group-dm-member-removed', onRemoved),
    live.on('dm-message-read', onRead),
    live.on('dm-messages-read-all', onRead),
    ...['dm-message-updated', 'dm-message-deleted', 'group-dm-created', 'group-dm-updated']
      .map((t) => live.on(t, loadSoon)),
    // Missed while away: new conversations, and everyone's presence.
    live.on('reconnected', () => {
      if (connected) load().then(loadPresence).catch(() => {});
      connected = true;
    }),
  ];
  load().then(loadPresence).catch(() => replace(box, h('p', { class: 'side-empty', text: 'Conversations could not be loaded.' })));
  const section = h('section', { class: 'side-section', 'aria-labelledby': 'side-dms-h' },
    h('div', { class: 'side-head' },
      h('h2', { id: 'side-dms-h', class: 'side-h', text: 'Direct messages' }),
      h('button', { type: 'button', class: 'side-add', 'aria-label': 'New direct message',
        title: 'New direct message', onclick: openNewMessage }, '+')),
    box);
  return {
    section,
    cleanup() { offs.forEach((off) => off()); loadSoon.cancel(); convs.clear(); box = null; },
  };
}
