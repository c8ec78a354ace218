// A small, safe Markdown subset rendered straight to DOM nodes (never to an
// HTML string): **bold**, *italic* / _italic_, ~~strike~~, `code`, ```fenced
// blocks```, > quotes, line breaks, http(s) links and @mentions.
//
//   renderMarkdown(text, {me: 'alice'}) -> DocumentFragment
//
// Linear time: every closing delimiter is found with one forward search, and
// a search that failed is remembered, so no input makes it rescan (no regex
// with backtracking is involved). Nesting of emphasis stops at MAX_DEPTH.
import { h } from './dom.js';

const MAX_DEPTH = 4;
const isWord = (c) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
const isSpace = (c) => c === undefined || c === ' ' || c === '\t' || c === '\n';
const TRAIL = '.,;:!?\'")]}>';

// Emphasis markers: [delimiter, tag, test for an acceptable closer at j].
const MARKS = [
  ['**', 'strong', (s, j) => !isSpace(s[j - 1])],
  ['~~', 'del', (s, j) => !isSpace(s[j - 1])],
  ['*', 'em', (s, j) => !isSpace(s[j - 1]) && s[j + 1] !== '*'],
  ['_', 'em', (s, j) => !isSpace(s[j - 1]) && !isWord(s[j + 1])],
];

// Finds the first acceptable closer of mark after `from`, remembering
// failures: a closer's acceptability does not depend on its opener, so if
// none exists after p, none exists after any later position either.
function closer(s, mark, from, failed) {
  if (failed[mark[0]] !== undefined && from >= failed[mark[0]]) return -1;
  for (let j = s.indexOf(mark[0], from); j !== -1; j = s.indexOf(mark[0], j + 1)) {
    if (mark[2](s, j)) return j;
  }
  failed[mark[0]] = from;
  return -1;
}

function link(s, i) {
  if (!(s.startsWith('http://', i) || s.startsWith('https://', i))) return null;
  if (i > 0 && isWord(s[i - 1])) return null;
  let end = i;
  let open = 0;
  while (end < s.length && !isSpace(s[end]) && s[end] !== '<' && s[end] !== '`') {
    if (s[end] === '(') open++;
    else if (s[end] === ')') open--;
    end++;
  }
  // Trailing punctuation is not part of the link, but a ")" that closes a
  // "(" inside it is (https://en.wikipedia.org/wiki/Foo_(bar)).
  while (end > i && TRAIL.includes(s[end - 1])) {
    if (s[end - 1] === ')' && open >= 0) break;
    if (s[end - 1] === ')') open++;
    end--;
  }
  const href = s.slice(i, end);
  let url;
  try { url = new URL(href); } catch { return null; }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) return null;
  const a = h('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer nofollow' }, href);
  return { node: a, end };
}

function mention(s, i, opts) {
  if (i > 0 && isWord(s[i - 1])) return null;
  let end = i + 1;
  while (end < s.length && /[A-Za-z0-9_]/.test(s[end])) end++;
  if (end === i + 1) return null;
  const name = s.slice(i + 1, end).toLowerCase();
  const me = opts.me && name === opts.me.toLowerCase();
  const group = name === 'here' || name === 'all';
  return {
    node: h('span', { class: `mention${me || group ? ' mention-me' : ''}`, 'data-mention': name }, s.slice(i, end)),
    end,
  };
}

// Inline spans of one run of text (no newlines matter here: they stay text).
function inline(s, opts, depth = 0) {
  const out = [];
  const failed = {};
  let text = '';
  const flush = () => { if (text) { out.push(text); text = ''; } };
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    let hit = null;
    if (c === '`') {
      const j = failed['`'] !== undefined && i >= failed['`'] ? -1 : s.indexOf('`', i + 1);
      if (j === -1) failed['`'] = i;
      else if (j > i + 1) hit = { node: h('code', {}, s.slice(i + 1, j)), end: j + 1 };
    } else if (c === 'h') {
      hit = link(s, i);
    } else if (c === '@') {
      hit = mention(s, i, opts);
    } else if ((c === '*' || c === '_' || c === '~') && depth < MAX_DEPTH) {
      hit = emphasis(s, i, opts, depth, failed);
    }
    if (hit) { flush(); out.push(hit.node); i = hit.end; } else { text += c; i++; }
  }
  flush();
  return out;
}

function emphasis(s, i, opts, depth, failed) {
  for (const mark of MARKS) {
    const d = mark[0];
    if (!s.startsWith(d, i)) continue;
    const open = i + d.length;
    if (isSpace(s[open])) return null;
    if (d === '_' && isWord(s[i - 1])) return null;
    if (d === '*' && s[open] === '*') continue;
    let j = closer(s, mark, open + 1, failed);
    if (j === -1) return null;
    if (d === '**') while (s[j + 2] === '*') j++; // "***x***": the last two close
    return { node: h(mark[1], {}, inline(s.slice(open, j), opts, depth + 1)), end: j + d.length };
  }
  return null;
}

// Blocks: fenced code, quotes (consecutive "> " lines) and text runs whose
// newlines are kept (the container has white-space: pre-wrap).
export function renderMarkdown(text, opts = {}) {
  const frag = document.createDocumentFragment();
  const lines = String(text).split('\n');
  let run = [];
  const flushRun = () => {
    if (run.length) frag.append(...inline(run.join('\n'), opts).map((n) => (typeof n === 'string' ? document.createTextNode(n) : n)));
    run = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trimStart().startsWith('```')) {
      flushRun();
      const lang = line.trim().slice(3).trim();
      const body = [];
      for (i++; i < lines.length && !lines[i].trimStart().startsWith('```'); i++) body.push(lines[i]);
      frag.append(h('pre', { class: 'md-code', 'data-lang': lang || null }, h('code', {}, body.join('\n'))));
      continue;
    }
    if (line.startsWith('>')) {
      flushRun();
      const quoted = [];
      for (; i < lines.length && lines[i].startsWith('>'); i++) quoted.push(lines[i].replace(/^> ?/, ''));
      i--;
      frag.append(h('blockquote', { class: 'md-quote' }, inline(quoted.join('\n'), opts)));
      continue;
    }
    run.push(line);
  }
  flushRun();
  return frag;
}

// True when the text mentions this username, @here or @all.
export function mentionsMe(text, username) {
  if (!text || !text.includes('@')) return false;
  const names = new Set(['here', 'all', (username || '').toLowerCase()]);
  for (let i = text.indexOf('@'); i !== -1; i = text.indexOf('@', i + 1)) {
    if (i > 0 && isWord(text[i - 1])) continue;
    let end = i + 1;
    while (end < text.length && /[A-Za-z0-9_]/.test(text[end])) end++;
    if (end > i + 1 && names.has(text.slice(i + 1, end).toLowerCase())) return true;
  }
  return false;
}
