// The message view shared by rooms, direct conversations and group DMs:
// the virtualised history, live updates, the composer, typing line, "New"
// divider, read marking and the row actions. What differs between the
// three is the source (msg-source-room.js, msg-source-dm.js):
//
//   source.init() -> info, load(before) -> {items (oldest first), more},
//   send(text), edit(id, text), remove(id), react/unreact(id, emoji),
//   reactions(id), thread(id) (rooms), readMark() -> {afterId|afterSeq|unread},
//   markRead(msg), typing(on), listen(emit) -> off, members, caps
//   {thread, pin, search, mentionGroups}, canModerate(), canEdit(m),
//   canDelete(m), canReact(), pinOf(id), pin(id), unpin(id), norm(raw).
//
//   const view = chatView(source, { onThread(msg), onInfo() });
//   await view.ready; view.jumpTo(id, seq); view.destroy();
import { h } from './dom.js';
import { rowActions } from './msg-actions.js';
import { composer } from './msg-composer.js';
import { detailsLoader } from './msg-details.js';
import { closeEmojiPicker } from './msg-emoji.js';
import { VirtualList } from './msg-list.js';
import { renderRow, rowSig } from './msg-row.js';
import { MessageStore } from './msg-store.js';
import { typingLine } from './msg-typing.js';
import { toast, toastError } from './ui.js';
import { cachedUser, displayName } from './users.js';

const JUMP_KEY = 'enclavr.jump';

// Asks the next view of that room or conversation to show a message.
export const jumpLater = (where, id, seq) => sessionStorage.setItem(JUMP_KEY, JSON.stringify({ where, id, seq }));

