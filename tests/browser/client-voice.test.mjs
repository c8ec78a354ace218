// The web client's voice panel end to end: two people (fake microphones,
// two browser contexts) join a room's voice channel through the UI and hear
// each other: each page's participant row of the other shows an inbound
// audio level above 0. Media stays on lo: the test runs inside a network
// namespace whose only interface is lo (the Makefile runs it under
// `unshare -n`; run by hand elsewhere, it re-runs itself that way).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startStack, loopbackOnly, runInLoopbackNamespace, api } from './stack.mjs';
import { launchBrowser } from './browser.mjs';
import { openPerson, signUp, shoot } from './client-lib.mjs';

const self = fileURLToPath(import.meta.url);

if (!loopbackOnly()) {
  test('client voice test, re-run inside a network namespace with only lo', () => {
    assert.equal(runInLoopbackNamespace(['--test', self]), 0, 'failed inside its namespace (output above)');
  });
} else {
  let stack;
  let browser;
  const pages = [];

  before(async () => {
    stack = await startStack();
    browser = await launchBrowser({ media: true });
    for (const name of ['alice', 'bob']) {
      const page = await openPerson(browser, stack.base, name,
        { permissions: ['microphone'] });
      await signUp(page);
      pages.push(page);
    }
  });

  after(async () => {
    await browser?.close();
    stack?.stop();
  });

  test('two people in a voice channel hear each other', async () => {
    const [alice, bob] = pages;
    const room = await api(stack.base, 'POST', '/api/room/create', { name: `talk-${Date.now() % 100000}` }, alice.person.token);
    await api(stack.base, 'POST', '/api/room/join', { room_id: room.id }, bob.person.token);
    const ch = await api(stack.base, 'POST', '/api/voice-channel/create', { room_id: room.id, name: 'Talk' }, alice.person.token);
    for (const page of pages) {
      await page.goto(`${stack.base}/#/room/${room.id}`);
      await page.click(`[data-testid="voice-channel"][data-channel-id="${ch.id}"] button:has-text("Join voice")`);
    }
    try {
      for (const [page, other] of [[alice, bob], [bob, alice]]) {
        await page.waitForFunction((id) => Number(document.querySelector(
          `[data-testid="voice-participant"][data-user-id="${id}"]`)?.dataset.level) > 0,
        other.person.id, { timeout: 20000 });
      }
    } catch (e) {
      for (const page of pages) {
        const why = await page.evaluate(async () => ({
          state: document.querySelector('[data-testid="voice-state"]')?.textContent,
          rows: [...document.querySelectorAll('[data-testid="voice-participant"]')].map((r) => ({ ...r.dataset })),
          inbound: await window.__voice?.inboundLevels?.(),
          log: window.__voice?.log?.slice?.(-40),
        }));
        console.error(page.person.name, JSON.stringify(why, null, 1));
      }
      throw e;
    }
    await shoot(alice, 'voice');
    await bob.click('button:has-text("Leave voice")');
    await alice.waitForFunction((id) => !document.querySelector(
      `[data-testid="voice-participant"][data-user-id="${id}"]`), bob.person.id);
    assert.deepEqual(pages.flatMap((p) => p.problems).filter((p) => !/Failed to load resource/.test(p)), []);
  });
}
