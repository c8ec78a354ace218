// Measures the web client in Debian's Chromium (bench/web/README.md):
//   load    10 cold first loads of / (a fresh context each): JS+CSS bytes
//           transferred (compressed, as on the wire) and first contentful
//           paint from the performance timeline; also when the sign-in
//           form was on screen.
//   scroll  signed in, the room of N messages: scroll from the newest to
//           the oldest (history loads as it goes), then back down through
//           all of them, 120 px per frame up and 400 px per frame down,
//           with a Chromium trace recorded; frame times from
//           requestAnimationFrame and frames and long tasks from the trace.
//
//   node client_perf.mjs BASE USERNAME PASSWORD ROOM_ID MESSAGES   (cwd tests/browser)
import { writeFileSync } from 'node:fs';
import { launchBrowser } from '../../tests/browser/browser.mjs';

const [base, username, password, roomId, count] = process.argv.slice(2);
const LOADS = 10;
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]; };
const r1 = (x) => Math.round(x * 10) / 10;

// One first load in a fresh context: bytes of JS and CSS as transferred
// (gzip bodies; with and without the response headers) and paint times.
async function coldLoad(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(base + '/');
  const formAt = await page.waitForFunction(() => document.querySelector('form.auth-form') && performance.now())
    .then((h) => h.jsonValue());
  const r = await page.evaluate(() => {
    const out = { fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime, files: 0, body: 0, wire: 0, raw: 0 };
    for (const e of performance.getEntriesByType('resource')) {
      if (!/\.(js|css)$/.test(new URL(e.name).pathname)) continue;
      out.files++;
      out.body += e.encodedBodySize;
      out.wire += e.transferSize;
      out.raw += e.decodedBodySize;
    }
    return out;
  });
  await context.close();
  return { ...r, formAt };
}

async function measureLoads(browser) {
  const runs = [];
  for (let i = 0; i < LOADS; i++) runs.push(await coldLoad(browser));
  const b = runs[runs.length - 1];
  const kib = (x) => `${(x / 1024).toFixed(1)} KiB`;
  console.log(`load: ${b.files} JS and CSS files, ${kib(b.body)} compressed bodies`
    + ` (${kib(b.wire)} with response headers; ${kib(b.raw)} uncompressed)`);
  const fcps = runs.map((r) => r.fcp);
  const forms = runs.map((r) => r.formAt);
  console.log(`load: first contentful paint p50 ${r1(pct(fcps, 50))} ms, max ${r1(Math.max(...fcps))} ms;`
    + ` sign-in form on screen p50 ${r1(pct(forms, 50))} ms, max ${r1(Math.max(...forms))} ms (${LOADS} cold loads)`);
}

// Runs in the page: scrolls the list's scroller by `step` px a frame until
// it stops moving at the end (top when step < 0) for `settleMs`.
function scrollThrough([step, settleMs, limitMs]) {
  const row = document.querySelector('#view [data-testid="message"]');
  let el = row;
  while (el && !(el.scrollHeight > el.clientHeight + 10 && /auto|scroll/.test(getComputedStyle(el).overflowY))) el = el.parentElement;
  if (!el) throw new Error('no scrolling container around the messages');
  const times = [];
  return new Promise((resolve) => {
    const t0 = performance.now();
    let still = t0;
    let last = el.scrollTop;
    const frame = (t) => {
      times.push(t);
      el.scrollTop += step;
      if (el.scrollTop !== last) { still = t; last = el.scrollTop; }
      if (t - still > settleMs || t - t0 > limitMs) {
        const gaps = times.slice(1).map((x, i) => x - times[i]);
        resolve({ frames: times.length, ms: t - t0, gaps, rows: document.querySelectorAll('#view [data-testid="message"]').length });
        return;
      }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}

function report(what, r) {
  const fps = r.frames / (r.ms / 1000);
  const slow = r.gaps.filter((g) => g > 1000 / 60 * 1.5).length;
  console.log(`scroll ${what}: ${r.frames} frames in ${r1(r.ms)} ms = ${r1(fps)} fps; frame time p50 ${r1(pct(r.gaps, 50))}`
    + ` p99 ${r1(pct(r.gaps, 99))} max ${r1(Math.max(...r.gaps))} ms; ${slow} frames over 25 ms;`
    + ` ${r.rows} message rows in the DOM at the end`);
}

// Requests sent, frames as the compositor reported them (PipelineReporter:
// presented, dropped, or nothing to update) and main-thread tasks over 50 ms.
function traceSummary(buf) {
  const events = JSON.parse(buf.toString()).traceEvents;
  const states = {};
  for (const e of events) {
    if (e.name !== 'PipelineReporter' || e.ph !== 'b') continue;
    const st = e.args?.frame_reporter?.state ?? 'unknown';
    states[st] = (states[st] ?? 0) + 1;
  }
  const shown = (states.STATE_PRESENTED_ALL ?? 0) + (states.STATE_PRESENTED_PARTIAL ?? 0);
  const dropped = states.STATE_DROPPED ?? 0;
  const tasks = events.filter((e) => /RunTask$/.test(e.name) && e.ph === 'X');
  const long = tasks.filter((e) => e.dur > 50000).length;
  const longest = tasks.reduce((m, e) => Math.max(m, e.dur || 0), 0) / 1000;
  const requests = events.filter((e) => e.name === 'ResourceSendRequest').length;
  return `trace: ${requests} requests while scrolling; ${shown} frames presented, ${dropped} dropped`
    + ` (${r1(100 * dropped / Math.max(1, shown + dropped))} %),`
    + ` ${states.STATE_NO_UPDATE_DESIRED ?? 0} with nothing to update; ${tasks.length} tasks, ${long} over 50 ms,`
    + ` longest ${r1(longest)} ms`;
}

async function measureScroll(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(base + '/#/login');
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  await page.click('form.auth-form button[type="submit"]');
  await page.waitForSelector('#connection[data-state="online"]');
  await page.goto(`${base}/#/room/${roomId}`);
  await page.waitForSelector(`#view [data-testid="message-text"]:text("Message ${count}:")`);
  await browser.startTracing(page, { categories: ['devtools.timeline', 'toplevel', 'benchmark',
    'disabled-by-default-devtools.timeline.frame'] });
  const up = await page.evaluate(scrollThrough, [-120, 3000, 240000]);
  const oldest = await page.$$eval('#view [data-testid="message-text"]', (els) => els.some((e) => e.textContent.startsWith('Message 1:')));
  const down = await page.evaluate(scrollThrough, [400, 1000, 120000]);
  const trace = await browser.stopTracing();
  if (process.env.BENCH_WEB_TRACE) writeFileSync(process.env.BENCH_WEB_TRACE, trace);
  report(`up (loading history as it goes; reached the oldest: ${oldest})`, up);
  report('down (all loaded)', down);
  console.log(traceSummary(trace));
  await context.close();
}

const browser = await launchBrowser();
try {
  await measureLoads(browser);
  await measureScroll(browser);
} finally {
  await browser.close();
}
