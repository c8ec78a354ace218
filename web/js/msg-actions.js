// What the buttons of a message row do (react, thread, edit, pin, delete),
// inline editing, and the keyboard in the list: ArrowUp/Down move between
// rows; a focused row lets Tab reach its buttons. One listener each, on
// the list element (rows are created and dropped as it scrolls).
//
//   const actions = rowActions({ store, list, source, ctx, details, composer, onThread, deleted });
//   actions.startEdit(m), actions.editLastOwn()  (ctx.saveEdit/cancelEdit are set here)
import { charCount, MAX_CHARS } from './msg-composer.js';
import { pickEmoji } from './msg-emoji.js';
import { confirmDialog, toast, toastError } from './ui.js';

const ROW = '[data-testid="message"]';

export function rowActions({ store, list, source, ctx, details, composer, onThread, deleted }) {
  const me = source.me;

  function onClick(e) {
    const b = e.target.closest('[data-action]');
    const row = b?.closest(ROW);
    const m = row && store.get(row.dataset.id);
    if (!m) return;
    const act = {
      react: () => pickEmoji(b).then((emoji) => emoji && setMyReaction(m, emoji, true)),
      'toggle-reaction': () => setMyReaction(m, b.dataset.emoji, !m.reactions?.get(b.dataset.emoji)?.has(me.username)),
      thread: () => onThread?.(m),
      edit: () => startEdit(m),
      pin: () => source.pin(m.id).then(() => list.changed(false), pinError),
      unpin: () => source.unpin(m.id).then(() => list.changed(false), toastError),
      delete: () => removeMessage(m),
    }[b.dataset.action];
    act?.();
  }

  function pinError(e) { if (e.status === 409) toast('That message is already pinned.'); else toastError(e); }

  async function setMyReaction(m, emoji, on) {
    try {
      if (on) await source.react(m.id, emoji); else await source.unreact(m.id, emoji);
    } catch (e) {
      // 409: reacted already; 404 on removal: removed already.
      if (!(on && e.status === 409) && !(!on && e.status === 404)) { toastError(e); return; }
    }
    details.react({ id: m.id, emoji, username: me.username, on });
  }

  async function removeMessage(m) {
    const ok = await confirmDialog('Delete message', 'Delete this message for everyone? This cannot be undone.', 'Delete');
    if (!ok) return;
    try { await source.remove(m.id); deleted(m.id); } catch (e) { toastError(e); }
  }

  function startEdit(m) {
    if (!source.canEdit(m)) return;
    ctx.editing = { id: m.id, text: m.content };
    list.changed(false);
    list.ensureVisible(m.id);
  }

  function editLastOwn() {
    for (let i = store.items.length - 1; i >= 0; i--) {
      const m = store.items[i];
      if (m.author_id === me.id && source.canEdit(m)) { startEdit(m); return; }
    }
  }

  function cancelEdit() {
    ctx.editing = null;
    list.changed(false);
    composer.focus();
  }

  async function saveEdit() {
    const ed = ctx.editing;
    if (!ed) return;
    const m = store.get(ed.id);
    if (!m || ed.text === m.content) { cancelEdit(); return; }
    if (!ed.text.trim()) { toast('A message cannot be empty; delete it instead.', 'error'); return; }
    if (charCount(ed.text) > MAX_CHARS) { toast(`A message has at most ${MAX_CHARS} characters.`, 'error'); return; }
    try {
      store.put([await source.edit(ed.id, ed.text)]);
      if (ctx.editing === ed) cancelEdit();
    } catch (e) { toastError(e); }
  }

  function onKey(e) {
    if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
    if (e.target.matches('textarea, input')) return;
    const row = e.target.closest(ROW);
    const vis = list.visibleKeys();
    let i = row ? list.index.get(row.dataset.id) : list.index.get(e.key === 'ArrowUp' ? vis[vis.length - 1] : vis[0]);
    if (i === undefined) return;
    if (row) i += e.key === 'ArrowUp' ? -1 : 1;
    const m = store.items[i];
    if (!m) return;
    e.preventDefault();
    list.ensureVisible(m.id);
    list.elementOf(m.id)?.focus({ preventScroll: true });
  }

  // Buttons of rows are out of the Tab order but for the focused row's.
  function rowButtons(target, tabIndex) {
    const row = target.closest?.(ROW);
    if (row) for (const b of row.querySelectorAll('button')) b.tabIndex = tabIndex;
  }

  list.el.addEventListener('click', onClick);
  list.el.addEventListener('keydown', onKey);
  list.el.addEventListener('focusin', (e) => rowButtons(e.target, 0));
  list.el.addEventListener('focusout', (e) => {
    const row = e.target.closest?.(ROW);
    if (row && !row.contains(e.relatedTarget)) rowButtons(row, -1);
  });
  ctx.saveEdit = saveEdit;
  ctx.cancelEdit = cancelEdit;
  return { startEdit, editLastOwn };
}
