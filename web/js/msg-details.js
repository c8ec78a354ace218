// What a message page does not carry: its reactions and its thread. They
// are fetched lazily, for the rows that stay on screen, a few at a time, so
// that scrolling through a long history costs no requests.
//
// Reaction events that arrive before a message's reactions are known are
// kept and applied, in order, on top of the fetched list: adding or
// removing a user from a set is idempotent, so an event the fetch already
// reflects changes nothing.
import { reactionMap } from './msg-store.js';

const PARALLEL = 6;
const DELAY_MS = 150;

export function setReaction(map, emoji, username, on) {
  const users = map.get(emoji);
  if (on) {
    if (users?.has(username)) return false;
    if (users) users.add(username); else map.set(emoji, new Set([username]));
    return true;
  }
  if (!users?.has(username)) return false;
  users.delete(username);
  if (!users.size) map.delete(emoji);
  return true;
}

export function detailsLoader({ source, store, isShown, threads }) {
  const queue = new Set();
  let active = 0;
  let timer = 0;
  let dead = false;
  const needsThread = (m) => source.caps.thread && m.thread === undefined;

  function want(m) {
    if (m.deleted || m.fetching || (m.reactions !== undefined && !needsThread(m))) return;
    queue.add(m.id);
    if (!timer) timer = setTimeout(pump, DELAY_MS);
  }

  function pump() {
    timer = 0;
    for (const id of queue) {
      if (active >= PARALLEL || dead) break;
      queue.delete(id);
      const m = store.get(id);
      if (m && !m.fetching && isShown(id)) fetch(m);
    }
  }

  async function fetch(m) {
    active++;
    m.fetching = true;
    const needR = m.reactions === undefined;
    const needT = needsThread(m);
    try {
      const [r, t] = await Promise.all([needR ? source.reactions(m.id) : null, needT ? source.thread(m.id) : null]);
      if (dead) return;
      store.patch(m.id, (x) => {
        if (needR) x.reactions = reactionMap(r);
        if (needT) { x.thread = t; if (t) threads.set(t.id, x.id); }
        applyPending(x);
      });
    } catch {
      // Gone or refused: show none rather than asking again.
      if (needR && m.reactions === undefined) m.reactions = new Map();
      if (needT && m.thread === undefined) m.thread = null;
      applyPending(m);
    } finally {
      m.fetching = false;
      active--;
      if (queue.size && !timer && !dead) timer = setTimeout(pump, DELAY_MS);
    }
  }

  function applyPending(m) {
    for (const op of m.pending || []) setReaction(m.reactions, op.emoji, op.username, op.on);
    m.pending = null;
  }

  // A reaction event: applied now, or kept until the reactions are known.
  function react(op) {
    store.patch(op.id, (m) => {
      if (!op.username) { if (!m.fetching) { m.reactions = undefined; want(m); } return false; }
      if (m.reactions === undefined) { (m.pending ||= []).push(op); want(m); return false; }
      if (m.fetching) (m.pending ||= []).push(op);
      return setReaction(m.reactions, op.emoji, op.username, op.on);
    });
  }

  const destroy = () => { dead = true; clearTimeout(timer); queue.clear(); };
  return { want, react, destroy };
}
