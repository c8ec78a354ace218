#!/usr/bin/env node
// Time from a voice-channel join to the first remote audio packet, over
// repeated joins (bench/voice/README.md).
//
//   node bench/voice/join_latency.mjs [JOINS]        (default 20)
//   ENCLAVR_BIN=build/rel/bin (default)
//
// A private stack (scripts/stack.sh, coturn included) and Chromium with a
// fake microphone, inside a network namespace that has only lo (the
// script re-runs itself under `unshare -n` when it is not in one; root).
// Two users in one channel: "stay" joins once; "cycler" joins, is heard
// and hears, leaves, JOINS times. Each join is measured from the moment
// its join POST is sent (cycler's page clock, ms since the epoch; both
// pages share the host's clock) to:
//   - cycler's first inbound audio packet from stay (the joiner hears),
//   - stay's first inbound audio packet from cycler (the others hear it),
// with its steps: join POST answered, ICE servers and participants
// fetched, offer sent, peer connected. Prints p50/p99 and every sample.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const browserDir = path.resolve(here, '../../tests/browser');
const { startStack, loopbackOnly, runInLoopbackNamespace, api, newUser } =
  await import(path.join(browserDir, 'stack.mjs'));
const { launchBrowser, openVoicePage } = await import(path.join(browserDir, 'browser.mjs'));

const JOINS = Number(process.argv[2] || 20);
const WAIT_MS = 20000;

if (!loopbackOnly()) {
  process.exit(runInLoopbackNamespace([fileURLToPath(import.meta.url), ...process.argv.slice(2)]));
}

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

function summary(name, xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `${name.padEnd(34)} n=${s.length} p50 ${pct(s, 50).toFixed(1)} ms  p99 ${pct(s, 99).toFixed(1)} ms` +
    `  min ${s[0].toFixed(1)}  max ${s[s.length - 1].toFixed(1)}  mean ${mean.toFixed(1)}`;
}

const stack = await startStack();
let browser;
try {
  browser = await launchBrowser({ media: true });
  const stay = await newUser(stack.base, 'stay');
  const cyc = await newUser(stack.base, 'cycler');
  const room = await api(stack.base, 'POST', '/api/room/create', { name: `bench-${Date.now()}` }, stay.token);
  await api(stack.base, 'POST', '/api/room/join', { room_id: room.id }, cyc.token);
  const ch = await api(stack.base, 'POST', '/api/voice-channel/create',
    { room_id: room.id, name: 'bench' }, stay.token);
  const channelId = ch.id;

  const pages = {};
  for (const [name, u] of [['stay', stay], ['cycler', cyc]]) {
    pages[name] = await openVoicePage(browser, stack.base);
    await pages[name].evaluate(async ([n, user, roomId]) => {
      await window.vc.create(n, { token: user.token, userId: user.id });
      await window.vc.clients[n].subscribe(roomId);
    }, [name, u, room.id]);
  }
  await pages.stay.evaluate((chId) => window.vc.clients.stay.join(chId), channelId);

  const rows = [];
  for (let i = 0; i < JOINS; i++) {
    const r = await pages.cycler.evaluate(async ([chId, other, waitMs]) => {
      const c = window.vc.clients.cycler;
      const t0 = await c.join(chId);
      const deadline = Date.now() + waitMs;
      for (;;) {
        const p = c.peers.get(other);
        if (p?.firstPacketAt) return { t0, times: c.joinTimes, peer: { ...p, pc: undefined, audio: undefined, chain: undefined } };
        if (Date.now() > deadline) throw new Error('no packet from the staying peer');
        await new Promise((res) => setTimeout(res, 5));
      }
    }, [channelId, stay.id, WAIT_MS]);
    const heard = await pages.stay.evaluate(async ([other, waitMs]) => {
      const c = window.vc.clients.stay;
      const deadline = Date.now() + waitMs;
      for (;;) {
        const p = c.peers.get(other);
        if (p?.firstPacketAt) return { created: p.created, connectedAt: p.connectedAt, firstPacketAt: p.firstPacketAt };
        if (Date.now() > deadline) throw new Error('no packet from the joiner');
        await new Promise((res) => setTimeout(res, 5));
      }
    }, [cyc.id, WAIT_MS]);
    const { t0, times, peer } = r;
    const row = {
      joinerHears: peer.firstPacketAt - t0,
      othersHear: heard.firstPacketAt - t0,
      joinPost: times.joined - t0,
      fetched: times.fetched - t0,
      offered: times.offered - t0,
      connected: peer.connectedAt - t0,
    };
    rows.push(row);
    console.log(`join ${String(i + 1).padStart(2)}: joiner hears ${row.joinerHears.toFixed(1)} ms, ` +
      `others hear ${row.othersHear.toFixed(1)} ms (POST ${row.joinPost.toFixed(1)}, ice+participants ` +
      `${row.fetched.toFixed(1)}, offer sent ${row.offered.toFixed(1)}, connected ${row.connected.toFixed(1)})`);

    // Leave, and wait until the staying page has dropped the connection.
    const from = await pages.stay.evaluate(() => window.vc.clients.stay.frames.length);
    await pages.cycler.evaluate(() => window.vc.clients.cycler.leave());
    await pages.stay.evaluate(([other, f]) => window.vc.clients.stay.waitFrame(
      (x) => x.type === 'voice-left' && x.payload?.user_id === other, 10000, f), [cyc.id, from]);
  }

  console.log(`\njoin -> first remote audio packet, ${JOINS} joins (1 joiner, 1 participant staying; ` +
    'TURN relay over loopback, sanitizer or release build as ENCLAVR_BIN says):');
  console.log(summary('joiner hears the participant', rows.map((x) => x.joinerHears)));
  console.log(summary('participant hears the joiner', rows.map((x) => x.othersHear)));
  console.log(summary('  join POST answered', rows.map((x) => x.joinPost)));
  console.log(summary('  ICE servers + participants', rows.map((x) => x.fetched)));
  console.log(summary('  offer sent', rows.map((x) => x.offered)));
  console.log(summary('  joiner connected (DTLS done)', rows.map((x) => x.connected)));
} finally {
  await browser?.close();
  stack.stop();
}