export function chatView(source, { onThread, onInfo, placeholder } = {}) {
  const me = source.me;
  const store = new MessageStore();
  const threads = new Map(); // thread id -> parent message id
  let more = true;
  let olderLoad = null;
  let ready = false;
  let buffered = [];
  let unseen = 0;
  let lastRead = null;
  let readTimer = 0;
  let pane = null;
  let readMark = null;
  let destroyed = false;
  let pauseUntil = 0; // after a failed page: no retry before then
  const ctx = {
    me, source, editing: null, version: 0, firstUnread: null,
    isFirstUnread: (m) => m.id === ctx.firstUnread,
  };

  const list = new VirtualList({
    keyOf: (m) => m.id,
    render: (m, prev) => renderRow(m, prev, ctx),
    sig: (m, prev) => { details.want(m); return rowSig(m, prev, ctx); },
    onTop: () => { loadOlder(); },
    onState: ({ atBottom }) => { if (atBottom) { unseen = 0; showJump(); markReadSoon(); } },
    label: 'Messages',
  });
  list.setItems(store.items);
  const details = detailsLoader({ source, store, threads, isShown: (id) => !!list.elementOf(id) });
  store.on('change', ({ structure }) => { list.changed(structure); markReadSoon(); });

  const typing = typingLine(me.id);
  const jump = h('button', { type: 'button', class: 'chat-jump', hidden: true, 'data-testid': 'jump-latest', onclick: () => list.scrollToBottom() });
  const status = h('div', { class: 'chat-status', role: 'status' });
  const announcer = h('div', { class: 'visually-hidden', 'aria-live': 'polite' });
  const comp = composer({
    label: 'Message', placeholder, send: sendText, typing: (on) => source.typing(on),
    members: () => source.members, groups: source.caps.mentionGroups, self: me.id,
    onEmptyUp: () => actions.editLastOwn(),
  });
  const el = h('section', { class: 'chat-main' },
    h('div', { class: 'chat-history' }, list.el, status, jump), announcer, typing.el, comp.el);

  const actions = rowActions({ store, list, source, ctx, details, composer: comp, onThread, deleted });
  const onVisible = () => markReadSoon();
  document.addEventListener('visibilitychange', onVisible);
  window.addEventListener('focus', onVisible);
  const offLive = source.listen((op) => (ready ? apply(op) : buffered.push(op)));

  const ready$ = start();

  async function start() {
    status.textContent = 'Loading messages…';
    const [info, page] = await Promise.all([source.init(), source.load()]);
    const mark = await source.readMark().catch(() => null);
    if (destroyed) return info;
    more = page.more;
    adopt(page.items);
    readMark = mark;
    placeDivider();
    ready = true;
    status.textContent = '';
    for (const op of buffered) apply(op);
    buffered = [];
    const pending = JSON.parse(sessionStorage.getItem(JUMP_KEY) || 'null');
    if (pending && pending.where === source.id) {
      sessionStorage.removeItem(JUMP_KEY);
      jumpTo(pending.id, pending.seq);
    } else if (ctx.firstUnread) {
      requestAnimationFrame(() => {
        list.update();
        if (list.visibleKeys().includes(ctx.firstUnread)) return;
        list.scrollToKey(ctx.firstUnread, 'start');
      });
    }
    return info;
  }

  // The "New" divider: before the first message of someone else after the
  // last one read (found in the pages loaded so far).
  function placeDivider() {
    const mark = readMark;
    if (!mark) return;
    const items = store.items;
    let after = null;
    if (mark.afterSeq !== undefined) after = mark.afterSeq;
    else if (mark.afterId) {
      const m = store.get(mark.afterId);
      after = m ? m.seq : (more && items.length ? items[0].seq - 1 : null);
      if (m) readMark = { afterSeq: m.seq };
    } else if (mark.unread) {
      let n = mark.unread;
      for (let i = items.length - 1; i >= 0 && n > 0; i--) {
        if (items[i].author_id !== me.id) { n--; after = items[i].seq - 1; }
      }
      readMark = null;
    }
    const first = after === null ? null : items.find((m) => m.seq > after && m.author_id !== me.id);
    ctx.firstUnread = first?.id ?? null;
    list.changed(false);
  }

  // A page into the store: the deleted have nothing beside them, and
  // threads that came with their messages are known by id.
  function adopt(items) {
    for (const m of items) {
      if (m.deleted) { m.reactions = new Map(); m.thread = null; }
      if (m.thread) threads.set(m.thread.id, m.id);
    }
    store.put(items);
  }

  function loadOlder() {
    if (!ready || !more || destroyed || Date.now() < pauseUntil) return olderLoad || Promise.resolve();
    if (olderLoad) return olderLoad;
    status.textContent = 'Loading older messages…';
    list.el.setAttribute('aria-busy', 'true');
    olderLoad = source.load(store.oldest?.id).then((page) => {
      more = page.more;
      adopt(page.items);
      if (readMark) placeDivider();
    }).catch((e) => { pauseUntil = Date.now() + 5000; toastError(e); })
      .finally(() => { olderLoad = null; status.textContent = ''; list.el.removeAttribute('aria-busy'); });
    return olderLoad;
  }

  // Live operations from the source.
  function apply(op) {
    switch (op.type) {
      case 'add': return added(op.msg);
      case 'update': if (store.get(op.msg.id)) store.put([op.msg]); return;
      case 'delete': return deleted(op.id);
      case 'react': return details.react(op);
      case 'typing': return typing.set(op.user_id, op.username, op.on);
      case 'pins': list.changed(false); break;
      case 'thread-created': {
        const t = op.thread;
        threads.set(t.id, t.parent_id);
        store.patch(t.parent_id, (m) => { m.thread = { id: t.id, count: (t.messages || []).length }; });
        break;
      }
      case 'thread-message':
      case 'thread-message-deleted': {
        const d = op.type === 'thread-message' ? 1 : -1;
        store.patch(threads.get(op.msg.thread_id), (m) => {
          if (!m.thread) return false;
          m.thread = { ...m.thread, count: Math.max(0, m.thread.count + d) };
        });
        break;
      }
      case 'perms': ctx.version++; list.changed(false); break;
      case 'gone': comp.disable(op.reason); ctx.version++; list.changed(false); break;
      case 'info': onInfo?.(); break;
      default: break;
    }
    pane?.onOp?.(op);
  }

  function added(m) {
    typing.stop(m.author_id);
    if (store.get(m.id)) { store.put([m]); return; }
    if (more && store.oldest && m.seq < store.oldest.seq) return;
    m.reactions = new Map();
    m.thread = null;
    const wasAtBottom = list.atBottom;
    store.put([m]);
    if (m.author_id === me.id) { list.scrollToBottom(); return; }
    if (!wasAtBottom) { unseen++; showJump(); }
    announcer.textContent = `${displayName(cachedUser(m.author_id) ?? { username: m.author })}: ${m.content.slice(0, 300)}`;
  }

  function deleted(id) {
    if (ctx.editing?.id === id) ctx.editing = null;
    store.patch(id, (m) => {
      if (m.deleted) return false;
      Object.assign(m, { deleted: true, content: '', reactions: new Map() });
    });
  }

  function showJump() {
    jump.hidden = unseen === 0 || list.atBottom;
    jump.textContent = unseen === 1 ? '1 new message ↓' : `${unseen} new messages ↓`;
  }

  function markReadSoon() {
    const m = store.newest;
    if (!ready || destroyed || !m || m.id === lastRead || !list.atBottom || document.visibilityState !== 'visible') return;
    clearTimeout(readTimer);
    readTimer = setTimeout(() => {
      const newest = store.newest;
      if (destroyed || !newest || newest.id === lastRead || !list.atBottom) return;
      lastRead = newest.id;
      source.markRead(newest).then(() => document.dispatchEvent(new CustomEvent('enclavr:read', {
        detail: { kind: source.kind, id: source.id, peer_id: source.peerId, message_id: newest.id },
      }))).catch(() => { lastRead = null; });
    }, 300);
  }

  async function sendText(text) {
    const m = await source.send(text);
    if (!store.get(m.id)) { m.reactions = new Map(); m.thread = null; }
    store.put([m]);
    list.scrollToBottom();
  }

  // Shows a message, loading older pages until it is there.
  async function jumpTo(id, seq) {
    await ready$;
    for (let i = 0; i < 200 && !store.get(id) && more; i++) {
      if (seq !== undefined && store.oldest && store.oldest.seq < seq) break;
      await loadOlder();
    }
    if (!store.get(id)) { toast('That message is no longer in the history.'); return false; }
    list.scrollToKey(id);
    const row = list.elementOf(id);
    if (row) {
      row.classList.add('msg-flash');
      row.focus({ preventScroll: true });
      setTimeout(() => row.classList.remove('msg-flash'), 2000);
    }
    return true;
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    offLive();
    comp.destroy();
    details.destroy();
    typing.destroy();
    list.destroy();
    closeEmojiPicker();
    clearTimeout(readTimer);
    document.removeEventListener('visibilitychange', onVisible);
    window.removeEventListener('focus', onVisible);
    if (window.__chatList === list) window.__chatList = null;
  }

  window.__chatList = list;
  list.loadOlder = loadOlder;
  list.hasMore = () => more;
  return {
    el, list, store, source, composer: comp, ready: ready$, jumpTo, destroy,
    setPane(p) { pane = p; },
  };
}
