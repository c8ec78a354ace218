// The data source of a room's chat: REST calls and live events in the
// shape the shared view (msg-view.js) expects. See msg-view.js for the
// source contract; the DM and group sources are in msg-source-dm.js.
import { api } from './api.js';
import { reactionMap } from './msg-store.js';
import { live } from './live.js';
import { session } from './session.js';
import { cachedUser, rememberUser } from './users.js';

const RANK = { member: 1, moderator: 2, admin: 3, owner: 4 };
export const PAGE = 100;

// A history page carries each message's reactions and thread; a message
// from a send or an event does not (they stay undefined: fetched if shown).
const norm = (m) => ({
  id: m.id, seq: m.seq, author_id: m.user_id, author: m.username, content: m.content ?? '',
  edited: !!m.is_edited, deleted: !!m.is_deleted, created_at: m.created_at,
  updated_at: m.updated_at, system: m.type === 'system',
  reactions: Array.isArray(m.reactions) ? reactionMap(m.reactions) : undefined,
  thread: m.thread === undefined ? undefined : m.thread && { id: m.thread.id, count: m.thread.message_count },
});

export function roomSource(roomId) {
  const me = session.user;
  const st = {
    room: null, role: null, members: [],
    settings: { allow_message_edits: true, allow_reactions: true },
    pins: new Map(), // message id -> pin
  };
  const q = (extra) => ({ room_id: roomId, ...extra });
  const check = () => (st.checked ||= api('GET', '/api/room', undefined, { id: roomId }).then((r) => {
    if (!r.role && !me.is_admin) throw Object.assign(new Error('You are not a member of this room.'), { status: 403 });
    return r;
  }));

  const src = {
    kind: 'room', id: roomId, me, norm,
    caps: { thread: true, pin: true, search: true, mentionGroups: true },
    get room() { return st.room; },
    get members() { return st.members; },

    // The room first: a non-member gets one refusal, not one per route.
    // The read mark goes out at once (the sidebar marks an opened room read).
    async init() {
      const lastP = api('GET', '/api/message/read/last', undefined, q()).catch(() => null);
      const room = await check();
      const [last, settings, pins, members] = await Promise.all([
        lastP,
        api('GET', '/api/room/settings', undefined, q()).catch(() => null),
        api('GET', '/api/pinnedmessages', undefined, q()).catch(() => []),
        api('GET', '/api/room/members', undefined, q()).catch(() => []),
      ]);
      st.room = room;
      st.lastRead = last?.message_id ?? null;
      st.role = room.role ?? null;
      if (settings) st.settings = settings;
      for (const p of pins || []) st.pins.set(p.message_id, p);
      st.members = (members || []).map((m) => rememberUser({
        id: m.user_id, username: m.username, display_name: m.display_name, avatar_url: m.avatar_url,
      }));
      return room;
    },

    async load(before) {
      if (!before) await check();
      const list = await api('GET', '/api/messages', undefined, q({ limit: PAGE, before }));
      return { items: (list || []).reverse().map(norm), more: (list || []).length === PAGE };
    },
    send: (text) => api('POST', '/api/message/send', { room_id: roomId, content: text }).then(norm),
    edit: (id, text) => api('PUT', '/api/message/update', { content: text }, { message_id: id }).then(norm),
    remove: (id) => api('DELETE', '/api/message/delete', undefined, { message_id: id }),
    react: (id, emoji) => api('POST', '/api/reaction/add', { message_id: id, emoji }),
    unreact: (id, emoji) => api('DELETE', '/api/reaction/remove', undefined, { message_id: id, emoji }),
    async reactions(id) {
      const list = await api('GET', '/api/reactions', undefined, { message_id: id });
      return (list || []).map((r) => ({ emoji: r.emoji, users: r.users || [] }));
    },
    async thread(id) {
      const list = await api('GET', '/api/threads', undefined, { message_id: id });
      const t = list?.[0];
      return t ? { id: t.id, count: t.message_count } : null;
    },
    readMark: async () => ({ afterId: st.lastRead }),
    markRead: (m) => api('POST', '/api/message/read', { message_id: m.id, room_id: roomId }),
    typing: (on) => live.send({ type: on ? 'typing' : 'stop-typing', room_id: roomId }),

    canModerate: () => !!me.is_admin || (RANK[st.role] ?? 0) >= RANK.moderator,
    canEdit: (m) => m.author_id === me.id && !m.deleted && !m.system && st.settings.allow_message_edits !== false,
    canDelete: (m) => !m.deleted && (m.author_id === me.id || src.canModerate()),
    canReact: () => st.settings.allow_reactions !== false && st.role !== null,
    pinOf: (id) => st.pins.get(id),
    pinned: () => api('GET', '/api/pinnedmessages', undefined, q()),
    async pin(id) {
      const p = await api('POST', '/api/pinnedmessage/pin', { message_id: id }, q());
      st.pins.set(id, p);
    },
    async unpin(id) {
      const p = st.pins.get(id);
      if (!p) return;
      await api('DELETE', '/api/pinnedmessage/unpin', undefined, { pin_id: p.id });
      st.pins.delete(id);
    },

    // Thread routes (the thread pane).
    threadGet: (threadId) => api('GET', '/api/thread', undefined, { thread_id: threadId }),
    threadCreate: (parentId, content) => api('POST', '/api/thread/create', { parent_id: parentId, room_id: roomId, content }),
    threadPost: (threadId, content) => api('POST', '/api/thread/message', { content }, { thread_id: threadId }),
    threadUpdate: (id, content) => api('PUT', '/api/thread/message/update', { content }, { message_id: id }),
    threadDelete: (id) => api('DELETE', '/api/thread/message/delete', undefined, { message_id: id }),

    // Live events of this room, as view operations.
    listen(emit) {
      live.watchRoom(roomId);
      const offs = Object.entries(handlers(emit)).map(([type, fn]) =>
        live.on(type, (ev) => { if (ev.room_id === roomId) fn(ev.payload || {}, ev); }));
      return () => offs.forEach((off) => off());
    },
  };

  function handlers(emit) {
    return {
      'chat-message': (p) => emit({ type: 'add', msg: norm(p) }),
      'message-updated': (p) => emit({ type: 'update', msg: norm(p) }),
      'message-deleted': (p) => emit({ type: 'delete', id: p.id }),
      'reaction-added': (p) => emit({ type: 'react', id: p.message_id, emoji: p.emoji, username: p.username, on: true }),
      'reaction-removed': (p) => emit({
        type: 'react', id: p.message_id, emoji: p.emoji, on: false,
        username: p.username ?? cachedUser(p.user_id)?.username,
      }),
      'message-pinned': (p) => { st.pins.set(p.message_id, p); emit({ type: 'pins', id: p.message_id }); },
      'message-unpinned': (p) => {
        const id = p.message_id ?? [...st.pins].find(([, x]) => x.id === p.id)?.[0];
        st.pins.delete(id);
        emit({ type: 'pins', id });
      },
      'thread-created': (p) => emit({ type: 'thread-created', thread: p }),
      'thread-message': (p) => emit({ type: 'thread-message', msg: p }),
      'thread-message-updated': (p) => emit({ type: 'thread-message-updated', msg: p }),
      'thread-message-deleted': (p) => emit({ type: 'thread-message-deleted', msg: p }),
      'user-typing': (p, ev) => emit({ type: 'typing', user_id: p.user_id ?? ev.user_id, username: p.username, on: true }),
      'user-stopped-typing': (p, ev) => emit({ type: 'typing', user_id: p.user_id ?? ev.user_id, on: false }),
      'member-joined': (p) => {
        if (p.user_id && !st.members.some((u) => u.id === p.user_id)) {
          st.members.push(rememberUser({ id: p.user_id, username: p.username, display_name: p.display_name }));
        }
      },
      'member-role-changed': (p) => { if (p.user_id === me.id) { st.role = p.role; emit({ type: 'perms' }); } },
      'member-left': (p, ev) => {
        const who = p.user_id ?? ev.target_user_id ?? ev.user_id;
        if (who === me.id) { st.role = null; emit({ type: 'gone', reason: 'You are no longer a member of this room.' }); }
      },
      'room-updated': (p) => {
        if ('allow_message_edits' in p || 'allow_reactions' in p) Object.assign(st.settings, p);
        emit({ type: 'perms' });
      },
    };
  }
  return src;
}
