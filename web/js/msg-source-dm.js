// Data sources of conversations: a direct one with a user (dmSource) and a
// group DM (groupSource). Both read and write through the DM routes
// (docs/dm.md, docs/group-dms.md); their live events carry conversation_id
// and reach every socket of the members without a subscribe.
import { api } from './api.js';
import { live } from './live.js';
import { session } from './session.js';
import { cachedUser, rememberUser } from './users.js';
import { PAGE } from './msg-source-room.js';

const norm = (m) => ({
  id: m.id, seq: m.seq, author_id: m.sender_id, content: m.content ?? '',
  author: m.sender?.username || cachedUser(m.sender_id)?.username || '',
  edited: !!m.is_edited, deleted: !!m.is_deleted, created_at: m.created_at,
  updated_at: m.updated_at, conversation_id: m.conversation_id, system: false,
});

// What both kinds share; `st.conv` is the conversation id (null for a
// direct conversation that has no message yet).
function common(st, extra) {
  const me = session.user;
  const src = {
    me, norm,
    caps: { thread: false, pin: false, search: false, mentionGroups: false },
    get id() { return st.conv; },
    get members() { return st.members; },
    edit: (id, text) => api('PUT', '/api/dm/update', { message_id: id, content: text }).then(norm),
    remove: (id) => api('DELETE', '/api/dm/delete', { message_id: id }),
    react: (id, emoji) => api('POST', '/api/dm/reaction/add', { message_id: id, emoji }),
    unreact: (id, emoji) => api('DELETE', '/api/dm/reaction/remove', undefined, { message_id: id, emoji }),
    async reactions(id) {
      const by = new Map();
      for (const r of (await api('GET', '/api/dm/reactions', undefined, { message_id: id })) || []) {
        if (!by.has(r.emoji)) by.set(r.emoji, []);
        by.get(r.emoji).push(r.username);
      }
      return [...by].map(([emoji, users]) => ({ emoji, users }));
    },
    markRead: (m) => api('POST', '/api/dm/read', { message_id: m.id }),
    typing: (on) => st.conv && live.send({ type: on ? 'typing' : 'stop-typing', conversation_id: st.conv }),
    canModerate: () => false,
    canEdit: (m) => m.author_id === me.id && !m.deleted,
    canDelete: (m) => m.author_id === me.id && !m.deleted,
    canReact: () => !st.blocked && !st.gone,
    listen(emit) {
      const mine = (ev) => ev.conversation_id && (ev.conversation_id === st.conv || (!st.conv && st.adopt?.(ev)));
      const offs = Object.entries(handlers(emit, st)).map(([type, fn]) =>
        live.on(type, (ev) => { if (mine(ev)) fn(ev.payload || {}, ev); }));
      return () => offs.forEach((off) => off());
    },
  };
  // Copies getters as getters (a spread would read them once).
  return Object.defineProperties(src, Object.getOwnPropertyDescriptors(extra));
}

function handlers(emit, st) {
  const nameOf = (id) => st.members.find((u) => u.id === id)?.username ?? cachedUser(id)?.username;
  return {
    'dm-message': (p) => emit({ type: 'add', msg: norm(p) }),
    'dm-message-updated': (p) => emit({ type: 'update', msg: norm(p) }),
    'dm-message-deleted': (p) => emit({ type: 'delete', id: p.message_id ?? p.id }),
    'dm-reaction-added': (p) => emit({ type: 'react', id: p.message_id, emoji: p.emoji, username: p.username ?? nameOf(p.user_id), on: true }),
    'dm-reaction-removed': (p) => emit({ type: 'react', id: p.message_id, emoji: p.emoji, username: p.username ?? nameOf(p.user_id), on: false }),
    'dm-typing': (p, ev) => emit({ type: 'typing', user_id: p.user_id ?? ev.user_id, username: p.username, on: true }),
    'dm-stop-typing': (p, ev) => emit({ type: 'typing', user_id: p.user_id ?? ev.user_id, on: false }),
    'group-dm-updated': (p) => { st.group = { ...st.group, ...p }; emit({ type: 'info' }); },
    'group-dm-member-added': (p) => {
      st.members.push(rememberUser({ id: p.user_id, username: p.username }));
      emit({ type: 'info' });
    },
    'group-dm-member-removed': (p) => {
      st.members = st.members.filter((u) => u.id !== p.user_id);
      if (p.user_id === session.user.id) { st.gone = true; emit({ type: 'gone', reason: 'You are no longer in this group.' }); }
      emit({ type: 'info' });
    },
  };
}

