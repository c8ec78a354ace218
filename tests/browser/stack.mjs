// Starts and stops a private stack for the browser tests (scripts/stack.sh).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const stackSh = path.join(root, 'scripts/stack.sh');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function startStack() {
  const binDir = process.env.ENCLAVR_BIN || path.join(root, 'build/rel/bin');
  const runDir = mkdtempSync('/tmp/enclavr-br-');
  const port = await freePort();
  execFileSync(stackSh, ['up', runDir, String(port), binDir], { stdio: 'inherit' });
  return {
    runDir,
    base: `http://127.0.0.1:${port}`,
    stop() {
      execFileSync(stackSh, ['down', runDir, '--purge'], { stdio: 'inherit' });
    },
  };
}

export const outputDir = path.join(root, 'build/test-output');

// True when every network interface of this process holds only loopback
// addresses (a private namespace made by `unshare -n`): whatever WebRTC
// gathers then stays on this host.
export function loopbackOnly() {
  return Object.values(os.networkInterfaces()).flat()
    .every((a) => a.internal || a.address === '::1' || a.address.startsWith('127.'));
}

// Runs `node ARGS...` in a new network namespace that has only `lo` (root,
// util-linux unshare); its output goes to this process's stderr. Returns
// the exit status.
export function runInLoopbackNamespace(args) {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // a `node --test` inside a test is a runner of its own
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"',
    process.execPath, ...args], { stdio: ['ignore', 2, 2], env });
  if (r.error) throw r.error;
  return r.status;
}

// A JSON call to the stack: the parsed body, or an Error with status/body.
export async function api(base, method, route, body, token) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + route, {
    method, headers, body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const e = new Error(`${method} ${route}: ${res.status} ${text.slice(0, 300)}`);
    e.status = res.status;
    e.body = json;
    throw e;
  }
  return json;
}

// A new account: {id, username, token}.
export async function newUser(base, prefix = 'u') {
  const username = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const r = await api(base, 'POST', '/api/auth/register',
    { username, email: `${username}@example.test`, password: 'Corr3ct-Horse!battery' });
  return { id: r.user.id, username, token: r.access_token };
}
