// Small pieces shared by the sidebar, the browse view and the members
// panel: unread badges, live presence dots, the current route, focus that
// survives a re-render.
import { $, $$, h } from './dom.js';
import { presenceDot } from './ui.js';
import { presenceOf, userEvents } from './users.js';

export function debounce(fn, ms) {
  let t = 0;
  const run = (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  run.cancel = () => clearTimeout(t);
  return run;
}

// What the hash opens: {room}, {peer} (a direct conversation) or {group}.
export function routeOf(hash = location.hash) {
  const m = /^#\/(room|dm|group)\/([0-9a-fA-F-]{36})$/.exec(hash || '');
  if (!m) return {};
  return { [m[1] === 'dm' ? 'peer' : m[1]]: m[2].toLowerCase() };
}

// Calls fn(route) after every route of the app; returns the unsubscribe.
export function onRoute(fn) {
  const handler = (e) => fn(routeOf(e.detail));
  document.addEventListener('enclavr:route', handler);
  return () => document.removeEventListener('enclavr:route', handler);
}

// Tells the sidebar that my rooms changed (joined, created, left).
export function roomsChanged(detail = {}) {
  document.dispatchEvent(new CustomEvent('enclavr:rooms-changed', { detail }));
}

// The unread badge inside a link: absent when there is nothing unread.
export function setUnread(link, n) {
  $('[data-testid="unread"]', link)?.remove();
  if (n > 0) {
    link.append(h('span', { class: 'side-badge', 'data-testid': 'unread', 'aria-label': `${n} unread` },
      n > 99 ? '99+' : String(n)));
  }
}

// Marks the link to the open view (aria-current) among links.
export function markCurrent(links, isCurrent) {
  for (const a of links) {
    if (isCurrent(a)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// Re-renders inside box, giving focus back to the link or button that had it.
export function keepFocus(box, render) {
  const el = document.activeElement;
  const key = box.contains(el) ? el.getAttribute('data-focus-key') || el.getAttribute('href') : null;
  render();
  if (!key) return;
  const again = $$('[data-focus-key], a[href]', box)
    .find((x) => (x.getAttribute('data-focus-key') || x.getAttribute('href')) === key);
  again?.focus();
}

// A presence dot that follows the user's presence while it is in the page.
export function userDot(userId) {
  const dot = presenceDot(presenceOf(userId));
  dot.dataset.presenceFor = userId;
  return dot;
}

// One listener for every dot and [data-presence] holder of a user.
userEvents.on('presence', (id, status) => {
  for (const el of $$(`[data-presence-for="${CSS.escape(id)}"]`)) {
    if (el.classList.contains('dot')) {
      el.className = `dot dot-${status}`;
      el.setAttribute('aria-label', status);
      el.title = status;
    }
    if (el.hasAttribute('data-presence')) el.dataset.presence = status;
  }
});

// Runs jobs (async functions) at most n at a time.
export async function inPool(jobs, n = 3) {
  const queue = [...jobs];
  const worker = async () => {
    while (queue.length) { try { await queue.shift()(); } catch { /* one failure, not all */ } }
  };
  await Promise.all(Array.from({ length: n }, worker));
}
