// The voice call of this tab: one at a time, kept here rather than in a
// view, so that it goes on while the page shows something else. The panel
// (voice.js) and the bar (voice-bar.js) draw it and listen to callEvents.
//
// Staying connected: when the live socket comes back, or a connection to a
// participant stays down for a few seconds, the call joins the channel
// again (voiced takes a participant out 2 s after their last socket
// closed; joining again is harmless when it did not) and offers new
// connections where they are needed. The participants are also re-read
// every few seconds, so nothing depends on one event arriving.
import { api } from './api.js';
import { Emitter } from './dom.js';
import { live } from './live.js';
import { session, sessionEvents } from './session.js';
import { toast } from './ui.js';
import { micConstraints, savedDevice } from './voice-devices.js';
import { levelEvents, levelOf, stopLevels, watchLevel } from './voice-level.js';
import { Mesh, note, voiceLog } from './voice-mesh.js';

const CHECK_MS = 2000;     // the mesh is looked over this often
const REFRESH_MS = 10000;  // the participants are re-read this often
const REPAIR_MS = 3000;    // a connection down this long is offered anew
const CONNECT_MS = 6000;   // a participant still unconnected after this gets an offer
const SPEAKING = 0.35;     // a level at or above this is speech
const SILENT_MS = 800;     // speaking ends after this much quiet
const SIGNALS = ['voice-offer', 'voice-answer', 'voice-ice-candidate'];

export const callEvents = new Emitter(); // 'change'

const STATE_TEXT = {
  idle: 'Not connected', joining: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…',
};
export const stateText = (state) => STATE_TEXT[state] ?? state;

export const call = {
  channel: null,       // {id, room_id, name} while in a call
  state: 'idle',       // idle | joining | connected | reconnecting
  joined: false,       // the server has us
  muted: false,
  deafened: false,
  serverMuted: false,
  speaking: false,
  members: new Map(),  // the other participants: user id -> {since, up}
  stream: null,        // the microphone
  mesh: null,
};

let epoch = 0;          // bumped by every join and leave: stale work stops
let joinedAt = null;    // our participant row's joined_at: a new one = re-added
let timers = [];
let rejoining = false;
let rejoinAgain = false;
let lastRejoin = 0;
let reconnectedAt = 0;
let mutedBeforeDeafen = false;
let stateChain = Promise.resolve();
const lastVoice = new Map(); // user id -> when their level was last speech
let ice = null;              // {servers: Promise, until}

const selfId = () => session.user?.id;
const changed = () => callEvents.emit('change', call);
const stopStream = (s) => s?.getTracks().forEach((t) => t.stop());
const inChannel = (f) => call.channel && (f.payload?.channel_id ?? f.channel_id) === call.channel.id;

function setState(s) {
  if (call.state === s) return;
  call.state = s;
  changed();
}

// GET /api/voice/ice, kept for half its ttl; a failure gives no servers
// (host candidates still work on one network) and is retried next time.
function iceServers() {
  if (!ice || Date.now() > ice.until) {
    const entry = { until: Date.now() + 60000 };
    entry.servers = api('GET', '/api/voice/ice').then((r) => {
      entry.until = Date.now() + Math.max(60, r?.ttl ?? 3600) * 500;
      return (r?.ice_servers ?? []).map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
    }).catch(() => { entry.until = 0; return []; });
    ice = entry;
  }
  return ice.servers;
}

function applyMute() {
  for (const t of call.stream?.getAudioTracks() ?? []) t.enabled = !(call.muted || call.serverMuted);
}

// Our muted/deafened flags to the server, in order, the latest values.
function sendState() {
  if (!call.joined) return;
  const ch = call.channel.id;
  stateChain = stateChain.then(() => (call.joined && call.channel?.id === ch
    ? api('POST', '/api/voice-channel/participant/update',
      { channel_id: ch, is_muted: call.muted, is_deafened: call.deafened }).catch(() => {})
    : null));
}

