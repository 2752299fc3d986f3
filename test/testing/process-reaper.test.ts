import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { processExists } from './gateway.js';

const fixture = fileURLToPath(new URL('./fixtures/abandon-etcd.ts', import.meta.url));

interface Abandoned {
  etcdPid: number;
  proxyPid: number;
  dir: string;
}

/** Runs the fixture; `signal` is sent once it reported its pids. Resolves after it exited. */
function runFixture(mode: 'crash' | 'wait', signal?: NodeJS.Signals): Promise<Abandoned> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let stdout = '';
    let stderr = '';
    let reported: Abandoned | undefined;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (reported === undefined && stdout.includes('\n')) {
        reported = JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as Abandoned;
        if (signal) child.kill(signal);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (reported) resolve(reported);
      else reject(new Error(`fixture exited without reporting pids: ${stderr}`));
    });
  });
}

async function expectGone(pid: number): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (processExists(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(processExists(pid)).toBe(false);
}

describe('the orphan safety net', () => {
  it.each([
    ['an uncaught exception', 'crash', undefined],
    ['SIGTERM (how vitest stops its workers)', 'wait', 'SIGTERM'],
  ] as const)('kills etcd and the proxy when the test process dies of %s', async (_, mode, signal) => {
    const abandoned = await runFixture(mode, signal);
    try {
      await expectGone(abandoned.etcdPid);
      await expectGone(abandoned.proxyPid);
    } finally {
      // Only the processes are reaped at exit; the temp dir stays for post-mortems.
      await rm(abandoned.dir, { recursive: true, force: true });
    }
  });
});
