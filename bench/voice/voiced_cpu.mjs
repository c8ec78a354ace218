#!/usr/bin/env node
// voiced's CPU time while CHANNELS voice channels of PER participants are
// connected (bench/voice/README.md).
//
//   node bench/voice/voiced_cpu.mjs [api|browser]   (default api)
//   CHANNELS=10 PER=4 IDLE_S=30 SPEAK_S=30 SPEAK_MS=1000 ENCLAVR_BIN=build/rel/bin
//
// A private stack (scripts/stack.sh, coturn included) in a network
// namespace that has only lo (re-run under `unshare -n` when needed; root).
// Each channel is in a room of its own whose members are its participants.
//
// api (the stand-in; no media): every participant is a Node client with a
// token and a /api/ws socket subscribed to its room. Participants join one
// after another per channel (channels in parallel); a joiner does what the
// browser client does — join, GET /api/voice/ice, GET participants — and
// signals each participant already in: a voice-offer (an SDP of a real
// Chromium audio offer's size), the answer back, and 4 ICE candidates each
// way, all through gatewayd and voiced. Then everyone stays connected:
// IDLE_S seconds doing nothing, then SPEAK_S seconds in which each
// participant flips is_speaking every SPEAK_MS (POST
// /api/voice-channel/participant/update; the room gets voice-speaking).
//
// browser: the same channels with real Chromium peers (a page per channel,
// PER clients of tests/browser/voice-client.js in it, relay-only through
// coturn), then IDLE_S seconds connected (speaking updates are not sent).
// The clients use the UDP TURN URL only: each URL costs a relay port per
// peer connection, and a stack's coturn has 200 (scripts/stack.sh), fewer
// than the 2 x 120 that 10 x 4 participants would take with UDP and TCP.
//
// Prints voiced's (and gatewayd's, coturn's) CPU time in each phase, read
// from /proc/<pid>/stat.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const browserDir = path.resolve(here, '../../tests/browser');
const { startStack, loopbackOnly, runInLoopbackNamespace, api, newUser } =
  await import(path.join(browserDir, 'stack.mjs'));

const MODE = process.argv[2] || 'api';
const CHANNELS = Number(process.env.CHANNELS || 10);
const PER = Number(process.env.PER || 4);
const IDLE_S = Number(process.env.IDLE_S || 30);
const SPEAK_S = Number(process.env.SPEAK_S || 30);
const SPEAK_MS = Number(process.env.SPEAK_MS || 1000);
const CANDIDATES = 4;

if (!['api', 'browser'].includes(MODE)) {
  console.error('usage: voiced_cpu.mjs [api|browser]');
  process.exit(2);
}
if (!loopbackOnly() || (MODE === 'api' && typeof WebSocket === 'undefined')) {
  const flags = typeof WebSocket === 'undefined' ? ['--experimental-websocket'] : [];
  const args = [...process.execArgv, ...flags, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  if (loopbackOnly()) {
    const { spawnSync } = await import('node:child_process');
    process.exit(spawnSync(process.execPath, args, { stdio: 'inherit' }).status);
  }
  process.exit(runInLoopbackNamespace(args));
}

const TICK = 100; // getconf CLK_TCK on Linux
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
}
function pidOf(runDir, name) {
  return Number(readFileSync(path.join(runDir, 'pids', `${name}.pid`), 'utf8').trim());
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A synthetic SDP the size of Chromium's audio-only offer (~2.4 KB).
const FAKE_SDP = `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n${
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n'.repeat(40)}`;
const FAKE_CANDIDATE = (i) => ({
  candidate: `candidate:${1000 + i} 1 udp 41885439 127.0.0.1 ${50000 + i} typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag abcd network-id 1`,
  sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abcd',
});

// A participant of the stand-in: its socket answers offers and returns
// candidates, as a browser would.
class FakeClient {
  constructor(base, user) {
    this.base = base;
    this.user = user;
    this.waiters = [];
    this.counts = {};
  }

  open(roomId) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.base.replace(/^http/, 'ws')}/api/ws?token=${this.user.token}`);
      this.ws = ws;
      ws.onerror = () => reject(new Error('socket failed'));
      ws.onclose = (ev) => { if (!this.closing) console.error(`socket of ${this.user.username} closed ${ev.code}`); };
      ws.onmessage = (ev) => {
        const f = JSON.parse(ev.data);
        this.counts[f.type] = (this.counts[f.type] || 0) + 1;
        if (f.type === 'error') console.error(`${this.user.username}: ${JSON.stringify(f.payload)}`);
        if (f.type === 'voice-offer') {
          this.signal('voice-answer', f.user_id, { type: 'answer', sdp: FAKE_SDP });
          for (let i = 0; i < CANDIDATES; i++) this.signal('voice-ice-candidate', f.user_id, FAKE_CANDIDATE(i));
        }
        this.waiters = this.waiters.filter((w) => !w(f));
      };
      ws.onopen = () => {
        this.waitFor((f) => f.type === 'subscribed').then(resolve, reject);
        ws.send(JSON.stringify({ type: 'subscribe', room_id: roomId }));
      };
    });
  }

  waitFor(pred, ms = 20000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.user.username}: wait timed out`)), ms);
      this.waiters.push((f) => { if (!pred(f)) return false; clearTimeout(t); resolve(f); return true; });
    });
  }

  signal(type, target, payload) {
    this.ws.send(JSON.stringify({ type, target_user_id: target, payload }));
  }

  call(method, p, body) { return api(this.base, method, p, body, this.user.token); }

  // Join as the browser client does, then offer to each one already in and
  // wait for every answer and candidate back.
  async join(channelId) {
    await this.call('POST', '/api/voice-channel/join', { channel_id: channelId });
    const [, parts] = await Promise.all([
      this.call('GET', '/api/voice/ice'),
      this.call('GET', `/api/voice-channel/participants?channel_id=${channelId}`),
    ]);
    const others = parts.map((p) => p.user_id).filter((id) => id !== this.user.id);
    await Promise.all(others.map(async (id) => {
      let n = 0;
      const done = this.waitFor((f) => f.user_id === id &&
        (f.type === 'voice-answer' || f.type === 'voice-ice-candidate') && ++n === 1 + CANDIDATES);
      this.signal('voice-offer', id, { type: 'offer', sdp: FAKE_SDP });
      for (let i = 0; i < CANDIDATES; i++) this.signal('voice-ice-candidate', id, FAKE_CANDIDATE(i));
      await done;
    }));
    return others.length;
  }
}

