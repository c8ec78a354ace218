// A virtualised vertical list: only the rows in view plus a margin are in
// the DOM. Rows have any height; each is measured (ResizeObserver) once it
// is shown, the others are estimated from the average. The rows shown sit
// in one "window" element, in normal flow, moved to the offset of its first
// row; a spacer gives the scroller the height of the whole list.
//
//   const list = new VirtualList({ keyOf, render, sig, onTop, onState });
//   list.setItems(array)   // the array is read, never changed, by the list
//   list.changed()         // after the array (or an item) changed
//   list.scrollToBottom(), list.scrollToKey(key), list.atBottom
//
// Keeping the view still: every relayout first notes the row at the top of
// the viewport (from the previous layout) and the distance into it, then
// restores that after the offsets changed; a list scrolled to the bottom
// stays at the bottom instead. Scroll handling only schedules one
// requestAnimationFrame; reads (scrollTop) come before writes in each pass.
import { h } from './dom.js';

const OVERSCAN = 900; // px rendered above and below the viewport
const CACHE = 400;    // detached rows kept for reuse

// Where focus is inside a row, as a selector for its new rendering (null:
// the row itself).
function focusPath(row) {
  const a = document.activeElement;
  if (a === row || !a.dataset?.action) return null;
  return `[data-action="${a.dataset.action}"]${a.dataset.emoji ? `[data-emoji="${CSS.escape(a.dataset.emoji)}"]` : ''}`;
}

export class VirtualList {
  constructor({ keyOf, render, sig, onTop, onState, label }) {
    Object.assign(this, { keyOf, renderRow: render, sigOf: sig, onTop, onState });
    this.items = [];
    this.n = 0;
    this.heights = new Map();       // key -> measured px
    this.hs = new Float64Array(0);  // measured px by index (0 = unmeasured)
    this.offsets = new Float64Array(1);
    this.index = new Map();         // key -> index
    this.keys = [];                 // keys at the last layout
    this.shown = new Map();         // key -> {el, sig}, in the window
    this.cache = new Map();         // key -> {el, sig}, detached
    this.range = [0, 0];
    this.sum = 0;                   // measured heights: sum and count
    this.count = 0;
    this.stuck = true;
    this.raf = 0;
    this.dirty = true;
    this.viewport = 0;
    this.win = h('div', { class: 'vlist-window' });
    this.spacer = h('div', { class: 'vlist-spacer' }, this.win);
    // A feed of articles (rows come and go as it scrolls: not a live region).
    this.el = h('div', { class: 'vlist', tabindex: '0', role: 'feed', 'aria-label': label || 'Messages' }, this.spacer);
    this.el.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.rowObserver = new ResizeObserver((entries) => this.measured(entries));
    this.boxObserver = new ResizeObserver(() => this.resized());
    this.boxObserver.observe(this.el);
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    this.rowObserver.disconnect();
    this.boxObserver.disconnect();
  }

  get estimate() { return this.count ? this.sum / this.count : 64; }
  // Counts and offsets are those of the last rebuild (this.n), never of the
  // live array, which the owner may have changed since.
  get total() { return this.offsets[this.n] || 0; }
  get atBottom() { return this.stuck; }

  setItems(items) { this.items = items; this.changed(); }

  // The array changed (structure) or only some items did: update on the
  // next frame (rows whose sig changed are rendered again).
  changed(structure = true) { if (structure) this.dirty = true; this.schedule(); }

