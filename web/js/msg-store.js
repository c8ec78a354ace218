// The messages of one view, oldest first, by seq, each id once: the REST
// pages and the live events overlap (one's own POST answer and its event
// both arrive), so every write goes through put(), which merges.
//
// A message here: {id, seq, author_id, author, content, edited, deleted,
// created_at, updated_at, system, reactions (Map emoji -> Set of
// usernames, or undefined until fetched), thread ({id, count} | null |
// undefined), rev (bumped on every change, for the row cache)}.
import { Emitter } from './dom.js';

export class MessageStore extends Emitter {
  constructor() {
    super();
    this.items = [];
    this.byId = new Map();
  }

  get oldest() { return this.items[0] ?? null; }
  get newest() { return this.items[this.items.length - 1] ?? null; }
  get(id) { return this.byId.get(id); }

  // Adds or merges messages; emits 'change' once.
  put(list) {
    let structure = false;
    const first = this.items[0];
    // A page of older messages: one splice at the front.
    if (first && list.length > 1 && list[list.length - 1].seq < first.seq && !list.some((m) => this.byId.has(m.id))) {
      for (const m of list) { m.rev = 1; this.byId.set(m.id, m); }
      this.items.splice(0, 0, ...list);
      this.emit('change', { structure: true });
      return;
    }
    for (const m of list) {
      const old = this.byId.get(m.id);
      if (old) { this.merge(old, m); continue; }
      m.rev = 1;
      this.byId.set(m.id, m);
      this.insert(m);
      structure = true;
    }
    if (list.length) this.emit('change', { structure });
  }

  insert(m) {
    const a = this.items;
    if (!a.length || a[a.length - 1].seq < m.seq) { a.push(m); return; }
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid].seq < m.seq) lo = mid + 1; else hi = mid;
    }
    a.splice(lo, 0, m);
  }

  // A newer copy wins; a deletion is final.
  merge(old, m) {
    if (old.deleted) return;
    if (!m.deleted && m.updated_at && old.updated_at && m.updated_at < old.updated_at) return;
    for (const k of ['content', 'edited', 'deleted', 'updated_at']) {
      if (m[k] !== undefined) old[k] = m[k];
    }
    if (old.deleted) { old.content = ''; old.reactions = new Map(); }
    old.rev++;
  }

  // Changes one message in place: fn(msg) returns false for "nothing changed".
  patch(id, fn) {
    const m = this.byId.get(id);
    if (!m || fn(m) === false) return false;
    m.rev++;
    this.emit('change', { structure: false, id });
    return true;
  }
}

// Reactions as the views keep them: Map emoji -> Set of usernames.
export function reactionMap(list) {
  const map = new Map();
  for (const r of list || []) {
    if (!map.has(r.emoji)) map.set(r.emoji, new Set());
    for (const u of r.users) map.get(r.emoji).add(u);
  }
  return map;
}
