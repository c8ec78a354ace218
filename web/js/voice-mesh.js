// The full mesh of one call: an RTCPeerConnection per other participant,
// signalled over the live socket (docs/voice.md, "Signalling"):
//   sent:     {type: voice-offer|voice-answer|voice-ice-candidate, target_user_id, payload}
//   received: the same type with user_id = the sender.
// Who offers: the newer joiner offers to everyone already in the channel;
// a broken connection is offered anew. An offer always starts a fresh
// connection (no renegotiation). Two offers that cross are settled by user
// id: the higher id gives way. Candidates that come before their
// connection has its remote description wait in a queue.
import { h } from './dom.js';
import { live } from './live.js';
import { unwatchLevel, watchLevel } from './voice-level.js';

// What the mesh did, for troubleshooting (window.__voice.log).
export const voiceLog = [];
export function note(what) {
  voiceLog.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
  if (voiceLog.length > 200) voiceLog.shift();
}
const short = (id) => String(id).slice(0, 8);

// Remote audio plays from <audio> elements kept outside the views, so that
// a call goes on whatever the page shows.
function audioBox() {
  let box = document.getElementById('voice-audio');
  if (!box) {
    box = h('div', { id: 'voice-audio', hidden: true });
    document.body.append(box);
  }
  return box;
}

export class Mesh {
  // opts: {selfId, channelId, stream, ice: () => Promise<RTCIceServer[]>,
  //        deafened, sinkId, onChange()}
  constructor(opts) {
    Object.assign(this, opts);
    this.peers = new Map();   // user id -> peer
    this.pending = new Map(); // user id -> candidates not yet applied
    this.closed = false;
  }

  async newPeer(id) {
    const iceServers = await this.ice();
    this.drop(id);
    const pc = new RTCPeerConnection({ iceServers });
    const peer = { id, pc, audio: null, chain: Promise.resolve(), created: Date.now(), badSince: 0, wasUp: false };
    for (const track of this.stream.getAudioTracks()) pc.addTrack(track, this.stream);
    pc.onicecandidate = (ev) => {
      if (!ev.candidate || this.peers.get(id) !== peer) return;
      live.send({ type: 'voice-ice-candidate', target_user_id: id, payload: ev.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (this.peers.get(id) !== peer) return;
      const s = pc.connectionState;
      note(`${short(id)} ${s}`);
      if (s === 'connected') { peer.wasUp = true; peer.badSince = 0; } else if (!peer.badSince) peer.badSince = Date.now();
      this.onChange();
    };
    pc.ontrack = (ev) => this.play(peer, ev.streams[0] || new MediaStream([ev.track]));
    this.peers.set(id, peer);
    this.onChange();
    return peer;
  }

  play(peer, stream) {
    if (this.peers.get(peer.id) !== peer) return;
    peer.audio?.remove();
    const audio = h('audio', { autoplay: true, 'data-user-id': peer.id });
    audio.srcObject = stream;
    audio.muted = !!this.deafened;
    if (this.sinkId && audio.setSinkId) audio.setSinkId(this.sinkId).catch(() => {});
    audioBox().append(audio);
    audio.play().catch(() => {});
    peer.audio = audio;
    watchLevel(peer.id, stream);
  }

  drop(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.pc.close();
    peer.audio?.remove();
    unwatchLevel(id);
    this.onChange();
  }

  close() {
    this.closed = true;
    for (const id of [...this.peers.keys()]) this.drop(id);
    this.pending.clear();
  }

  async offerTo(id) {
    this.pending.delete(id); // candidates of an earlier connection
    const peer = await this.newPeer(id);
    if (this.closed || this.peers.get(id) !== peer) return;
    const offer = await peer.pc.createOffer();
    await peer.pc.setLocalDescription(offer);
    note(`offer to ${short(id)}`);
    live.send({
      type: 'voice-offer', target_user_id: id,
      payload: { type: 'offer', sdp: peer.pc.localDescription.sdp },
    });
  }

  // A signalling frame from user f.user_id.
  async handle(f) {
    const from = f.user_id;
    if (this.closed || !from || from === this.selfId) return;
    if (f.channel_id && f.channel_id !== this.channelId) return;
    const p = f.payload || {};
    if (f.type === 'voice-offer') await this.answer(from, p.sdp ?? f.sdp);
    else if (f.type === 'voice-answer') this.accept(from, p.sdp ?? f.sdp);
    else if (f.type === 'voice-ice-candidate') this.candidate(from, p, f);
  }

  async answer(from, sdp) {
    const old = this.peers.get(from);
    if (old && old.pc.signalingState === 'have-local-offer' && this.selfId < from) {
      note(`offer from ${short(from)} crossed ours: ours wins`);
      return;
    }
    note(`offer from ${short(from)}`);
    const peer = await this.newPeer(from);
    if (this.closed || this.peers.get(from) !== peer) return;
    peer.chain = peer.chain.then(async () => {
      await peer.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.flush(peer);
      const answer = await peer.pc.createAnswer();
      await peer.pc.setLocalDescription(answer);
      live.send({
        type: 'voice-answer', target_user_id: from,
        payload: { type: 'answer', sdp: peer.pc.localDescription.sdp },
      });
    }).catch((e) => note(`answering ${short(from)} failed: ${e.message}`));
  }

  accept(from, sdp) {
    const peer = this.peers.get(from);
    if (!peer || peer.pc.signalingState !== 'have-local-offer') {
      note(`answer from ${short(from)} ignored (${peer?.pc.signalingState ?? 'no connection'})`);
      return;
    }
    note(`answer from ${short(from)}`);
    peer.chain = peer.chain.then(async () => {
      await peer.pc.setRemoteDescription({ type: 'answer', sdp });
      await this.flush(peer);
    }).catch((e) => note(`answer of ${short(from)} not applied: ${e.message}`));
  }

  candidate(from, p, f) {
    if (!p.candidate && !f.candidate) return;
    const cand = p.candidate ? p : { candidate: f.candidate, sdpMid: '0', sdpMLineIndex: 0 };
    if (!this.pending.has(from)) this.pending.set(from, []);
    this.pending.get(from).push(cand);
    const peer = this.peers.get(from);
    if (peer?.pc.remoteDescription) peer.chain = peer.chain.then(() => this.flush(peer));
  }

  async flush(peer) {
    const list = this.pending.get(peer.id) || [];
    this.pending.delete(peer.id);
    for (const c of list) {
      try { await peer.pc.addIceCandidate(c); } catch { /* of an earlier connection */ }
    }
  }

  // A new microphone track in every connection, without renegotiating.
  async replaceTrack(stream) {
    this.stream = stream;
    const track = stream.getAudioTracks()[0];
    await Promise.all([...this.peers.values()].flatMap((peer) => peer.pc.getSenders()
      .filter((s) => !s.track || s.track.kind === 'audio')
      .map((s) => s.replaceTrack(track).catch(() => {}))));
  }

  setDeafened(on) {
    this.deafened = on;
    for (const peer of this.peers.values()) if (peer.audio) peer.audio.muted = on;
  }

  setSink(id) {
    this.sinkId = id;
    for (const peer of this.peers.values()) peer.audio?.setSinkId?.(id).catch(() => {});
  }

  stateOf(id) { return this.peers.get(id)?.pc.connectionState ?? 'none'; }
}