  schedule() {
    if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.update(); });
  }

  // Index of the row at pixel y (binary search over the offsets).
  indexAt(y) {
    const n = this.n;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= y) lo = mid; else hi = mid - 1;
    }
    return Math.max(0, lo);
  }

  // Where the view is, in terms of the last layout: a key and a distance.
  anchor() {
    const top = this.el.scrollTop;
    const vh = this.viewport || this.el.clientHeight;
    const stuck = this.keys.length === 0 || top + vh >= this.total - 4;
    if (stuck) return { stuck: true, top };
    const i = Math.min(this.indexAt(top), this.keys.length - 1);
    return { stuck: false, key: this.keys[i], delta: top - this.offsets[i], i, top };
  }

  restore(a) {
    const vh = this.viewport || this.el.clientHeight;
    let top;
    if (a.stuck) top = this.total - vh;
    else {
      const i = this.index.get(a.key) ?? Math.min(a.i, this.n - 1);
      top = this.offsets[i] + a.delta;
    }
    top = Math.max(0, Math.round(top));
    this.place();
    // (a.top: the scroll position read before these writes, no extra layout)
    if (Math.abs(a.top - top) >= 1) this.el.scrollTop = top;
    this.setStuck(a.stuck);
  }

  setStuck(v) {
    if (this.stuck === v) return;
    this.stuck = v;
    this.onState?.({ atBottom: v });
  }

  // The item array changed: new index, heights by index, offsets.
  rebuild() {
    const n = this.items.length;
    this.n = n;
    this.index = new Map();
    this.keys = new Array(n);
    this.hs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const k = this.keyOf(this.items[i]);
      this.keys[i] = k;
      this.index.set(k, i);
      this.hs[i] = this.heights.get(k) || 0;
    }
    this.offsets = new Float64Array(n + 1);
    this.offsetsFrom(0);
  }

  offsetsFrom(i) {
    const est = this.estimate;
    const n = this.n;
    for (let j = i; j < n; j++) this.offsets[j + 1] = this.offsets[j] + (this.hs[j] || est);
  }

  // Rows were measured: new offsets, the view kept where it was.
  measured(entries) {
    let changed = false;
    for (const e of entries) {
      const key = e.target.dataset.vkey;
      const px = e.borderBoxSize?.[0]?.blockSize ?? e.target.offsetHeight;
      const i = this.index.get(key);
      if (i === undefined || !e.target.isConnected) continue;
      const old = this.heights.get(key);
      if (old === px) continue;
      if (old === undefined) { this.sum += px; this.count++; } else this.sum += px - old;
      this.heights.set(key, px);
      this.hs[i] = px;
      changed = true;
    }
    // A rebuild is due anyway (it reads the heights): nothing to move now.
    if (!changed || this.dirty) return;
    const a = this.anchor();
    this.offsetsFrom(0);
    this.restore(a);
    this.schedule();
  }

  // The viewport changed size: the same rows stay in view (or the bottom).
  resized() {
    const a = this.anchor();
    this.viewport = this.el.clientHeight;
    if (this.n && !this.dirty) this.restore(a);
    this.schedule();
  }

  // One pass: bring the structure up to date, then show the rows in view.
  update() {
    if (this.dirty) {
      const a = this.anchor();
      this.rebuild();
      this.dirty = false;
      this.restore(a);
    }
    const n = this.n;
    const top = this.el.scrollTop;
    const vh = this.viewport || (this.viewport = this.el.clientHeight);
    this.setStuck(n === 0 || top + vh >= this.total - 4);
    const start = n ? this.indexAt(top - OVERSCAN) : 0;
    const end = n ? Math.min(n, this.indexAt(top + vh + OVERSCAN) + 1) : 0;
    this.show(start, end);
    if (top < vh * 2 + OVERSCAN) this.onTop?.();
  }

  show(start, end) {
    const want = new Map();
    let refocus = null;
    for (let i = start; i < end; i++) {
      const item = this.items[i];
      const key = this.keys[i];
      const prev = i > 0 ? this.items[i - 1] : null;
      const sig = this.sigOf(item, prev);
      let row = this.shown.get(key) || this.cache.get(key);
      this.cache.delete(key);
      if (!row || row.sig !== sig) {
        const el = this.renderRow(item, prev);
        el.dataset.vkey = key;
        if (row?.el.contains(document.activeElement)) refocus = [el, focusPath(row.el)];
        row = { el, sig };
      }
      want.set(key, row);
    }
    for (const [key, row] of this.shown) {
      if (want.get(key) === row) continue;
      this.rowObserver.unobserve(row.el);
      row.el.remove();
      if (want.has(key)) continue;
      this.cache.set(key, row);
    }
    while (this.cache.size > CACHE) this.cache.delete(this.cache.keys().next().value);
    let cursor = this.win.firstChild;
    for (const row of want.values()) {
      if (cursor === row.el) { cursor = cursor.nextSibling; continue; }
      this.win.insertBefore(row.el, cursor);
      this.rowObserver.observe(row.el);
    }
    this.shown = want;
    this.range = [start, end];
    this.place();
    if (refocus) ((refocus[1] && refocus[0].querySelector(refocus[1])) || refocus[0]).focus({ preventScroll: true });
  }

  // A short list sits at the bottom of the view, as chat histories do.
  place() {
    const vh = this.viewport || this.el.clientHeight;
    const pad = Math.max(0, vh - this.total);
    this.spacer.style.height = `${this.total + pad}px`;
    this.win.style.transform = `translateY(${(this.offsets[this.range[0]] || 0) + pad}px)`;
  }

  // The element of a key if it is in the DOM now.
  elementOf(key) { return this.shown.get(key)?.el ?? null; }

  // Forgets the rendered row of a key (its item changed in a way sig misses).
  invalidate(key) { this.cache.delete(key); const r = this.shown.get(key); if (r) r.sig = null; this.changed(); }

  refreshAll() { this.cache.clear(); for (const r of this.shown.values()) r.sig = null; this.changed(); }

  scrollToBottom() {
    this.setStuck(true);
    this.el.scrollTop = this.total;
    this.changed();
  }

  scrollToTop() { this.setStuck(false); this.el.scrollTop = 0; this.schedule(); }

  // Puts a row in the middle of the view (at the top with align 'start').
  scrollToKey(key, align = 'center') {
    if (this.dirty) { this.rebuild(); this.dirty = false; }
    const i = this.index.get(key);
    if (i === undefined) return false;
    const vh = this.viewport || this.el.clientHeight;
    const rowH = this.hs[i] || this.estimate;
    const top = align === 'start' ? this.offsets[i] - 8 : this.offsets[i] - (vh - rowH) / 2;
    this.setStuck(false);
    this.place();
    this.el.scrollTop = Math.max(0, top);
    this.update();
    return true;
  }

  // Scrolls the least needed to show the row of key whole.
  ensureVisible(key) {
    if (this.dirty) { this.rebuild(); this.dirty = false; }
    const i = this.index.get(key);
    if (i === undefined) return;
    const top = this.el.scrollTop;
    const vh = this.viewport || this.el.clientHeight;
    const y = this.offsets[i];
    const y2 = this.offsets[i + 1];
    if (y < top) this.el.scrollTop = y;
    else if (y2 > top + vh) this.el.scrollTop = Math.min(y, y2 - vh);
    this.update();
  }

  // Keys of the rows at least partly visible now.
  visibleKeys() {
    const top = this.el.scrollTop;
    const vh = this.viewport || this.el.clientHeight;
    const out = [];
    if (!this.n) return out;
    for (let i = this.indexAt(top); i < this.n && this.offsets[i] < top + vh; i++) out.push(this.keys[i]);
    return out;
  }
}
