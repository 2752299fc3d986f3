/**
 * Interoperation with `etcdctl lock` and `etcdctl elect` (Go's concurrency.Mutex and Election):
 * an etcdctl holder blocks an etcdkit waiter and the other way round, for the lock service, the
 * Mutex recipe and both election modes. Skipped, saying why, when there is no etcdctl (Debian's
 * `etcd-client` package; `ETCDCTL_BIN` names another binary).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type KeyValue, Mutex } from 'etcdkit';
import { until } from './admin/support.js';
import { stateAfter } from './helpers/coordination.js';
import { useEtcd } from './helpers/etcd.js';

function findEtcdctl(): string | undefined {
  const candidate = process.env['ETCDCTL_BIN'] ?? 'etcdctl';
  try {
    execFileSync(candidate, ['version'], { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } });
    return candidate;
  } catch {
    return undefined;
  }
}

const ETCDCTL = findEtcdctl();
if (ETCDCTL === undefined) {
  console.warn('etcdctl interop tests skipped: no etcdctl on PATH (install Debian\'s etcd-client package, or set ETCDCTL_BIN)');
}

/** An etcdctl process whose stdout lines are collected. */
class Etcdctl {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;

  constructor(endpoint: string, args: string[]) {
    this.#child = spawn(ETCDCTL!, ['--endpoints', endpoint, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: '3' } });
    let buffered = '';
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      this.lines.push(...parts);
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
  }

  /** Waits (bounded) until it printed at least `count` lines; returns them. */
  async printed(count: number, timeoutMs = 5_000): Promise<string[]> {
    return until(() => this.lines, (lines) => lines.length >= count, timeoutMs);
  }

  /** SIGTERM (etcdctl unlocks or resigns on it), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

const etcd = useEtcd();

describe.skipIf(ETCDCTL === undefined)('etcdctl interop', () => {
  it('an `etcdctl lock` holder blocks the lock service and the Mutex; they get it once it lets go', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}ctl-lock`;
    const holder = new Etcdctl(etcd.server.endpoint, ['lock', name]);
    try {
      const [key] = await holder.printed(1);
      expect(key).toMatch(new RegExp(`^${name}/[0-9a-f]+$`));
      const viaService = client.lock.acquire(name, { ttl: 10 });
      const viaMutex = new Mutex(client, name, { ttl: 10 });
      expect(await viaMutex.tryLock()).toBeUndefined();
      expect(await stateAfter(viaService, 500)).toBe('pending');
      await holder.stop();
      const lock = await viaService;
      expect(lock.fencingToken).toBe((await client.get(lock.key))?.createRevision);
      await lock.release();
      const mutexLock = await viaMutex.lock({ timeoutMs: 5_000 });
      await mutexLock.release();
    } finally {
      await holder.stop();
    }
  });

  it('an etcdkit holder (service or Mutex) blocks `etcdctl lock`, which gets it once released', async () => {
    const client = etcd.client();
    for (const kind of ['service', 'mutex'] as const) {
      const name = `${etcd.prefix()}kit-lock`;
      const lock = kind === 'service' ? await client.lock.acquire(name, { ttl: 10 }) : await new Mutex(client, name, { ttl: 10 }).lock();
      const waiter = new Etcdctl(etcd.server.endpoint, ['lock', name]);
      try {
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(waiter.lines, kind).toEqual([]);
        await lock.release();
        const [key] = await waiter.printed(1);
        expect(key).toMatch(new RegExp(`^${name}/[0-9a-f]+$`));
      } finally {
        await waiter.stop();
      }
    }
  });

  it.each(['service', 'recipe'] as const)('an `etcdctl elect` leader blocks an etcdkit campaign (%s), which wins once it resigns', async (mode) => {
    const client = etcd.client();
    const name = `${etcd.prefix()}ctl-elect`;
    const leader = new Etcdctl(etcd.server.endpoint, ['elect', name, 'from-etcdctl']);
    try {
      const [key, value] = await leader.printed(2);
      expect(value).toBe('from-etcdctl');
      const election = client.election(name, { mode });
      expect((await election.leader())?.keyText()).toBe(key);
      const campaign = election.campaign('from-etcdkit', { ttl: 10 });
      expect(await stateAfter(campaign, 500)).toBe('pending');
      await leader.stop();
      const leadership = await campaign;
      expect((await election.leader())?.text()).toBe('from-etcdkit');
      await leadership.resign();
    } finally {
      await leader.stop();
    }
  });

  it('an etcdkit leader blocks `etcdctl elect`; `etcdctl elect -l` and etcdkit observe both follow the changes', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}kit-elect`;
    const election = client.election(name);
    const leadership = await election.campaign('from-etcdkit', { ttl: 10 });
    const listener = new Etcdctl(etcd.server.endpoint, ['elect', '-l', name]);
    const candidate = new Etcdctl(etcd.server.endpoint, ['elect', name, 'from-etcdctl']);
    const seen: KeyValue[] = [];
    const observer = election.observe();
    const observing = (async () => {
      for await (const leader of observer) seen.push(leader);
    })();
    try {
      const [key, value] = await listener.printed(2);
      expect(key).toBe(leadership.key.toString());
      expect(value).toBe('from-etcdkit');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(candidate.lines).toEqual([]);
      await leadership.resign();
      expect((await candidate.printed(2))[1]).toBe('from-etcdctl');
      expect((await listener.printed(4))[3]).toBe('from-etcdctl');
      await until(() => seen.map((kv) => kv.text()), (texts) => texts.at(-1) === 'from-etcdctl', 5_000);
      expect(seen.map((kv) => kv.text())).toEqual(['from-etcdkit', 'from-etcdctl']);
    } finally {
      await observer.close();
      await observing;
      await candidate.stop();
      await listener.stop();
    }
  });
});