// A participant we did not know, or one re-added since (a new joined_at:
// they dropped their connections, so ours to them is stale). True if new.
function addMember(id, joinedAt) {
  if (!id || id === selfId()) return false;
  const m = call.members.get(id);
  if (m && (!joinedAt || !m.joinedAt || m.joinedAt === joinedAt)) {
    m.joinedAt ||= joinedAt;
    return false;
  }
  if (m) { note(`${id.slice(0, 8)} was re-added`); removeMember(id); }
  call.members.set(id, { since: Date.now(), up: false, joinedAt });
  return true;
}

function removeMember(id) {
  call.members.delete(id);
  lastVoice.delete(id);
  call.mesh?.drop(id);
}

// The server's list of participants. Offers go to each of the others
// with offer 'all' (we have just joined, or were re-added), or to those
// without a working connection with 'stale' (signals may have been lost
// while the socket was down).
async function refreshMembers(offers = 'none') {
  const ch = call.channel;
  if (!ch || !call.mesh || live.state !== 'online') return;
  const my = epoch;
  const list = await api('GET', '/api/voice-channel/participants', undefined, { channel_id: ch.id });
  if (my !== epoch) return;
  const ids = new Set(list.map((p) => p.user_id));
  if (!ids.has(selfId())) { note('not among the participants'); rejoin(); return; }
  for (const id of [...call.members.keys()]) if (!ids.has(id)) removeMember(id);
  const fresh = new Set(list.filter((p) => addMember(p.user_id, p.joined_at)).map((p) => p.user_id));
  for (const id of call.members.keys()) {
    if (offers === 'all' || (offers === 'stale' && (fresh.has(id) || call.mesh.stateOf(id) !== 'connected'))) offer(id);
  }
  updateState();
  changed();
}

function offer(id) {
  call.mesh?.offerTo(id).catch((e) => note(`offer to ${id.slice(0, 8)} failed: ${e.message}`));
}

// Looks over every connection: a missing, broken or stuck one is offered
// anew (the lower user id first; the other waits twice as long, so that
// the two rarely offer at once).
function check() {
  if (!call.joined || !call.mesh) return;
  if (!rejoining && live.state === 'online') {
    const now = Date.now();
    for (const [id, m] of call.members) {
      const wait = selfId() < id ? 1 : 2;
      const peer = call.mesh.peers.get(id);
      const s = peer?.pc.connectionState;
      if (!peer) {
        if (now - m.since > CONNECT_MS * wait) { m.since = now; note(`${id.slice(0, 8)} never connected`); offer(id); }
        continue;
      }
      if (s === 'connected') continue;
      const broken = peer.wasUp || s === 'failed' || s === 'closed';
      if (broken ? peer.badSince && now - peer.badSince > REPAIR_MS * wait
        : now - peer.created > CONNECT_MS * wait) {
        note(`${id.slice(0, 8)} ${broken ? 'broken' : 'stuck'} (${s})`);
        offer(id);
      }
    }
  }
  updateState();
}

function updateState() {
  if (!call.joined) return;
  let s = 'connected';
  for (const [id, m] of call.members) {
    const up = call.mesh?.stateOf(id) === 'connected';
    if (up) m.up = true;
    if (m.up && !up) s = 'reconnecting';
    else if (!m.up && !up && s === 'connected' && Date.now() - m.since < CONNECT_MS) s = 'joining';
  }
  if (live.state !== 'online' || rejoining) s = 'reconnecting';
  setState(s);
}

// Joins the channel again; when the server had taken us out (a new
// joined_at), every connection is rebuilt with offers from us.
async function rejoin() {
  if (!call.joined || live.state !== 'online') return; // 'reconnected' calls it
  if (rejoining) { rejoinAgain = true; return; }
  rejoining = true;
  updateState();
  const my = epoch;
  const wait = Math.max(0, 1000 - (Date.now() - lastRejoin));
  if (wait) await new Promise((r) => setTimeout(r, wait));
  lastRejoin = Date.now();
  try {
    if (my !== epoch) return;
    const me = await api('POST', '/api/voice-channel/join', { channel_id: call.channel.id });
    if (my !== epoch) return;
    const readded = me.joined_at !== joinedAt;
    note(`rejoined${readded ? ' (re-added)' : ''}`);
    joinedAt = me.joined_at;
    if (readded) {
      for (const id of [...call.members.keys()]) removeMember(id);
      sentSpeaking = false;
    }
    rejoining = false;
    await refreshMembers(readded ? 'all' : 'stale');
    if (readded) sendState();
  } catch (e) {
    if (my !== epoch) return;
    if (e.status >= 400 && e.status < 500 && ![401, 408, 429].includes(e.status)) {
      endCall(`You left voice: ${e.message}`);
      return;
    }
    if (live.state === 'online') rejoinAgain = true; // else 'reconnected' calls again
  } finally {
    if (my === epoch) {
      rejoining = false;
      updateState();
      if (rejoinAgain) { rejoinAgain = false; setTimeout(rejoin, 1000); }
    }
  }
}

