// The web client end to end: two people, each in a browser context of
// their own, sign up, make and join a room, chat both ways live, react,
// edit, delete, reply in a thread, DM each other, see each other typing and
// online; hostile text stays text; a network drop loses nothing; 2FA login
// and silent token refresh work. Screenshots of the main views go to
// build/test-output/screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api } from './stack.mjs';
import { launchBrowser } from './browser.mjs';
import {
  openPerson, signUp, signIn, shoot, send, messageRow, messageTexts, waitForMessage,
} from './client-lib.mjs';
import { totp } from './totp.mjs';

let stack;
let browser;
let alice;
let bob;
let roomId;
const roomName = `lobby-${Date.now() % 100000}`;

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  alice = await openPerson(browser, stack.base, 'alice');
  bob = await openPerson(browser, stack.base, 'bob');
});

after(async () => {
  await browser?.close();
  stack?.stop();
});

test('both sign up through the form and land in the app', async () => {
  await signUp(alice);
  await signUp(bob);
  await shoot(alice, 'home');
});

test('alice creates a room, bob finds and joins it', async () => {
  await alice.click('a[href="#/browse"]');
  await alice.fill('input[aria-label="Room name"], label:has-text("Room name") + input', roomName);
  await alice.fill('label:has-text("Description") + input, label:has-text("Description") + textarea', 'Where everyone meets');
  await alice.click('button:has-text("Create room")');
  await alice.waitForURL(/#\/room\//);
  roomId = alice.url().split('/').pop();
  await alice.waitForSelector(`a[data-testid="room-link"][data-room-id="${roomId}"]`);
  await shoot(alice, 'browse-create');

  await bob.click('a[href="#/browse"]');
  await bob.fill('input[aria-label="Search rooms"]', roomName);
  const row = bob.locator('[data-testid="room-row"]', { hasText: roomName });
  await row.locator('button:has-text("Join")').click();
  await bob.waitForURL(new RegExp(`#/room/${roomId}`));
  await bob.waitForSelector(`a[data-testid="room-link"][data-room-id="${roomId}"]`);
  await alice.waitForSelector(`[data-testid="member"][data-user-id="${bob.person.id}"]`);
});

test('they chat both ways live', async () => {
  await send(alice, 'hello from alice');
  await waitForMessage(bob, 'hello from alice');
  await send(bob, 'hi alice, bob here');
  await waitForMessage(alice, 'hi alice, bob here');
  await waitForMessage(bob, 'hi alice, bob here');
  assert.deepEqual((await messageTexts(bob)).slice(-2), ['hello from alice', 'hi alice, bob here']);
});

test('each sees the other online and typing', async () => {
  await alice.waitForSelector(`[data-testid="member"][data-user-id="${bob.person.id}"][data-presence="online"]`);
  await bob.waitForSelector(`[data-testid="member"][data-user-id="${alice.person.id}"][data-presence="online"]`);
  await bob.click('textarea[aria-label="Message"]');
  await bob.keyboard.type('I am typing', { delay: 30 });
  await alice.waitForFunction((name) => document.querySelector('[data-testid="typing"]')
    ?.textContent.includes(name), bob.person.username);
  await bob.fill('textarea[aria-label="Message"]', '');
});

test('a reaction, an edit and a delete reach the other side', async () => {
  const row = messageRow(alice, 'hi alice, bob here');
  await row.hover();
  await row.locator('button[aria-label="Add reaction"]').click();
  await alice.locator('[data-testid="emoji"], [role="dialog"] button, .emoji-picker button').first().click();
  await bob.waitForSelector('#view [data-testid="reaction"]');
  assert.match(await bob.textContent('#view [data-testid="reaction"]'), /1/);

  const mine = messageRow(alice, 'hello from alice');
  await mine.hover();
  await mine.locator('button[aria-label="Edit message"]').click();
  const editor = alice.locator('#view textarea[aria-label="Edit text"]');
  await editor.fill('hello from alice (edited)');
  await editor.press('Enter');
  await waitForMessage(bob, 'hello from alice (edited)');
  await bob.waitForSelector('#view [data-testid="edited"]');

  await send(alice, 'this one goes away');
  await waitForMessage(bob, 'this one goes away');
  const doomed = messageRow(alice, 'this one goes away');
  await doomed.hover();
  await doomed.locator('button[aria-label="Delete message"]').click();
  const confirm = alice.locator('dialog button.primary');
  if (await confirm.count()) await confirm.click();
  await bob.waitForFunction(() => ![...document.querySelectorAll('#view [data-testid="message-text"]')]
    .some((e) => e.textContent === 'this one goes away'));
});

test('bob replies in a thread and alice reads it', async () => {
  const row = messageRow(bob, 'hello from alice (edited)');
  await row.hover();
  await row.locator('button[aria-label="Reply in thread"]').click();
  await bob.fill('[data-testid="thread"] textarea[aria-label="Reply"]', 'a reply in the thread');
  await bob.press('[data-testid="thread"] textarea[aria-label="Reply"]', 'Enter');
  await bob.waitForSelector('[data-testid="thread"] >> text=a reply in the thread');
  await shoot(bob, 'thread');
  const arow = messageRow(alice, 'hello from alice (edited)');
  await arow.hover();
  await arow.locator('button[aria-label="Reply in thread"]').click();
  await alice.waitForSelector('[data-testid="thread"] >> text=a reply in the thread');
  await bob.click('[data-testid="thread"] button[aria-label="Edit reply"]');
  await bob.fill('[data-testid="thread"] textarea[aria-label="Edit reply"]', 'a reply, edited');
  await bob.press('[data-testid="thread"] textarea[aria-label="Edit reply"]', 'Enter');
  await alice.waitForSelector('[data-testid="thread"] [data-testid="thread-message"]:has-text("a reply, edited") [data-testid="edited"]');
});

test('a mention picked from the list lights up for bob; a pin and a search find messages', async () => {
  const box = 'textarea[aria-label="Message"]';
  await alice.fill(box, '');
  await alice.click(box);
  await alice.keyboard.type(`ping @${bob.person.username.slice(0, 5)}`);
  await alice.waitForSelector(`[role="listbox"] [role="option"]:has-text("${bob.person.username}")`);
  await alice.keyboard.press('Enter');
  assert.equal(await alice.inputValue(box), `ping @${bob.person.username} `);
  await alice.keyboard.type('look at this');
  await alice.keyboard.press('Enter');
  const text = `ping @${bob.person.username} look at this`;
  await waitForMessage(bob, text);
  const row = messageRow(bob, 'look at this');
  assert.equal(await row.locator(`.mention[data-mention="${bob.person.username}"]`).count(), 1);
  assert.match(await row.getAttribute('class'), /msg-mention/);

  const pinMe = messageRow(alice, 'look at this');
  await pinMe.hover();
  await pinMe.locator('button[aria-label="Pin message"]').click();
  await bob.click('button[aria-label="Pinned messages"]');
  await bob.waitForSelector('[data-testid="pinned"] [data-testid="pinned-message"]:has-text("look at this")');

  await bob.click('button[aria-label="Search messages"]');
  await bob.fill('input[aria-label="Search"]', 'ping');
  await bob.press('input[aria-label="Search"]', 'Enter');
  await bob.waitForSelector('[data-testid="search-result"]:has-text("look at this")');
  await bob.keyboard.press('Escape');
});

test('markup in a message is shown as text, never run', async () => {
  const hostile = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>', '**bold** <b>not bold</b>'];
  for (const t of hostile) await send(alice, t);
  for (const page of [alice, bob]) {
    await waitForMessage(page, 'bold <b>not bold</b>'); // **bold** became <strong>
    const texts = await messageTexts(page);
    assert.ok(texts.includes(hostile[0]) && texts.includes(hostile[1]), texts.join(' | '));
    assert.equal(await page.locator('#view [data-testid="message-text"] img, #view [data-testid="message-text"] script, #view [data-testid="message-text"] b').count(), 0);
    assert.ok(await page.locator('#view [data-testid="message-text"] strong').count() >= 1, 'no <strong>');
  }
  await shoot(bob, 'room');
});

test('the keyboard alone reaches the composer and sends', async () => {
  await alice.goto(`${stack.base}/#/room/${roomId}`);
  await alice.reload(); // a fresh page: nothing focused yet
  await alice.waitForSelector('#view [data-testid="message"]');
  await alice.keyboard.press('Tab');
  assert.equal(await alice.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await alice.keyboard.press('Enter');
  assert.equal(await alice.evaluate(() => document.activeElement.id), 'view');
  let presses = 0;
  while (!(await alice.evaluate(() => document.activeElement.matches('textarea[aria-label="Message"]')))) {
    assert.ok(++presses <= 15, 'the composer is more than 15 Tab presses into the view');
    await alice.keyboard.press('Tab');
  }
  await alice.keyboard.type('typed without a mouse');
  await alice.keyboard.press('Enter');
  await waitForMessage(bob, 'typed without a mouse');
  assert.match(alice.url(), new RegExp(`#/room/${roomId}$`));
});

test('a network drop loses nothing and shows nothing twice', async () => {
  await bob.context().setOffline(true);
  await bob.waitForSelector('#connection[data-state="offline"]');
  const missed = ['while you were away 1', 'while you were away 2', 'while you were away 3'];
  for (const t of missed) await send(alice, t);
  await waitForMessage(alice, missed[2]);
  await bob.context().setOffline(false);
  await bob.waitForSelector('#connection[data-state="online"]', { timeout: 20000 });
  await waitForMessage(bob, missed[2]);
  const texts = await messageTexts(bob);
  const tail = texts.slice(texts.indexOf(missed[0]));
  assert.deepEqual(tail, missed);
  const ids = await bob.$$eval('#view [data-testid="message"]', (els) => els.map((e) => e.dataset.id));
  assert.equal(new Set(ids).size, ids.length, 'no message twice');
});

test('they DM each other, with unread counts and live replies', async () => {
  await alice.click('button[aria-label="New direct message"]');
  await alice.fill('input[aria-label="Find a user"]', bob.person.username);
  await alice.click(`dialog button:has-text("${bob.person.username}")`);
  await alice.waitForURL(new RegExp(`#/dm/${bob.person.id}`));
  await send(alice, 'a private word');
  const link = bob.locator(`a[data-testid="dm-link"][data-peer-id="${alice.person.id}"]`);
  await link.waitFor();
  await bob.waitForFunction((id) => document.querySelector(
    `a[data-testid="dm-link"][data-peer-id="${id}"] [data-testid="unread"]`)?.textContent.trim() === '1',
  alice.person.id);
  await link.click();
  await waitForMessage(bob, 'a private word');
  await send(bob, 'a private answer');
  await waitForMessage(alice, 'a private answer');
  await shoot(bob, 'dm');
});

test('bob blocks alice and she can no longer DM him', async () => {
  await bob.click('button:has-text("Block")');
  const confirm = bob.locator('dialog button.primary');
  if (await confirm.count()) await confirm.click();
  await bob.waitForSelector('button:has-text("Unblock")');
  await alice.fill('textarea[aria-label="Message"]', 'are you there?');
  await alice.press('textarea[aria-label="Message"]', 'Enter');
  await alice.waitForSelector('.toast-error, [role="alert"]:not(:empty)');
  await bob.click('button:has-text("Unblock")');
});

test('an expired access token is refreshed without a word', async () => {
  await alice.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('enclavr.session'));
    s.access_token = 'expired.garbage.token';
    localStorage.setItem('enclavr.session', JSON.stringify(s));
  });
  await alice.reload();
  await alice.waitForSelector('#connection[data-state="online"]');
  await alice.goto(`${stack.base}/#/room/${roomId}`);
  await waitForMessage(alice, 'while you were away 3');
  assert.equal(await alice.locator('form.auth-form').count(), 0, 'still signed in');
});

