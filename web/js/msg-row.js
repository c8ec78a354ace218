// One message row of the list: day and "New" dividers, avatar, author,
// time, edited marker, the text (msg-markdown.js), reaction chips, the
// thread link and the action buttons. Buttons carry data-action; the view
// handles their clicks once, on the list (rows are created and dropped as
// the list scrolls).
//
// ctx (from the view): me, source, editing ({id, text} | null), version,
// isFirstUnread(m, prev).
import { h } from './dom.js';
import { editBox } from './msg-edit.js';
import { icon } from './msg-icons.js';
import { renderMarkdown, mentionsMe } from './msg-markdown.js';
import { avatar, timeLabel } from './ui.js';
import { cachedUser, displayName } from './users.js';

const GROUP_MS = 5 * 60 * 1000;
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const clockFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayOf = (ts) => new Date(ts).toDateString();

const newDay = (m, prev) => !prev || dayOf(prev.created_at) !== dayOf(m.created_at);

function compact(m, prev, ctx) {
  return !!prev && prev.author_id === m.author_id && !prev.system && !m.system && !m.edited
    && !newDay(m, prev) && !ctx.isFirstUnread(m, prev)
    && Date.parse(m.created_at) - Date.parse(prev.created_at) < GROUP_MS;
}

// Everything the row's look depends on: a changed sig re-renders the row.
export function rowSig(m, prev, ctx) {
  const pinned = ctx.source.pinOf?.(m.id) ? 1 : 0;
  const editing = ctx.editing?.id === m.id ? 1 : 0;
  return `${m.rev}|${compact(m, prev, ctx) ? 1 : 0}|${newDay(m, prev) ? 1 : 0}|${ctx.isFirstUnread(m, prev) ? 1 : 0}|${pinned}|${editing}|${ctx.version}`;
}

const authorOf = (m) => cachedUser(m.author_id) ?? { id: m.author_id, username: m.author };

function actionButton(action, label, name) {
  return h('button', { type: 'button', class: 'msg-act', 'data-action': action, 'aria-label': label, title: label, tabindex: '-1' }, icon(name));
}

function actions(m, ctx) {
  const s = ctx.source;
  if (m.deleted) return null;
  const pinned = s.pinOf?.(m.id);
  return h('div', { class: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions' },
    s.canReact() ? actionButton('react', 'Add reaction', 'smile') : null,
    s.caps.thread ? actionButton('thread', 'Reply in thread', 'thread') : null,
    s.canEdit(m) ? actionButton('edit', 'Edit message', 'edit') : null,
    s.caps.pin && s.canModerate() ? actionButton(pinned ? 'unpin' : 'pin', pinned ? 'Unpin message' : 'Pin message', pinned ? 'unpin' : 'pin') : null,
    s.canDelete(m) ? actionButton('delete', 'Delete message', 'trash') : null);
}

export function reactionChips(m, me) {
  if (!m.reactions || !m.reactions.size) return null;
  const chips = [];
  for (const [emoji, users] of m.reactions) {
    if (!users.size) continue;
    const mine = users.has(me.username);
    const who = [...users].join(', ');
    chips.push(h('button', {
      type: 'button', class: 'reaction', 'data-testid': 'reaction', 'data-emoji': emoji,
      'data-action': 'toggle-reaction', 'aria-pressed': mine ? 'true' : 'false', tabindex: '-1',
      'aria-label': `${emoji} ${users.size}: ${who}${mine ? ' (you reacted)' : ''}`, title: who,
    }, h('span', { class: 'reaction-emoji' }, emoji), h('span', { class: 'reaction-count' }, String(users.size))));
  }
  return chips.length ? h('div', { class: 'msg-reactions' }, chips) : null;
}

function editForm(m, ctx) {
  return editBox({
    text: ctx.editing.text,
    onInput: (text) => { ctx.editing.text = text; },
    save: () => ctx.saveEdit(),
    cancel: () => ctx.cancelEdit(),
  });
}

function body(m, ctx) {
  if (ctx.editing?.id === m.id) return editForm(m, ctx);
  if (m.deleted) return h('div', { class: 'msg-text msg-gone', 'data-testid': 'message-text' }, 'This message was deleted.');
  return h('div', { class: 'msg-text', 'data-testid': 'message-text' }, renderMarkdown(m.content, { me: ctx.me.username }));
}

function threadLink(m) {
  const n = m.thread?.count ?? 0;
  if (!n) return null;
  return h('button', { type: 'button', class: 'link msg-thread-link', 'data-action': 'thread', tabindex: '-1' },
    `${n} ${n === 1 ? 'reply' : 'replies'}`);
}

export function renderRow(m, prev, ctx) {
  const user = authorOf(m);
  const name = displayName(user);
  const isCompact = compact(m, prev, ctx);
  const mine = m.author_id === ctx.me.id;
  const cls = ['msg', isCompact && 'msg-compact', mine && 'msg-mine', m.system && 'msg-system',
    !mine && !m.deleted && mentionsMe(m.content, ctx.me.username) && 'msg-mention',
    ctx.editing?.id === m.id && 'msg-editing'].filter(Boolean).join(' ');
  return h('div', {
    class: cls, 'data-testid': 'message', 'data-id': m.id, 'data-author': m.author || '',
    tabindex: '-1', role: 'article', 'aria-label': `Message from ${name}`,
  },
  newDay(m, prev) ? h('div', { class: 'msg-day', role: 'separator' }, h('span', {}, dayFmt.format(new Date(m.created_at)))) : null,
  ctx.isFirstUnread(m, prev) ? h('div', { class: 'msg-new', role: 'separator', 'data-testid': 'unread-divider' }, h('span', {}, 'New')) : null,
  h('div', { class: 'msg-row' },
    isCompact ? h('time', { class: 'msg-gutter', datetime: m.created_at, title: fullFmt.format(new Date(m.created_at)) }, clockFmt.format(new Date(m.created_at))) : avatar(user, 36),
    h('div', { class: 'msg-main' },
      isCompact ? null : h('div', { class: 'msg-head' },
        h('span', { class: 'msg-author', title: `@${m.author || ''}` }, name),
        timeLabel(m.created_at),
        m.edited && !m.deleted ? h('span', { class: 'msg-edited', 'data-testid': 'edited', title: `Edited ${fullFmt.format(new Date(m.updated_at))}` }, '(edited)') : null),
      body(m, ctx),
      m.deleted ? null : reactionChips(m, ctx.me),
      threadLink(m)),
    actions(m, ctx)));
}
