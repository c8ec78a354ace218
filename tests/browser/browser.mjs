// Launches Debian's Chromium through playwright-core, headless and quiet
// (flags from machine-notes.md: no background networking on a closed host).
// With { media: true }: a fake microphone that needs no prompt, WebRTC
// candidates on loopback (only ever run inside a loopback-only network
// namespace: see stack.mjs, loopbackOnly) and audio that plays unmuted
// without a gesture (a muted element reports audioLevel 0).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

export function launchBrowser({ media = false } = {}) {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (media) {
    args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required');
  }
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args });
}

// A page of its own browser context (its own cookies and storage: one user)
// showing tests/browser/voice-page.html at the stack's origin, so that its
// fetches and its WebSocket are same-origin. The page's files come from
// this directory through request interception; everything else goes to
// the stack. Console errors and page errors are collected in page.problems.
export async function openVoicePage(browser, base) {
  // local-network-access: the page's own file comes from interception, not
  // from the network, so Chromium does not count it as on loopback and
  // would block its connections to 127.0.0.1 (Local Network Access).
  const context = await browser.newContext({ permissions: ['microphone', 'local-network-access'] });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (msg) => { if (msg.type() === 'error') page.problems.push(msg.text()); });
  page.on('pageerror', (err) => page.problems.push(err.message));
  const files = { 'voice-page.html': 'text/html', 'voice-client.js': 'text/javascript' };
  await page.route(`${base}/__voice-test__/*`, (route) => {
    const name = new URL(route.request().url()).pathname.split('/').pop();
    if (!files[name]) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({
      status: 200,
      contentType: files[name],
      body: readFileSync(path.join(here, name)),
    });
  });
  await page.goto(`${base}/__voice-test__/voice-page.html`);
  await page.waitForFunction(() => window.vc !== undefined);
  return page;
}