test('2FA: set up in settings, then the sign-in asks for the code', async () => {
  await alice.goto(`${stack.base}/#/settings`);
  await alice.click('button:has-text("Set up two-factor authentication")');
  await alice.waitForSelector('[data-testid="totp-qr"]');
  await alice.locator('[data-testid="totp-qr"]').scrollIntoViewIfNeeded();
  await shoot(alice, 'settings-2fa');
  const secret = (await alice.textContent('[data-testid="totp-secret"]')).replace(/\s+/g, '');
  await alice.fill('input[aria-label="Verification code"]', totp(secret));
  await alice.click('button:has-text("Enable")');
  await alice.waitForSelector('text=/two-factor authentication is on/i');
  await alice.click('#sign-out');
  await alice.waitForSelector('form.auth-form');
  await signIn(alice);
  await alice.waitForSelector('input[name="code"]');
  await alice.fill('input[name="code"]', totp(secret, 1));
  await alice.click('form.auth-form button[type="submit"]');
  await alice.waitForSelector('#connection[data-state="online"]');
});

// Every control a person can reach has a name a screen reader can say.
function unnamedControls() {
  const named = (el) => (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
    || el.labels?.length || el.getAttribute('title') || el.textContent.trim());
  return [...document.querySelectorAll('button, input, select, textarea, a[href], [role="button"]')]
    .filter((el) => el.type !== 'hidden' && el.getClientRects().length && !named(el))
    .map((el) => el.outerHTML.slice(0, 120));
}

