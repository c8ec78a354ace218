// Starts and stops a private stack for the browser tests (scripts/stack.sh).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
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
