// The signed-in session: tokens and the user. "Remember me" keeps the
// refresh token in localStorage (it survives a restart of the browser);
// otherwise in sessionStorage (this tab only). Tabs of one browser share a
// remembered session; a refresh runs under a Web Lock and re-reads the
// stored token first, so two tabs never spend the same refresh token (a
// replay would end the session, docs/auth.md).
import { Emitter } from './dom.js';

const KEY = 'enclavr.session';
export const sessionEvents = new Emitter();

let current = load();

function load() {
  for (const store of [sessionStorage, localStorage]) {
    try {
      const s = JSON.parse(store.getItem(KEY) || 'null');
      if (s && s.refresh_token) return s;
    } catch { /* ignore a damaged entry */ }
  }
  return null;
}

function save() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  if (!current) return;
  (current.remember ? localStorage : sessionStorage).setItem(KEY, JSON.stringify(current));
}

export const session = {
  get() { return current; },
  get user() { return current?.user ?? null; },
  get token() { return current?.access_token ?? null; },
  // From a token response ({access_token, refresh_token, expires_in, user}).
  set(tokens, remember = current?.remember ?? false) {
    current = {
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      expires_at: Date.now() + (tokens.expires_in ?? 900) * 1000,
      user: tokens.user ?? current?.user ?? null,
      remember,
    };
    save();
    sessionEvents.emit('change', current);
  },
  setUser(user) {
    if (!current) return;
    current.user = { ...current.user, ...user };
    save();
    sessionEvents.emit('user', current.user);
  },
  clear() {
    const had = current !== null;
    current = null;
    save();
    if (had) sessionEvents.emit('change', null);
  },
  // The stored copy: another tab may have refreshed since we read ours.
  reload() {
    const s = load();
    if (s && s.refresh_token !== current?.refresh_token) current = s;
    return current;
  },
};

// Another tab signed out or refreshed a remembered session.
window.addEventListener('storage', (e) => {
  if (e.key !== KEY) return;
  const s = load();
  if (!s) { current = null; sessionEvents.emit('change', null); return; }
  current = s;
});
