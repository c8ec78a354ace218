// Voice end to end: three Chromium pages (three users, fake microphones)
// join one voice channel and hear each other through the stack's TURN
// relay (coturn started by scripts/stack.sh, credentials from
// GET /api/voice/ice), signalling over /api/ws (docs/voice.md); a member of
// the room who is not in the channel can neither signal a participant nor
// be signalled.
//
// Media must never leave the host: the test runs inside a network
// namespace whose only interface is lo (the Makefile runs it under
// `unshare -n`; run by hand elsewhere, it re-runs itself that way).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, outputDir, loopbackOnly, runInLoopbackNamespace, api, newUser } from './stack.mjs';
import { launchBrowser, openVoicePage } from './browser.mjs';

const PACKETS_MIN = 100;      // ~2 s of 20 ms Opus frames
const MEDIA_WITHIN_MS = 10000; // after the last join, for every peer of every page
const self = fileURLToPath(import.meta.url);
const ms = (x) => (x == null ? '-' : `${Math.round(x)} ms`);
const isLoopback = (a) => typeof a === 'string' && (a.startsWith('127.') || a === '::1');

if (!loopbackOnly()) {
  test('voice test, re-run inside a network namespace with only lo', () => {
    const status = runInLoopbackNamespace(['--test', self]);
    assert.equal(status, 0, 'the voice test failed inside its namespace (its output is above)');
  });
} else {
  let stack;
  let browser;
  let room;
  let channelId;
  const users = {};  // name -> {id, username, token}
  const pages = {};  // name -> page
  const participants = ['alice', 'bob', 'carol'];

  let failed = false; // then the pages' logs are printed
  const guard = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  };

  before(guard(async () => {
    stack = await startStack();
    browser = await launchBrowser({ media: true });
    for (const name of [...participants, 'dave']) users[name] = await newUser(stack.base, name);
    room = await api(stack.base, 'POST', '/api/room/create', { name: `voice-${Date.now()}` },
      users.alice.token);
    for (const name of ['bob', 'carol', 'dave']) {
      await api(stack.base, 'POST', '/api/room/join', { room_id: room.id }, users[name].token);
    }
    const ch = await api(stack.base, 'POST', '/api/voice-channel/create',
      { room_id: room.id, name: 'General voice' }, users.alice.token);
    channelId = ch.id;
    assert.ok(channelId, `no channel id in ${JSON.stringify(ch)}`);
    await Promise.all(Object.keys(users).map(async (name) => {
      const page = await openVoicePage(browser, stack.base);
      pages[name] = page;
      await page.evaluate(async ([n, u, roomId]) => {
        await window.vc.create(n, { token: u.token, userId: u.id });
        await window.vc.clients[n].subscribe(roomId);
      }, [name, users[name], room.id]);
    }));
  }));

  after(async () => {
    if (failed) {
      for (const [name, page] of Object.entries(pages)) {
        const log = await page.evaluate((n) => window.vc.clients[n]?.log ?? [], name).catch(() => []);
        console.error(`--- ${name}'s page log\n${log.join('\n')}\nproblems: ${page.problems.join('; ')}`);
      }
    }
    await browser?.close();
    stack?.stop();
  });

  const client = (name, fn, arg) =>
    pages[name].evaluate(([n, f, a]) => {
      const c = window.vc.clients[n];
      // eslint-disable-next-line no-new-func
      return new Function('c', 'a', `return (${f})(c, a);`)(c, a);
    }, [name, fn.toString(), arg]);

  test('three participants hear each other through the TURN relay', guard(async (t) => {
    // Join one after another: each newer joiner offers to those already in.
    const marks = {};
    for (const name of participants) {
      const t0 = Date.now();
      await client(name, (c, ch) => c.join(ch), channelId);
      marks[name] = Date.now() - t0;
    }
    const lastJoin = Date.now();

    // The earlier joiners learn of the later ones on their room socket.
    for (const [i, name] of participants.entries()) {
      for (const later of participants.slice(i + 1)) {
        await client(name, (c, a) =>
          c.waitFrame((f) => f.type === 'voice-joined' && f.user_id === a, 10000), users[later].id);
      }
    }

    // Every page hears both others: packets, a level above zero, a relay.
    const maxLevel = {};
    let last;
    const ok = () => participants.every((name) => {
      const peers = last[name];
      const others = participants.filter((o) => o !== name);
      return others.every((o) => {
        const s = peers?.[users[o].id];
        return s && s.packetsReceived > PACKETS_MIN && maxLevel[`${name}<${o}`] > 0 &&
          s.localType === 'relay';
      });
    });
    for (;;) {
      last = {};
      for (const name of participants) {
        last[name] = await pages[name].evaluate(() => window.vc.renderAll()).then((r) => r[name]);
        for (const o of participants) {
          const s = last[name][users[o]?.id];
          if (s) maxLevel[`${name}<${o}`] = Math.max(maxLevel[`${name}<${o}`] ?? 0, s.audioLevel);
        }
      }
      if (ok() || Date.now() - lastJoin > MEDIA_WITHIN_MS) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const elapsed = Date.now() - lastJoin;

    mkdirSync(path.join(outputDir, 'screenshots'), { recursive: true });
    for (const name of participants) {
      await pages[name].screenshot({ path: path.join(outputDir, 'screenshots', `voice-${name}.png`) });
    }

    for (const name of participants) {
      for (const o of participants.filter((x) => x !== name)) {
        const s = last[name][users[o].id];
        const line = `${name} <- ${o}: ${s ? `${s.packetsReceived} packets, ${s.packetsLost} lost, ` +
          `audioLevel ${s.audioLevel.toFixed(3)} (max ${maxLevel[`${name}<${o}`].toFixed(3)}), ` +
          `${s.codec}, local ${s.localType}/${s.relayProtocol} ${s.localAddress} -> ` +
          `remote ${s.remoteType} ${s.remoteAddress}, connected in ${ms(s.connectMs)}, ` +
          `first packet ${ms(s.firstPacketMs)} after ${name}'s join` : 'no connection'}`;
        t.diagnostic(line);
      }
    }
    t.diagnostic(`joins took ${JSON.stringify(marks)} ms; media checked ${elapsed} ms after the last join`);

    for (const name of participants) {
      for (const o of participants.filter((x) => x !== name)) {
        const s = last[name][users[o].id];
        const who = `${name} hearing ${o}`;
        assert.ok(s, `${who}: no connection`);
        assert.equal(s.connectionState, 'connected', who);
        assert.ok(s.packetsReceived > PACKETS_MIN, `${who}: ${s.packetsReceived} packets`);
        assert.ok(maxLevel[`${name}<${o}`] > 0, `${who}: audioLevel stayed 0`);
        assert.equal(s.localType, 'relay', `${who}: the selected pair is not relayed`);
        assert.ok(isLoopback(s.localAddress) && isLoopback(s.remoteAddress),
          `${who}: ${s.localAddress} -> ${s.remoteAddress} is not loopback`);
        assert.equal(s.audioPaused, false, `${who}: the audio element is not playing`);
        assert.equal(s.audioMuted, false, `${who}: the audio element is muted`);
      }
    }
    for (const [name, page] of Object.entries(pages)) {
      assert.deepEqual(page.problems, [], `${name}'s page: console errors`);
    }
  }));

  test('signals between a participant and a non-participant are refused', guard(async () => {
    const alice = users.alice.id;
    const dave = users.dave.id;
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

    // dave (in the room, not in the channel) offers to alice: an error to
    // dave, nothing to alice.
    const err = await client('dave', (c, [a, sdp]) => {
      const from = c.frames.length;
      c.send({ type: 'voice-offer', target_user_id: a, payload: { type: 'offer', sdp } });
      return c.waitFrame((f) => f.type === 'error', 10000, from);
    }, [alice, sdp]);
    assert.equal(err.payload?.code, 'not_in_channel', JSON.stringify(err));

    // alice signals dave: refused the same way.
    const err2 = await client('alice', (c, d) => {
      const from = c.frames.length;
      c.send({
        type: 'voice-ice-candidate', target_user_id: d,
        payload: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' },
      });
      return c.waitFrame((f) => f.type === 'error', 10000, from);
    }, dave);
    assert.equal(err2.payload?.code, 'not_in_channel', JSON.stringify(err2));

    // A barrier: a signal bob sends alice after both refusals arrives; by
    // then nothing of dave's has reached her, nor anything of hers dave.
    const marker = `barrier-${Date.now()}`;
    await client('bob', (c, [a, m]) =>
      c.send({ type: 'voice-ice-candidate', target_user_id: a, payload: { barrier: m } }), [alice, marker]);
    const relayed = await client('alice', (c, [b, m]) => c.waitFrame((f) => f.type === 'voice-ice-candidate' &&
      f.user_id === b && f.payload?.barrier === m, 10000), [users.bob.id, marker]);
    // The relayed envelope: the sender, where it comes from, the payload.
    assert.equal(relayed.room_id, room.id);
    assert.equal(relayed.channel_id, channelId);
    assert.equal(relayed.target_user_id, alice);
    assert.deepEqual(relayed.payload, { barrier: marker });
    assert.ok(!Number.isNaN(Date.parse(relayed.timestamp)), `timestamp ${relayed.timestamp}`);

    const fromDave = await client('alice', (c, d) => c.frames.filter((f) => f.user_id === d &&
      ['voice-offer', 'voice-answer', 'voice-ice-candidate'].includes(f.type)), dave);
    assert.deepEqual(fromDave, [], 'alice received a signal from dave');
    const toDave = await client('dave', (c) => c.frames.filter((f) => ['voice-offer', 'voice-answer',
      'voice-ice-candidate'].includes(f.type)));
    assert.deepEqual(toDave, [], 'dave received a signal');
  }));
}
