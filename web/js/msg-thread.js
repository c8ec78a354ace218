// The thread pane of a room message: the parent, its replies (live) and a
// reply box. The thread is created with the first reply.
//
//   const pane = threadPane(view, parentMsg); pane.el, pane.onOp(op), pane.destroy()
import { h, replace } from './dom.js';
import { composer } from './msg-composer.js';
import { editBox } from './msg-edit.js';
import { icon } from './msg-icons.js';
import { renderMarkdown } from './msg-markdown.js';
import { avatar, confirmDialog, timeLabel, toastError } from './ui.js';
import { cachedUser, displayName } from './users.js';

// One reply: its text, or the edit box while it is being edited; edit and
// delete buttons as acts allows ({edit(m), remove(m)}, each optional).
function entry(m, me, acts = {}, editing = null) {
  const user = cachedUser(m.user_id ?? m.author_id) ?? { id: m.user_id, username: m.username ?? m.author };
  const live = !m.is_deleted && !m.deleted;
  const button = (label, name, fn) => h('button', {
    type: 'button', class: 'msg-act', 'aria-label': label, title: label, onclick: () => fn(m),
  }, icon(name));
  let text;
  if (editing?.id === m.id) text = editBox(editing);
  else if (!live) text = h('div', { class: 'msg-text msg-gone', 'data-testid': 'message-text' }, 'This message was deleted.');
  else text = h('div', { class: 'msg-text', 'data-testid': 'message-text' }, renderMarkdown(m.content, { me: me.username }));
  return h('li', { class: 'thread-msg', 'data-testid': 'thread-message', 'data-id': m.id, 'data-author': m.username ?? m.author ?? '' },
    avatar(user, 28),
    h('div', { class: 'msg-main' },
      h('div', { class: 'msg-head' }, h('span', { class: 'msg-author' }, displayName(user)), timeLabel(m.created_at),
        m.is_edited && live ? h('span', { class: 'msg-edited', 'data-testid': 'edited' }, '(edited)') : null),
      text),
    live && acts.edit && !editing ? button('Edit reply', 'edit', acts.edit) : null,
    live && acts.remove ? button('Delete reply', 'trash', acts.remove) : null);
}

export function threadPane(view, parent) {
  const { source } = view;
  const me = source.me;
  let threadId = parent.thread?.id ?? null;
  const replies = new Map(); // id -> thread message
  const listEl = h('ol', { class: 'thread-list', 'aria-label': 'Replies' });
  const empty = h('p', { class: 'hint thread-empty' }, 'No replies yet.');
  const canDelete = (m) => m.user_id === me.id || source.canModerate();
  let editing = null; // {id, text, onInput, save, cancel} while a reply is edited
  const comp = composer({
    label: 'Reply', placeholder: 'Reply in thread…', send: reply,
    members: () => source.members, groups: false, self: me.id,
  });
  const el = h('section', { class: 'thread-pane', 'data-testid': 'thread', 'aria-label': 'Thread' },
    h('div', { class: 'pane-parent' }, entry({ ...parent, user_id: parent.author_id, username: parent.author, is_edited: parent.edited, is_deleted: parent.deleted }, me)),
    empty, listEl, comp.el);

  function render() {
    const all = [...replies.values()].sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
    replace(listEl, all.map((m) => entry(m, me, {
      edit: m.user_id === me.id ? startEdit : null,
      remove: canDelete(m) ? remove : null,
    }, editing)));
    empty.hidden = all.length > 0;
    if (!editing) listEl.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }

  function add(list) { for (const m of list || []) replies.set(m.id, m); render(); }

  async function load() {
    try {
      if (!threadId) threadId = (await source.thread(parent.id))?.id ?? null;
      if (threadId) add((await source.threadGet(threadId)).messages);
      else render();
    } catch (e) { toastError(e); }
  }

  async function reply(text) {
    if (threadId) { add([await source.threadPost(threadId, text)]); return; }
    try {
      const t = await source.threadCreate(parent.id, text);
      threadId = t.id;
      add(t.messages);
    } catch (e) {
      if (e.status !== 409) throw e;
      threadId = (await source.thread(parent.id))?.id;
      add([await source.threadPost(threadId, text)]);
    }
  }

  function startEdit(m) {
    const stop = () => { editing = null; render(); };
    editing = {
      id: m.id,
      text: m.content,
      label: 'Edit reply',
      onInput: (text) => { editing.text = text; },
      cancel: stop,
      save: async () => {
        const text = editing.text;
        if (!text.trim() || text === m.content) { stop(); return; }
        try {
          replies.set(m.id, await source.threadUpdate(m.id, text));
          stop();
        } catch (e) { toastError(e); }
      },
    };
    render();
  }

  async function remove(m) {
    if (!(await confirmDialog('Delete reply', 'Delete this reply for everyone?', 'Delete'))) return;
    try {
      await source.threadDelete(m.id);
      replies.set(m.id, { ...m, is_deleted: true, content: '' });
      render();
    } catch (e) { toastError(e); }
  }

  function onOp(op) {
    if (op.type === 'thread-created' && op.thread.parent_id === parent.id) { threadId = op.thread.id; add(op.thread.messages); }
    if (!threadId || op.msg?.thread_id !== threadId) return;
    if (op.type === 'thread-message' || op.type === 'thread-message-updated') add([op.msg]);
    if (op.type === 'thread-message-deleted') {
      const m = replies.get(op.msg.id);
      if (m) { replies.set(m.id, { ...m, is_deleted: true, content: '' }); render(); }
    }
  }

  load();
  return { el, title: 'Thread', onOp, focus: () => comp.focus(), destroy: comp.destroy };
}
