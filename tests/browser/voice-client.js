// The voice test's page client (served by the test at the stack's origin,
// see voice-page.html): users of one page, each with its own token and
// /api/ws socket, joining voice channels through the REST routes and
// connecting a full mesh of RTCPeerConnections, relay-only, with the
// TURN servers of GET /api/voice/ice. Signalling (docs/voice.md):
//   sent:     {type: voice-offer|voice-answer|voice-ice-candidate,
//              target_user_id, payload}
//   received: the same type with user_id = the sender.
// The newer joiner offers to every participant already in the channel;
// the others answer. Offers always start a fresh connection (this client
// never renegotiates); two offers that cross are settled by user id (the
// higher id gives way).
'use strict';

(() => {
  const origin = location.origin;
  // Milliseconds since the epoch, sub-millisecond: comparable across pages.
  const now = () => performance.timeOrigin + performance.now();
  const wsBase = origin.replace(/^http/, 'ws');

  // RTCIceServer[] from GET /api/voice/ice ({ice_servers, ttl}); with
  // udpOnly, without the TCP TURN URLs (each URL is one allocation, one
  // relay port of coturn's, per connection).
  function iceServersOf(r, udpOnly) {
    return (r?.ice_servers ?? []).map((s) => ({
      urls: [].concat(s.urls).filter((u) => !udpOnly || !/transport=tcp/.test(u)),
      username: s.username,
      credential: s.credential,
    })).filter((s) => s.urls.length > 0);
  }

  class VoiceClient {
    constructor(name, { token, userId, stream, udpOnly = false }) {
      this.name = name;
      this.udpOnly = udpOnly;
      this.token = token;
      this.userId = userId;
      this.stream = stream;
      this.frames = [];       // every frame received, parsed, in order
      this.waiters = [];
      this.peers = new Map(); // remote user id -> peer
      this.pending = new Map(); // remote user id -> candidates not yet applied
      this.channelId = null;
      this.iceServers = null;
      this.iceReady = null;
      this.log = [];
      this.counts = { sent: 0, early_candidates: 0, candidate_errors: 0 };
      this.row = null;
    }

    note(what) {
      this.log.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
      if (this.log.length > 400) this.log.shift();
    }

    async api(method, path, body) {
      const res = await fetch(origin + path, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let json = null;
      try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
      if (!res.ok) {
        const e = new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
        e.status = res.status;
        e.body = json;
        throw e;
      }
      return json;
    }

    connect() {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${wsBase}/api/ws?token=${encodeURIComponent(this.token)}`);
        this.ws = ws;
        ws.onopen = () => { this.note('ws open'); resolve(); };
        ws.onerror = () => reject(new Error(`${this.name}: the socket failed`));
        ws.onclose = (ev) => this.note(`ws closed ${ev.code} ${ev.reason}`);
        ws.onmessage = (ev) => {
          let f;
          try { f = JSON.parse(ev.data); } catch { return; }
          f.__t = now();
          this.frames.push(f);
          this.waiters = this.waiters.filter((w) => !w.check(f));
          this.onFrame(f).catch((e) => this.note(`frame ${f.type}: ${e.message}`));
        };
      });
    }

    send(obj) {
      this.counts.sent++;
      this.ws.send(JSON.stringify(obj));
    }

    // The first frame from index `from` on that matches pred (a frame
    // already received counts).
    waitFrame(pred, timeoutMs = 10000, from = 0) {
      for (let i = from; i < this.frames.length; i++) {
        if (pred(this.frames[i])) return Promise.resolve(this.frames[i]);
      }
      return new Promise((resolve, reject) => {
        const w = {
          check: (f) => {
            if (!pred(f)) return false;
            clearTimeout(w.timer);
            resolve(f);
            return true;
          },
        };
        w.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`${this.name}: no matching frame within ${timeoutMs} ms`));
        }, timeoutMs);
        this.waiters.push(w);
      });
    }

    async subscribe(roomId) {
      const from = this.frames.length;
      this.send({ type: 'subscribe', room_id: roomId });
      const f = await this.waitFrame((x) => x.room_id === roomId &&
        (x.type === 'subscribed' || x.type === 'error'), 10000, from);
      if (f.type === 'error') throw new Error(`subscribe: ${JSON.stringify(f.payload)}`);
      return f;
    }

    // Joins a voice channel and offers to everyone already in it; returns
    // the moment the join POST was sent (ms since the epoch).
    async join(channelId) {
      const t0 = now();
      this.channelId = channelId;
      this.joinedAt = t0;
      this.joinTimes = { post: t0 };
      await this.api('POST', '/api/voice-channel/join', { channel_id: channelId });
      this.joinTimes.joined = now();
      // An offer may come in before the servers are known: it waits.
      this.iceReady = this.api('GET', '/api/voice/ice')
        .then((ice) => { this.iceServers = iceServersOf(ice, this.udpOnly); });
      const [, parts] = await Promise.all([
        this.iceReady,
        this.api('GET', `/api/voice-channel/participants?channel_id=${encodeURIComponent(channelId)}`),
      ]);
      const others = parts.map((p) => p.user_id).filter((id) => id !== this.userId);
      this.joinTimes.fetched = now();
      this.note(`joined ${channelId}; offering to ${others.length}`);
      await Promise.all(others.map((id) => this.offerTo(id)));
      this.joinTimes.offered = now();
      return t0;
    }

    async leave() {
      const ch = this.channelId;
      this.channelId = null;
      for (const id of [...this.peers.keys()]) this.dropPeer(id);
      this.pending.clear();
      if (ch) await this.api('POST', `/api/voice-channel/leave?channel_id=${encodeURIComponent(ch)}`);
    }

    newPeer(remoteId) {
      this.dropPeer(remoteId);
      const pc = new RTCPeerConnection({
        iceServers: this.iceServers || [],
        iceTransportPolicy: 'relay',
      });
      const peer = {
        id: remoteId, pc, audio: null, chain: Promise.resolve(),
        created: now(), firstPacketAt: null, unmutedAt: null, connectedAt: null,
      };
      for (const track of this.stream.getAudioTracks()) pc.addTrack(track, this.stream);
      pc.onicecandidate = (ev) => {
        if (!ev.candidate || this.peers.get(remoteId) !== peer) return;
        this.send({ type: 'voice-ice-candidate', target_user_id: remoteId, payload: ev.candidate.toJSON() });
      };
      pc.onconnectionstatechange = () => {
        this.note(`${remoteId.slice(0, 8)} ${pc.connectionState}`);
        if (pc.connectionState === 'connected' && !peer.connectedAt) peer.connectedAt = now();
      };
      pc.ontrack = (ev) => {
        const audio = document.createElement('audio');
        audio.autoplay = true;
        audio.muted = false;
        audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
        audio.dataset.peer = remoteId;
        document.getElementById('audio').appendChild(audio);
        audio.play().catch((e) => this.note(`play: ${e.message}`));
        peer.audio = audio;
        ev.track.onunmute = () => { if (!peer.unmutedAt) peer.unmutedAt = now(); };
        this.watchFirstPacket(peer);
      };
      this.peers.set(remoteId, peer);
      return peer;
    }

    dropPeer(remoteId) {
      const peer = this.peers.get(remoteId);
      if (!peer) return;
      this.peers.delete(remoteId);
      peer.pc.close();
      peer.audio?.remove();
    }

    // Polls the receiver's stats every 5 ms until its first packet, to time
    // it (docs: join to first remote audio packet).
    async watchFirstPacket(peer) {
      while (this.peers.get(peer.id) === peer && !peer.firstPacketAt) {
        const st = await peer.pc.getStats();
        st.forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'audio' && r.packetsReceived > 0 && !peer.firstPacketAt) {
            peer.firstPacketAt = now();
          }
        });
        if (!peer.firstPacketAt) await new Promise((r) => setTimeout(r, 5));
      }
    }

    async offerTo(remoteId) {
      const peer = this.newPeer(remoteId);
      const offer = await peer.pc.createOffer();
      await peer.pc.setLocalDescription(offer);
      this.send({
        type: 'voice-offer', target_user_id: remoteId,
        payload: { type: offer.type, sdp: peer.pc.localDescription.sdp },
      });
    }

    async onFrame(f) {
      if (f.type === 'voice-left') {
        // payload.user_id left (user_id is who acted: a moderator may kick).
        const gone = f.payload?.user_id ?? f.user_id;
        if (gone && gone !== this.userId && f.payload?.channel_id === this.channelId) this.dropPeer(gone);
        return;
      }
      if (!['voice-offer', 'voice-answer', 'voice-ice-candidate'].includes(f.type)) return;
      const from = f.user_id;
      if (!from || !this.channelId) return;
      const p = f.payload || {};
      if (f.type === 'voice-offer') {
        await this.iceReady;
        if (!this.channelId) return;
        const old = this.peers.get(from);
        if (old && old.pc.signalingState === 'have-local-offer' && this.userId < from) {
          this.note(`offer collision with ${from.slice(0, 8)}: keeping mine`);
          return;
        }
        const peer = this.newPeer(from);
        peer.chain = peer.chain.then(async () => {
          await peer.pc.setRemoteDescription({ type: 'offer', sdp: p.sdp ?? f.sdp });
          await this.flushCandidates(peer);
          const answer = await peer.pc.createAnswer();
          await peer.pc.setLocalDescription(answer);
          this.send({
            type: 'voice-answer', target_user_id: from,
            payload: { type: answer.type, sdp: peer.pc.localDescription.sdp },
          });
        });
        return peer.chain;
      }
      const peer = this.peers.get(from);
      if (f.type === 'voice-answer') {
        if (!peer || peer.pc.signalingState !== 'have-local-offer') return;
        peer.chain = peer.chain.then(async () => {
          await peer.pc.setRemoteDescription({ type: 'answer', sdp: p.sdp ?? f.sdp });
          await this.flushCandidates(peer);
        });
        return peer.chain;
      }
      // A candidate: applied once its connection has the remote description.
      if (!p.candidate && !f.candidate) return;
      const cand = p.candidate ? p : { candidate: f.candidate, sdpMid: '0', sdpMLineIndex: 0 };
      if (!this.pending.has(from)) this.pending.set(from, []);
      this.pending.get(from).push(cand);
      if (peer && peer.pc.remoteDescription) {
        peer.chain = peer.chain.then(() => this.flushCandidates(peer));
        return peer.chain;
      }
      this.counts.early_candidates++;
    }

    async flushCandidates(peer) {
      const list = this.pending.get(peer.id) || [];
      this.pending.delete(peer.id);
      for (const c of list) {
        try {
          await peer.pc.addIceCandidate(c);
        } catch (e) {
          this.counts.candidate_errors++; // a candidate of an earlier connection
        }
      }
    }

    // Figures of each remote peer: inbound audio and the selected pair.
    async stats() {
      const out = {};
      for (const [id, peer] of this.peers) {
        const st = await peer.pc.getStats();
        let inbound = null;
        let outbound = null;
        let pairId = null;
        st.forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'audio') inbound = r;
          if (r.type === 'outbound-rtp' && r.kind === 'audio') outbound = r;
          if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
        });
        const pair = pairId ? st.get(pairId) : null;
        const local = pair ? st.get(pair.localCandidateId) : null;
        const remote = pair ? st.get(pair.remoteCandidateId) : null;
        out[id] = {
          connectionState: peer.pc.connectionState,
          packetsReceived: inbound?.packetsReceived ?? 0,
          packetsLost: inbound?.packetsLost ?? 0,
          bytesReceived: inbound?.bytesReceived ?? 0,
          packetsSent: outbound?.packetsSent ?? 0,
          jitter: inbound?.jitter ?? null,
          audioLevel: inbound?.audioLevel ?? 0,
          totalAudioEnergy: inbound?.totalAudioEnergy ?? 0,
          codec: inbound?.codecId ? st.get(inbound.codecId)?.mimeType ?? null : null,
          localType: local?.candidateType ?? null,
          localAddress: local?.address ?? null,
          localProtocol: local?.protocol ?? null,
          relayProtocol: local?.relayProtocol ?? null,
          remoteType: remote?.candidateType ?? null,
          remoteAddress: remote?.address ?? null,
          rtt: pair?.currentRoundTripTime ?? null,
          audioPaused: peer.audio ? peer.audio.paused : null,
          audioMuted: peer.audio ? peer.audio.muted : null,
          connectMs: peer.connectedAt ? peer.connectedAt - peer.created : null,
          firstPacketMs: peer.firstPacketAt && this.joinedAt ? peer.firstPacketAt - this.joinedAt : null,
          at: { created: peer.created, connected: peer.connectedAt, unmuted: peer.unmutedAt,
            firstPacket: peer.firstPacketAt },
        };
      }
      return out;
    }

    // A line per remote peer in the page, for the screenshots.
    async render() {
      const s = await this.stats();
      if (!this.row) {
        this.row = document.createElement('section');
        document.getElementById('clients').appendChild(this.row);
      }
      const rows = Object.entries(s).map(([id, x]) =>
        `<tr><td>${id.slice(0, 8)}</td><td>${x.connectionState}</td><td>${x.localType ?? '-'}/${x.relayProtocol ?? '-'}</td>` +
        `<td>${x.packetsReceived}</td><td>${x.audioLevel.toFixed(3)}</td></tr>`).join('');
      this.row.innerHTML = `<h2>${this.name} <small>${this.userId.slice(0, 8)}</small></h2>` +
        '<table><tr><th>peer</th><th>state</th><th>local candidate</th><th>packets</th><th>audio level</th></tr>' +
        `${rows}</table>`;
      return s;
    }
  }

  let micPromise = null;
  window.vc = {
    clients: {},
    mic() {
      micPromise ??= navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      return micPromise;
    },
    async create(name, opts) {
      const stream = await this.mic();
      const c = new VoiceClient(name, { ...opts, stream });
      this.clients[name] = c;
      await c.connect();
      return c.userId;
    },
    async renderAll() {
      const out = {};
      for (const [name, c] of Object.entries(this.clients)) out[name] = await c.render();
      return out;
    },
  };
})();