const stack = await startStack();
let browser;
try {
  const pids = { voiced: pidOf(stack.runDir, 'voiced'), gatewayd: pidOf(stack.runDir, 'gatewayd'),
    turnserver: pidOf(stack.runDir, 'turnserver') };
  const cpu = () => Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  const report = (phase, a, b, secs, extra = '') => {
    const parts = Object.keys(pids).map((k) =>
      `${k} ${(b[k] - a[k]).toFixed(2)} s (${(100 * (b[k] - a[k]) / secs).toFixed(1)}%)`);
    console.log(`${phase.padEnd(26)} ${secs.toFixed(1)} s wall: ${parts.join(', ')}${extra}`);
  };

  // Accounts, rooms and channels (not measured).
  const t0 = Date.now();
  const chans = [];
  for (let c = 0; c < CHANNELS; c++) {
    const users = [];
    for (let p = 0; p < PER; p++) users.push(await newUser(stack.base, `c${c}p${p}`));
    const room = await api(stack.base, 'POST', '/api/room/create', { name: `bench-${c}-${Date.now()}` }, users[0].token);
    for (const u of users.slice(1)) await api(stack.base, 'POST', '/api/room/join', { room_id: room.id }, u.token);
    const ch = await api(stack.base, 'POST', '/api/voice-channel/create',
      { room_id: room.id, name: `bench ${c}` }, users[0].token);
    chans.push({ room, channelId: ch.id, users });
  }
  console.log(`${CHANNELS} channels x ${PER} participants (${MODE}); set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  let joinStats = '';
  let before = cpu();
  let t = Date.now();
  let clients = [];
  if (MODE === 'api') {
    for (const ch of chans) {
      ch.clients = ch.users.map((u) => new FakeClient(stack.base, u));
      await Promise.all(ch.clients.map((c) => c.open(ch.room.id)));
      clients.push(...ch.clients);
    }
    report('sockets opened', before, cpu(), (Date.now() - t) / 1000);
    before = cpu();
    t = Date.now();
    const pairs = await Promise.all(chans.map(async (ch) => {
      let n = 0;
      for (const c of ch.clients) n += await c.join(ch.channelId);
      return n;
    }));
    const npairs = pairs.reduce((a, b) => a + b, 0);
    const requests = CHANNELS * PER * 3 + npairs * 2 * (1 + CANDIDATES); // join, ice, participants; signals
    const used = cpu().voiced - before.voiced;
    joinStats = `; ${CHANNELS * PER} joins, ${npairs} pairs, ${npairs * 2 * (1 + CANDIDATES)} signals relayed, ` +
      `voiced ${(used * 1e6 / requests).toFixed(0)} CPU-µs per request (${requests})`;
  } else {
    const { launchBrowser, openVoicePage } = await import(path.join(browserDir, 'browser.mjs'));
    browser = await launchBrowser({ media: true });
    for (const ch of chans) {
      ch.page = await openVoicePage(browser, stack.base);
      await ch.page.evaluate(async ([users, roomId]) => {
        for (const u of users) {
          await window.vc.create(u.username, { token: u.token, userId: u.id, udpOnly: true });
          await window.vc.clients[u.username].subscribe(roomId);
        }
      }, [ch.users, ch.room.id]);
    }
    report('pages and sockets opened', before, cpu(), (Date.now() - t) / 1000);
    before = cpu();
    t = Date.now();
    await Promise.all(chans.map((ch) => ch.page.evaluate(async ([users, chId]) => {
      for (const u of users) await window.vc.clients[u.username].join(chId);
    }, [ch.users, ch.channelId])));
    // Connected: every client receives audio from each of the others.
    const deadline = Date.now() + 60000;
    for (;;) {
      const states = await Promise.all(chans.map((ch) => ch.page.evaluate(async () => {
        const out = [];
        for (const c of Object.values(window.vc.clients)) {
          for (const [id, s] of Object.entries(await c.stats())) {
            out.push({ ok: s.packetsReceived > 0, what: `${c.name} (${c.userId.slice(0, 8)}) <- ${id.slice(0, 8)}: ` +
              `${s.connectionState} ${c.peers.get(id)?.pc.iceGatheringState}/${c.peers.get(id)?.pc.iceConnectionState}` +
              ` ${s.packetsReceived} in, ${s.packetsSent} out` });
          }
        }
        return out;
      })));
      const flat = states.flat().map((x) => x.ok);
      if (flat.length === CHANNELS * PER * (PER - 1) && flat.every(Boolean)) break;
      if (Date.now() > deadline) {
        const bad = states.flat().filter((x) => !x.ok).map((x) => x.what);
        console.error(`not receiving: ${bad.join('; ')}`);
        for (const b of bad) {
          const [, recv, send] = b.match(/\((\w+)\) <- (\w+)/) || [];
          const back = states.flat().find((x) => x.what.includes(`(${send}) <- ${recv}`));
          if (back) console.error(`  the other way: ${back.what}`);
        }
        const turnLog = readFileSync(path.join(stack.runDir, 'log', 'turnserver.log'), 'utf8')
          .split('\n').filter((l) => /error|cannot|fail|no available ports/i.test(l));
        console.error(`coturn's log: ${turnLog.length} error lines, the last:\n${turnLog.slice(-5).join('\n')}`);
        throw new Error(`only ${flat.filter(Boolean).length} of ${CHANNELS * PER * (PER - 1)} peer connections receive audio`);
      }
      await sleep(250);
    }
    joinStats = `; ${CHANNELS * PER} joins, ${CHANNELS * PER * (PER - 1)} peer connections receiving audio`;
  }
  report('joins and signalling', before, cpu(), (Date.now() - t) / 1000, joinStats);

  before = cpu();
  t = Date.now();
  await sleep(IDLE_S * 1000);
  report('connected, idle', before, cpu(), (Date.now() - t) / 1000);
  if (MODE === 'browser') {
    const rx = await Promise.all(chans.map((ch) => ch.page.evaluate(async () => {
      let n = 0;
      let min = Infinity;
      for (const c of Object.values(window.vc.clients)) {
        for (const s of Object.values(await c.stats())) { n++; min = Math.min(min, s.packetsReceived); }
      }
      return { n, min };
    })));
    console.log(`  ${rx.reduce((a, b) => a + b.n, 0)} inbound audio streams, fewest packets ${Math.min(...rx.map((x) => x.min))}`);
  }

  if (MODE === 'api' && SPEAK_S > 0) {
    before = cpu();
    t = Date.now();
    const end = t + SPEAK_S * 1000;
    let updates = 0;
    const errors = [];
    const speakingBefore = clients.reduce((a, c) => a + (c.counts['voice-speaking'] || 0), 0);
    await Promise.all(chans.flatMap((ch) => ch.clients.map(async (c) => {
      let speaking = false;
      await sleep(Math.random() * SPEAK_MS);
      while (Date.now() < end) {
        speaking = !speaking;
        const next = Date.now() + SPEAK_MS;
        try {
          await c.call('POST', '/api/voice-channel/participant/update', { channel_id: ch.channelId, is_speaking: speaking });
          updates++;
        } catch (e) {
          errors.push(e.message);
        }
        await sleep(Math.max(0, next - Date.now()));
      }
    })));
    const secs = (Date.now() - t) / 1000;
    const after = cpu();
    const events = clients.reduce((a, c) => a + (c.counts['voice-speaking'] || 0), 0) - speakingBefore;
    report('connected, speaking', before, after, secs,
      `; ${updates} updates (${(updates / secs).toFixed(1)}/s), ${events} voice-speaking delivered, ` +
      `voiced ${((after.voiced - before.voiced) * 1e6 / Math.max(1, updates)).toFixed(0)} CPU-µs per update`);
    if (errors.length) console.log(`  ${errors.length} updates failed, e.g. ${errors[0]}`);
  }
  for (const c of clients) { c.closing = true; c.ws.close(); }
} finally {
  await browser?.close();
  stack.stop();
}
