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

// The message renderer (web/js/msg-markdown.js) in the page: hostile
// texts give only the subset's elements, links only to http(s), no
// attribute but the few it sets, every character of the text still shown
// but the Markdown markers, and a long adversarial text without a hang.
test('message Markdown makes only its own elements from hostile text', async () => {
  const page = await browser.newPage();
  await page.goto(stack.base + '/');
  const hostile = [
    '<img src=x onerror=alert(1)>', '<script>alert(1)</script>', '<a href="javascript:alert(1)">x</a>',
    '[click](javascript:alert(1))', 'javascript:alert(1)', 'http://a.test/"onmouseover="alert(1)',
    'https://a.test/<svg/onload=alert(1)>', '**<b>x</b>**', '`<i>code</i>`', '```\n<iframe src=x>\n```',
    '> <style>*{}</style>', '~~<u>x</u>~~', '@<img src=x>', 'data:text/html,<script>alert(1)</script>',
    '&lt;b&gt; &amp; &#60;', '\u202e\u200b<x>', '*'.repeat(5000) + '_'.repeat(5000) + '`'.repeat(5000),
  ];
  const report = await page.evaluate(async (texts) => {
    const { renderMarkdown } = await import('/js/msg-markdown.js');
    const allowed = new Set(['STRONG', 'EM', 'DEL', 'CODE', 'PRE', 'BLOCKQUOTE', 'A', 'SPAN', 'BR', 'DIV', 'P']);
    const attrs = new Set(['href', 'target', 'rel', 'class', 'data-mention']);
    return texts.map((t) => {
      const box = document.createElement('div');
      const t0 = performance.now();
      box.append(renderMarkdown(t, { me: 'alice' }));
      const ms = performance.now() - t0;
      const els = [...box.querySelectorAll('*')];
      const strip = (x) => x.replace(/[*_~`>\s]/g, '');
      return {
        t,
        ms,
        bad: els.filter((e) => !allowed.has(e.tagName)).map((e) => e.tagName),
        badAttrs: els.flatMap((e) => [...e.attributes].map((a) => a.name)).filter((a) => !attrs.has(a)),
        hrefs: els.filter((e) => e.tagName === 'A').map((e) => e.getAttribute('href')),
        kept: strip(box.textContent) === strip(t),
      };
    });
  }, hostile);
  for (const r of report) {
    assert.deepEqual(r.bad, [], `elements from ${JSON.stringify(r.t.slice(0, 60))}`);
    assert.deepEqual(r.badAttrs, [], `attributes from ${JSON.stringify(r.t.slice(0, 60))}`);
    for (const href of r.hrefs) assert.match(href, /^https?:\/\/[^\s"<>]+$/, `link from ${JSON.stringify(r.t)}`);
    assert.ok(r.kept, `text lost from ${JSON.stringify(r.t.slice(0, 60))}`);
    // Not a speed goal: a parser that rescans (super-linear) takes minutes here.
    assert.ok(r.ms < 5000, `${r.ms} ms for ${JSON.stringify(r.t.slice(0, 20))}...`);
  }
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
