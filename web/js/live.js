// The live socket (/api/ws, docs/websocket.md): one per tab, every room the
// user looks at plus every conversation of theirs. Each stream (a room or a
// conversation) keeps the last seq it delivered; an event is delivered only
// when it is exactly the next one, so nothing is shown twice or out of
// order. A gap, a reconnect or a network drop resumes the stream from that
// seq: the server sends exactly what was missed.
//
//   live.on('chat-message', (ev) => ...)   // any event or frame type
//   live.on('event', (ev) => ...)          // every event
//   live.on('state', (state) => ...)       // connecting|online|offline
//   live.watchRoom(id) / live.unwatchRoom(id)
//   live.send({type: 'typing', room_id})
import { Emitter } from './dom.js';
import { session } from './session.js';
import { refresh } from './api.js';

const PING_MS = 25000;
const DEAD_MS = 60000;
const RATE = 15;
const BURST = 40;

const keyOf = (f) => (f.room_id ? `room:${f.room_id}` : f.conversation_id ? `conv:${f.conversation_id}` : null);
const idField = (key) => (key.startsWith('room:') ? 'room_id' : 'conversation_id');

class Live extends Emitter {
  constructor() {
    super();
    this.ws = null;
    this.state = 'offline';
    this.streams = new Map(); // key -> {seq, resuming, room}
    this.attempt = 0;
    this.timer = 0;
    this.lastFrame = 0;
    this.stopped = true;
    this.outbox = [];
    this.tokens = BURST;
    this.refilled = Date.now();
    this.drainTimer = 0;
    window.addEventListener('offline', () => this.drop('offline'));
    window.addEventListener('online', () => { if (!this.stopped) this.connectSoon(0); });
    setInterval(() => this.keepAlive(), PING_MS / 5);
  }

  start() {
    this.stopped = false;
    if (!this.ws) this.connectSoon(0);
  }