function teardown() {
  epoch++;
  call.mesh?.close();
  call.mesh = null;
  stopStream(call.stream);
  call.stream = null;
  stopLevels();
  timers.forEach(clearInterval);
  timers = [];
  Object.assign(call, { channel: null, joined: false, speaking: false, serverMuted: false });
  call.members.clear();
  lastVoice.clear();
  sentSpeaking = false;
  rejoining = false;
  rejoinAgain = false;
  setState('idle');
  changed();
}

function endCall(message) {
  teardown();
  toast(message);
}

// channel: {id, room_id, name}. Leaves the present call first (the server
// moves us in one step). Throws when the microphone or the join fails.
export async function joinVoice(channel) {
  if (call.channel?.id === channel.id) return;
  if (call.channel) teardown();
  const my = ++epoch;
  call.channel = { id: channel.id, room_id: channel.room_id, name: channel.name };
  setState('joining');
  try {
    iceServers();
    const stream = await navigator.mediaDevices.getUserMedia(micConstraints());
    if (my !== epoch) { stopStream(stream); return; }
    call.stream = stream;
    applyMute();
    watchLevel(selfId(), stream);
    call.mesh = new Mesh({
      selfId: selfId(), channelId: channel.id, stream, ice: iceServers,
      deafened: call.deafened, sinkId: savedDevice('audiooutput'), onChange: () => { updateState(); changed(); },
    });
    const me = await api('POST', '/api/voice-channel/join', { channel_id: channel.id });
    if (my !== epoch) return;
    joinedAt = me.joined_at;
    call.joined = true;
    call.serverMuted = !!me.is_server_muted;
    applyMute();
    if (call.muted || call.deafened) sendState();
    timers = [setInterval(check, CHECK_MS), setInterval(() => refreshMembers().catch(() => {}), REFRESH_MS)];
    await refreshMembers('all');
    changed();
  } catch (e) {
    if (my === epoch) teardown();
    throw e;
  }
}

export async function leaveVoice() {
  const ch = call.channel;
  if (!ch) return;
  teardown();
  try {
    await api('POST', '/api/voice-channel/leave', undefined, { channel_id: ch.id });
  } catch { /* voiced takes us out anyway once the socket is gone */ }
}

export function setMuted(on) {
  call.muted = on;
  if (!on && call.deafened) { call.deafened = false; call.mesh?.setDeafened(false); }
  applyMute();
  changed();
  sendState();
}

// Deafening mutes too; undeafening gives back the mute from before.
export function setDeafened(on) {
  if (on) { mutedBeforeDeafen = call.muted; call.muted = true; } else call.muted = mutedBeforeDeafen;
  call.deafened = on;
  call.mesh?.setDeafened(on);
  applyMute();
  changed();
  sendState();
}

// The chosen microphone (voice-devices.js saved it) into every connection.
export async function switchMic() {
  if (!call.stream) return;
  const my = epoch;
  const stream = await navigator.mediaDevices.getUserMedia(micConstraints(true));
  if (my !== epoch || !call.mesh) { stopStream(stream); return; }
  const old = call.stream;
  call.stream = stream;
  applyMute();
  await call.mesh.replaceTrack(stream);
  watchLevel(selfId(), stream);
  stopStream(old);
  changed();
}

export const setSpeaker = (id) => call.mesh?.setSink(id);

// 0..1 for a participant of the call (ourselves included), and whether
// they are speaking by that level.
export const levelFor = (id) => (id === selfId() && (call.muted || call.serverMuted) ? 0 : levelOf(id));
export const speakingFor = (id) => Date.now() - (lastVoice.get(id) ?? 0) < SILENT_MS;
export const peerStateOf = (id) => (id === selfId() ? 'self' : call.mesh?.stateOf(id) ?? 'none');

