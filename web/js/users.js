// Who is who: a cache of public user objects ({id, username, display_name,
// avatar_url}) and everyone's presence as this tab last heard it.
import { api } from './api.js';
import { Emitter } from './dom.js';
import { live } from './live.js';

const known = new Map();    // id -> user
const pending = new Map();  // id -> Promise<user>
const presence = new Map(); // id -> 'online'|'away'|'dnd'|'offline'...
export const userEvents = new Emitter(); // 'presence' (id, status), 'user' (user)

export function rememberUser(u) {
  if (!u || !u.id) return u;
  const merged = { ...known.get(u.id), ...u };
  known.set(u.id, merged);
  return merged;
}

export const cachedUser = (id) => known.get(id) ?? null;

export async function getUser(id) {
  if (known.has(id)) return known.get(id);
  if (!pending.has(id)) {
    pending.set(id, api('GET', `/api/users/${encodeURIComponent(id)}`)
      .then((u) => { userEvents.emit('user', rememberUser(u)); return known.get(id); })
      .catch(() => ({ id, username: 'unknown' }))
      .finally(() => pending.delete(id)));
  }
  return pending.get(id);
}

export const displayName = (u) => (u ? u.display_name || u.username || 'unknown' : 'unknown');

export const presenceOf = (id) => presence.get(id) ?? 'offline';

export function setPresence(id, status) {
  if (!id || presence.get(id) === status) return;
  presence.set(id, status);
  userEvents.emit('presence', id, status);
}

live.on('presence-update', (ev) => {
  const status = ev.payload?.status ?? (ev.payload?.online ? 'online' : 'offline');
  setPresence(ev.payload?.user_id ?? ev.user_id, status);
});