  // Signed out: no socket, no streams.
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.streams.clear();
    if (this.ws) { this.ws.onclose = null; this.ws.close(1000); this.ws = null; }
    this.setState('offline');
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  connectSoon(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  async connect() {
    // Not gated on navigator.onLine: Chromium says offline on a host whose
    // only interface is lo, where the server is still reachable.
    if (this.stopped || this.ws) return;
    this.setState('connecting');
    const s = session.get();
    if (!s) return;
    if (s.expires_at - Date.now() < 10000) {
      try { await refresh(); } catch { /* the socket's 401 will tell */ }
    }
    if (this.stopped || this.ws || !session.token) return;
    const url = `${location.origin.replace(/^http/, 'ws')}/api/ws?token=${encodeURIComponent(session.token)}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    const opened = Date.now();
    ws.onopen = () => {
      this.attempt = 0;
      this.outbox = [];
      this.lastFrame = Date.now();
      this.setState('online');
      for (const [key, st] of this.streams) this.open(key, st);
      this.emit('reconnected');
    };
    ws.onmessage = (m) => {
      this.lastFrame = Date.now();
      let f;
      try { f = JSON.parse(m.data); } catch { return; }
      this.frame(f);
    };
    ws.onclose = (c) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (c.code === 4001) { session.clear(); return; }
      // Refused at once: most likely the token; refresh before the retry.
      if (Date.now() - opened < 2000 && c.code === 1006) refresh().catch(() => {});
      for (const st of this.streams.values()) st.resuming = false;
      this.setState('connecting');
      if (!this.stopped) this.connectSoon(this.backoff());
    };
  }

  backoff() {
    const ms = Math.min(10000, 500 * 2 ** this.attempt++);
    return ms / 2 + Math.random() * ms / 2;
  }

  // The network went away: close now rather than wait for a timeout.
  drop(state) {
    if (this.ws) { const ws = this.ws; this.ws = null; ws.onclose = null; ws.close(); }
    for (const st of this.streams.values()) st.resuming = false;
    this.setState(state);
  }

  keepAlive() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const quiet = Date.now() - this.lastFrame;
    if (quiet > DEAD_MS) { this.drop('connecting'); this.connectSoon(0); return; }
    if (quiet > PING_MS) this.send({ type: 'ping' });
  }

  // The server takes 20 messages a second in bursts of 60 (docs/websocket.md):
  // past a burst of BURST, messages wait their turn at RATE a second.
  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.outbox.push(JSON.stringify(obj));
    this.drain();
    return true;
  }

  drain() {
    const now = Date.now();
    this.tokens = Math.min(BURST, this.tokens + (now - this.refilled) * RATE / 1000);
    this.refilled = now;
    while (this.outbox.length && this.tokens >= 1 && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(this.outbox.shift());
      this.tokens -= 1;
    }
    if (this.outbox.length && !this.drainTimer) {
      this.drainTimer = setTimeout(() => { this.drainTimer = 0; this.drain(); }, 1000 / RATE);
    }
  }

  // Subscribe (first time) or resume from the last seq delivered.
  open(key, st) {
    const id = key.slice(key.indexOf(':') + 1);
    st.pending = true;
    if (st.seq === null) {
      if (st.room) this.send({ type: 'subscribe', room_id: id });
      return;
    }
    st.resuming = true;
    this.send({ type: 'resume', [idField(key)]: id, payload: { seq: st.seq } });
  }

  watchRoom(roomId) {
    const key = `room:${roomId}`;
    if (this.streams.has(key)) return;
    const st = { seq: null, resuming: false, room: true };
    this.streams.set(key, st);
    this.open(key, st);
  }

  unwatchRoom(roomId) {
    if (this.streams.delete(`room:${roomId}`)) this.send({ type: 'unsubscribe', room_id: roomId });
  }

  watching(roomId) { return this.streams.has(`room:${roomId}`); }

  frame(f) {
    const key = keyOf(f);
    const st = key ? this.streams.get(key) : null;
    switch (f.type) {
      case 'pong': return;
      case 'subscribed':
        if (st && st.seq === null) st.seq = f.payload?.seq ?? 0;
        if (st) st.pending = false;
        this.emit('subscribed', f);
        return;
      case 'resumed':
        if (st) { st.resuming = false; st.pending = false; }
        this.emit('resumed', f);
        return;
      case 'unsubscribed': return;
      case 'error': this.error(key, st, f); return;
      default: break;
    }
    if (typeof f.seq === 'number' && key) {
      if (!this.inOrder(key, st, f)) return;
    }
    this.emit(f.type, f);
    this.emit('event', f);
    if ((f.type === 'member-left' || f.type === 'group-dm-member-removed')
      && (f.payload?.user_id ?? f.user_id) === session.user?.id) {
      this.streams.delete(key);
    }
  }

  // True when f is the next event of its stream; on a gap, resumes.
  inOrder(key, st, f) {
    if (!st) {
      if (!f.conversation_id) return false; // a room we no longer watch
      this.streams.set(key, { seq: f.seq, resuming: false, room: false });
      return true;
    }
    if (st.seq === null || f.seq === st.seq + 1) { st.seq = f.seq; return true; }
    if (f.seq <= st.seq) return false; // already delivered
    if (!st.resuming) this.open(key, st);
    return false;
  }

  // Refused for the rate (the error names no stream): open again whatever
  // is still unanswered, a little later.
  retryPending() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      for (const [key, st] of this.streams) if (st.pending) { st.resuming = false; this.open(key, st); }
    }, 2000);
  }

  error(key, st, f) {
    const code = f.payload?.code;
    if (code === 'rate_limited') { this.retryPending(); return; }
    if (st && (code === 'unavailable' || code === 'in_progress')) {
      st.resuming = false;
      setTimeout(() => { if (this.streams.get(key) === st) this.open(key, st); }, 1000);
      return;
    }
    if (st && (code === 'not_member' || code === 'not_found' || code === 'too_many_rooms')) {
      this.streams.delete(key);
    }
    this.emit('error', f);
  }
}

export const live = new Live();
