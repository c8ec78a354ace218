// The client's first page loads from gatewayd under our CSP, shows the
// sign-in form, and makes no request outside the deployment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startStack, outputDir } from './stack.mjs';
import { launchBrowser } from './browser.mjs';

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  stack?.stop();
});

test('the first page is the sign-in form, with no foreign request', async () => {
  const page = await browser.newPage();
  const requests = [];
  const problems = [];
  page.on('request', (req) => requests.push(req.url()));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(msg.text()); });
  page.on('pageerror', (err) => problems.push(err.message));

  const res = await page.goto(stack.base + '/');
  assert.equal(res.status(), 200);
  assert.equal(await page.title(), 'Enclavr');
  await page.waitForSelector('form.auth-form input[name="username"]', { timeout: 10000 });
  assert.equal(await page.textContent('h1'), 'Sign in to Enclavr');

  assert.deepEqual(problems, [], 'no console errors or CSP violations');
  for (const url of requests) assert.ok(url.startsWith(stack.base + '/'), `foreign request: ${url}`);
  assert.ok(requests.some((u) => u.endsWith('/js/app.js')));
  assert.ok(requests.some((u) => u.endsWith('/css/base.css')));

  mkdirSync(path.join(outputDir, 'screenshots'), { recursive: true });
  await page.screenshot({ path: path.join(outputDir, 'screenshots', 'sign-in.png') });
  await page.close();
});

test('an unknown page is a JSON 404, not a crash', async () => {
  const page = await browser.newPage();
  const res = await page.goto(stack.base + '/no/such/page.html');
  assert.equal(res.status(), 404);
  const body = JSON.parse(await page.textContent('body'));
  assert.equal(body.error, 'not_found');
  await page.close();
});