test('every view names its controls and reflows at 200% zoom', async () => {
  const views = ['#/', '#/browse', '#/settings', `#/dm/${bob.person.id}`, `#/room/${roomId}`];
  for (const view of views) {
    await alice.goto(`${stack.base}/${view}`);
    await alice.waitForSelector('#connection[data-state="online"]');
    await alice.waitForTimeout(300);
    assert.deepEqual(await alice.evaluate(unnamedControls), [], `unnamed controls on ${view}`);
  }
  // 200 % zoom of a 1280x720 window: the same page laid out in 640x360.
  await alice.setViewportSize({ width: 640, height: 360 });
  for (const view of views) {
    await alice.goto(`${stack.base}/${view}`);
    await alice.waitForSelector('#connection[data-state="online"]');
    await alice.waitForTimeout(300);
    const overflow = await alice.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${view} scrolls sideways by ${overflow} px at 200 % zoom`);
  }
  await shoot(alice, 'room-zoomed');
  // There the sidebar folds behind the "Rooms" button.
  assert.equal(await alice.isVisible('#sidebar'), false);
  await alice.click('#menu');
  assert.equal(await alice.getAttribute('#menu', 'aria-expanded'), 'true');
  await alice.click('a[href="#/browse"]');
  await alice.waitForURL(/#\/browse$/);
  await alice.waitForSelector('#sidebar', { state: 'hidden' }); // folded again by the route
  await alice.setViewportSize({ width: 1280, height: 720 });
});

test('no page reported an error', () => {
  assert.deepEqual([...alice.problems, ...bob.problems].filter((p) => !/Failed to load resource/.test(p)), []);
});