// The direct conversation with peerId.
export function dmSource(peerId) {
  const me = session.user;
  const st = { conv: null, members: [me], peer: null, blocked: false, readSeq: 0 };
  st.adopt = (ev) => {
    const p = ev.payload || {};
    const pair = (p.sender_id === peerId && p.receiver_id === me.id) || (p.sender_id === me.id && p.receiver_id === peerId);
    if (ev.type === 'dm-message' && pair) { st.conv = ev.conversation_id; return true; }
    return false;
  };
  return common(st, {
    kind: 'dm', peerId,
    get peer() { return st.peer; },
    get blocked() { return st.blocked; },
    async init() {
      const [status, peer, block] = await Promise.all([
        api('GET', '/api/dm/read/status', undefined, { peer_id: peerId }).catch(() => null),
        api('GET', `/api/users/${encodeURIComponent(peerId)}`),
        api('GET', '/api/block/check', undefined, { user_id: peerId }).catch(() => ({ is_blocked: false })),
      ]);
      st.peer = rememberUser(peer);
      st.members = [me, st.peer];
      st.conv = status?.conversation_id ?? null;
      st.readSeq = status?.last_read_seq ?? 0;
      st.blocked = !!block?.is_blocked;
      return peer;
    },
    async load(before) {
      const list = await api('GET', '/api/dm/messages', undefined, { user_id: peerId, limit: PAGE, before });
      const items = (list || []).reverse().map(norm);
      if (!st.conv && items.length) st.conv = items[0].conversation_id;
      return { items, more: (list || []).length === PAGE };
    },
    async send(text) {
      const m = norm(await api('POST', '/api/dm/send', { receiver_id: peerId, content: text }));
      if (!st.conv) st.conv = m.conversation_id;
      return m;
    },
    readMark: async () => ({ afterSeq: st.readSeq }),
    async setBlocked(on) {
      if (on) await api('POST', '/api/block', { blocked_id: peerId });
      else await api('DELETE', '/api/block/unblock', undefined, { blocked_id: peerId });
      st.blocked = on;
    },
  });
}

// The group conversation groupId.
export function groupSource(groupId) {
  const st = { conv: groupId, members: [], group: null, gone: false };
  return common(st, {
    kind: 'group',
    get group() { return st.group; },
    async init() {
      let before;
      for (let page = 0; page < 10 && !st.group; page++) {
        const list = await api('GET', '/api/group-dms', undefined, { limit: 200, before });
        st.group = (list || []).find((g) => g.id === groupId) ?? null;
        if (!list?.length || list.length < 200) break;
        before = list[list.length - 1].id;
      }
      if (!st.group) throw Object.assign(new Error('Group DM not found'), { status: 404 });
      st.members = st.group.members.map((m) => rememberUser({
        id: m.user_id, username: m.username, display_name: m.display_name, avatar_url: m.avatar_url,
      }));
      return st.group;
    },
    async load(before) {
      const list = await api('GET', '/api/group-dm/messages', undefined, { group_dm_id: groupId, limit: PAGE, before });
      return { items: (list || []).reverse().map(norm), more: (list || []).length === PAGE };
    },
    send: (text) => api('POST', '/api/group-dm/message/send', { group_dm_id: groupId, content: text }).then(norm),
    readMark: async () => ({ unread: st.group?.unread_count ?? 0 }),
  });
}
