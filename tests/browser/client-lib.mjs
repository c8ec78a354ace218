// What the web client's tests share: a page per person (its own browser
// context), signing up and in through the forms, waiting on text, and
// screenshots under build/test-output/screenshots.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { outputDir } from './stack.mjs';

export const PASSWORD = 'Corr3ct-Horse!battery';

// A page in a context of its own; console errors, page errors and dialogs
// (an alert() would mean injected script ran) land in page.problems.
export async function openPerson(browser, base, name, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`${name}: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`${name}: ${e.message}`));
  page.on('dialog', (d) => { page.problems.push(`${name}: dialog ${d.message()}`); d.dismiss(); });
  page.person = { name, username: `${name}_${randomUUID().slice(0, 8)}` };
  page.base = base;
  return page;
}

export async function signUp(page) {
  const { username } = page.person;
  await page.goto(`${page.base}/#/register`);
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="email"]', `${username}@example.test`);
  await page.fill('input[name="password"]', PASSWORD);
  await page.check('#remember');
  await page.click('form.auth-form button[type="submit"]');
  await page.waitForSelector('#connection[data-state="online"]');
  page.person.id = await page.evaluate(() => JSON.parse(localStorage.getItem('enclavr.session')).user.id);
  page.person.token = await page.evaluate(() => JSON.parse(localStorage.getItem('enclavr.session')).access_token);
}

export async function signIn(page, password = PASSWORD) {
  await page.goto(`${page.base}/#/login`);
  await page.fill('input[name="username"]', page.person.username);
  await page.fill('input[name="password"]', password);
  await page.click('form.auth-form button[type="submit"]');
}

export async function shoot(page, name) {
  const dir = path.join(outputDir, 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

// The texts of the messages on screen, in order.
export const messageTexts = (page, scope = '#view') => page.$$eval(
  `${scope} [data-testid="message"] [data-testid="message-text"]`, (els) => els.map((e) => e.textContent));

export async function waitForMessage(page, text, scope = '#view') {
  await page.waitForFunction(([s, t]) => [...document.querySelectorAll(`${s} [data-testid="message-text"]`)]
    .some((e) => e.textContent === t), [scope, text]);
}

export async function send(page, text, box = 'textarea[aria-label="Message"]') {
  await page.fill(box, text);
  await page.press(box, 'Enter');
}

export function messageRow(page, text) {
  return page.locator('#view [data-testid="message"]', {
    has: page.locator('[data-testid="message-text"]', { hasText: text }),
  }).last();
}