// Our speaking flag to the server: only on a change, at most once a second.
let speakTimer = 0;
let sentSpeaking = false;
let lastSpeakSent = 0;
function scheduleSpeaking() {
  if (speakTimer) return;
  speakTimer = setTimeout(() => {
    speakTimer = 0;
    if (!call.joined || call.speaking === sentSpeaking) return;
    sentSpeaking = call.speaking;
    lastSpeakSent = Date.now();
    api('POST', '/api/voice-channel/participant/update',
      { channel_id: call.channel.id, is_speaking: sentSpeaking }).catch(() => {});
  }, Math.max(200, 1000 - (Date.now() - lastSpeakSent)));
}

levelEvents.on('levels', () => {
  if (!call.joined) return;
  const now = Date.now();
  for (const id of [selfId(), ...call.members.keys()]) {
    if (levelFor(id) >= SPEAKING) lastVoice.set(id, now);
  }
  const speaking = speakingFor(selfId());
  if (speaking !== call.speaking) { call.speaking = speaking; scheduleSpeaking(); }
});

// Signalling: offers, answers and candidates for our mesh.
for (const type of SIGNALS) {
  live.on(type, (f) => {
    if (!call.mesh || (f.channel_id && f.channel_id !== call.channel.id)) return;
    if (type === 'voice-offer') {
      // Whatever their joined_at is now, this offer is their connection.
      if (addMember(f.user_id)) changed();
      else if (call.members.has(f.user_id)) call.members.get(f.user_id).joinedAt = null;
    }
    call.mesh.handle(f).catch((e) => note(`${f.type} failed: ${e.message}`));
  });
}

live.on('voice-joined', (f) => {
  const p = f.payload?.participant;
  if (call.joined && inChannel(f) && addMember(p?.user_id, p?.joined_at)) changed();
});

live.on('voice-left', (f) => {
  if (!call.joined || !inChannel(f)) return;
  const gone = f.payload?.user_id ?? f.user_id;
  if (gone !== selfId()) { removeMember(gone); updateState(); changed(); return; }
  note('voice-left for us');
  // Taken out just as we came back (voiced had not seen the new socket):
  // join again. Otherwise we were moved, removed or the channel went.
  if (rejoining || Date.now() - reconnectedAt < 10000) rejoin();
  else endCall(`You left ${call.channel.name}.`);
});

live.on('voice-muted', (f) => {
  if (!call.joined || !inChannel(f) || f.payload?.user_id !== selfId()) return;
  call.serverMuted = !!f.payload.is_server_muted;
  applyMute();
  changed();
});

live.on('error', (f) => {
  if (call.joined && f.payload?.code === 'not_in_channel') refreshMembers().catch(() => {});
});

live.on('reconnected', () => {
  if (!call.joined) return;
  reconnectedAt = Date.now();
  note('socket reconnected');
  rejoin();
});

live.on('state', () => updateState());

sessionEvents.on('change', (s) => { if (!s && call.channel) teardown(); });

// Closing the tab leaves at once (rather than when voiced notices).
addEventListener('pagehide', () => {
  if (!call.joined || !session.token) return;
  fetch(`/api/voice-channel/leave?channel_id=${encodeURIComponent(call.channel.id)}`, {
    method: 'POST', keepalive: true, headers: { Authorization: `Bearer ${session.token}` },
  }).catch(() => {});
});

// For tests and troubleshooting: the connections and what they hear.
window.__voice = {
  get peers() { return new Map([...(call.mesh?.peers ?? [])].map(([id, p]) => [id, p.pc])); },
  get state() { return call.state; },
  log: voiceLog,
  levels() { return Object.fromEntries([selfId(), ...call.members.keys()].map((id) => [id, levelFor(id)])); },
  async inboundLevels() {
    const out = {};
    for (const [id, p] of call.mesh?.peers ?? []) {
      (await p.pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'audio') out[id] = r.audioLevel ?? 0;
      });
    }
    return out;
  },
};
