// JSON calls to the gateway. Every error is an ApiError with the server's
// {error, message}. An access token that expired is refreshed once, silently
// (and a minute before it expires, on a timer), then the call is retried.
import { session } from './session.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || 'error';
  }
}

function url(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, v);
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

async function send(method, path, body, query, token) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url(path, query), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached');
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    throw new ApiError(res.status, json?.error, json?.message || (typeof json?.error === 'string' ? json.error : ''));
  }
  return json;
}

// 401 codes that mean the access token (not, say, a password) was refused.
const TOKEN_ERRORS = new Set(['token_expired', 'invalid_token']);

let refreshing = null;
let refreshTimer = 0;

async function refreshNow(spent) {
  const run = async () => {
    const s = session.reload();
    if (!s) throw new ApiError(401, 'unauthorized', 'Signed out');
    // Another tab (or call) has refreshed already: take its tokens.
    if (s.refresh_token !== spent && s.expires_at - Date.now() > 30000) return;
    try {
      session.set(await send('POST', '/api/auth/refresh', { refresh_token: s.refresh_token }));
    } catch (e) {
      if (e.status === 401 || e.status === 400) session.clear();
      throw e;
    }
  };
  return navigator.locks ? navigator.locks.request('enclavr-refresh', run) : run();
}

// One refresh at a time within this tab; the lock covers the other tabs.
export function refresh() {
  const spent = session.get()?.refresh_token;
  if (!refreshing) {
    refreshing = refreshNow(spent).finally(() => { refreshing = null; });
  }
  return refreshing;
}

// Keeps the access token fresh: one timer, re-armed on every change.
export function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const s = session.get();
  if (!s) return;
  const due = Math.max(1000, s.expires_at - Date.now() - 60000);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), due);
}

// api('GET', '/api/rooms'), api('POST', '/api/message/send', {...}),
// api('GET', '/api/messages', undefined, {room_id, limit: 50}).
export async function api(method, path, body, query) {
  if (session.get() && session.get().expires_at - Date.now() < 5000) {
    await refresh().catch(() => {});
  }
  const token = session.token;
  try {
    return await send(method, path, body, query, token);
  } catch (e) {
    if (e.code === 'session_revoked') { session.clear(); throw e; }
    if (!token || !TOKEN_ERRORS.has(e.code)) throw e;
    await refresh();
    return send(method, path, body, query, session.token);
  }
}

// A call without a token (sign-in forms).
export const publicApi = (method, path, body) => send(method, path, body);
