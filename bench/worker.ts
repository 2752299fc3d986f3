/**
 * One client in its own process: the orchestrator (run.ts) forks one worker per client and
 * workload and drives it step by step over IPC, so the CPU time and RSS a worker reports are
 * its client's alone.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import type { BenchClient, ClientName, Stop } from './clients/types.js';
import type { Dataset, LoopKind, RoundResult, Step, WorkerInit, WorkerReply, WorkerRequest } from './protocol.js';
import { nowStamp } from './wire.js';

/** Latency samples kept per round; allocated once, so every client carries the same buffer. */
const MAX_SAMPLES = 250_000;
const samples = new Float64Array(MAX_SAMPLES);

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function loadClient(name: ClientName, endpoint: string): Promise<BenchClient> {
  // Only the client under test is loaded, so the RSS is its own.
  switch (name) {
    case 'etcdkit':
      return (await import('./clients/etcdkit.js')).etcdkitClient(endpoint);
    case 'etcd3':
      return (await import('./clients/etcd3.js')).etcd3Client(endpoint);
    case 'floor':
      return (await import('./clients/floor.js')).floorClient(endpoint);
    case 'floor-deadline':
      return (await import('./clients/floor.js')).floorClient(endpoint, true);
  }
}

/**
 * With `--profile`, the orchestrator sets BENCH_PROFILE_DIR: each measurement window (not the
 * set-up around it) is profiled through the inspector and written there.
 */
const profileDir = process.env['BENCH_PROFILE_DIR'];
let profiler: Session | undefined;
let profiles = 0;

function post(method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    profiler!.post(method, params, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

async function startProfile(): Promise<void> {
  if (profileDir === undefined) return;
  if (profiler === undefined) {
    profiler = new Session();
    profiler.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
  }
  await post('Profiler.start');
}

async function stopProfile(): Promise<void> {
  if (profileDir === undefined || profiler === undefined) return;
  const { profile } = (await post('Profiler.stop')) as { profile: unknown };
  writeFileSync(join(profileDir, `window-${++profiles}.cpuprofile`), JSON.stringify(profile));
}

function cpuNowUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/**
 * The process's peak RSS so far (getrusage's maxrss). A worker runs one workload, so this is
 * the most memory the client needed under it, set-up and warm-up included.
 */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

class Worker {
  private client: BenchClient | undefined;
  private readonly ops = new Map<LoopKind, (i: number, lane: number) => Promise<unknown>>();
  private casState: Uint8Array = new Uint8Array(0);
  private casFailures = 0;
  private stop: Stop | undefined;
  /** Events (or stamps) counted since `arm`. */
  private events = 0;
  private samplesTaken = 0;
  private expected = 0;
  private onComplete: (() => void) | undefined;
  private armed: { cpuUs: number; at: number; firstAt: number; lastAt: number } | undefined;
  private extra: Record<string, number> = {};
  /** Leases the client reported lost, for the keep-alive workload. */
  private leasesLost: (() => number) | undefined;

  constructor(
    private readonly init: WorkerInit,
  ) {}

  private async getClient(): Promise<BenchClient> {
    this.client ??= await loadClient(this.init.client, this.init.endpoint);
    return this.client;
  }

  async handle(step: Step): Promise<unknown> {
    switch (step.step) {
      case 'loop':
        return this.loop(step.kind, step.concurrency, step.warmupMs, step.measureMs);
      case 'watchPrefix': {
        const client = await this.getClient();
        this.stop = await client.watchPrefix(step.prefix, (stamp) => this.event(stamp));
        return undefined;
      }
      case 'watchKeys':
        return this.watchKeys(step.keys);
      case 'keepLeases': {
        const client = await this.getClient();
        // A first lease loads the client's lease code, so the heap figure is per lease only.
        const warm = await client.keepLeases(1, step.ttl);
        gc();
        gc();
        const heapBefore = process.memoryUsage().heapUsed;
        const started = performance.now();
        const leases = await client.keepLeases(step.count, step.ttl);
        const grantMs = performance.now() - started;
        gc();
        gc();
        this.stop = async () => {
          await leases.stop();
          await warm.stop();
        };
        this.leasesLost = () => leases.lost();
        this.extra = { grantMs, heapPerLeaseBytes: (process.memoryUsage().heapUsed - heapBefore) / step.count };
        return this.extra;
      }
      case 'arm':
        await this.arm(step.expected);
        return undefined;
      case 'collect':
        return this.collect(step.timeoutMs);
      case 'stop': {
        await this.stop?.();
        this.stop = undefined;
        await this.client?.close();
        this.client = undefined;
        this.extra = {};
        this.leasesLost = undefined;
        return undefined;
      }
      case 'exit':
        await this.client?.close();
        setImmediate(() => process.exit(0));
        return undefined;
    }
  }

  private async prepare(kind: LoopKind): Promise<(i: number, lane: number) => Promise<unknown>> {
    const existing = this.ops.get(kind);
    if (existing) return existing;
    const client = await this.getClient();
    const data: Dataset = this.init.dataset;
    let op: (i: number, lane: number) => Promise<unknown>;
    switch (kind) {
      case 'put': {
        const put = client.preparePut(data.putKeys, data.value);
        op = (i) => put(i);
        break;
      }
      case 'get': {
        const get = client.prepareGet(data.getKeys);
        op = (i) => get(i);
        break;
      }
      case 'cas': {
        const cas = client.prepareCas(data.casKeys, data.casValues);
        // The value toggles whether the swap succeeds (it then holds the other value) or fails
        // (it already held the other value); failures are counted and should stay at 0.
        op = async (_i, lane) => {
          const from = this.casState[lane]! as 0 | 1;
          this.casState[lane] = 1 - from;
          if (!(await cas(lane, from))) this.casFailures++;
        };
        break;
      }
      case 'range': {
        const range = client.prepareRange(data.rangePrefix);
        const expected = data.getKeys.length;
        op = async () => {
          const count = await range();
          if (count !== expected) throw new Error(`range read ${count} keys, expected ${expected}`);
        };
        break;
      }
    }
    this.ops.set(kind, op);
    return op;
  }

  private async loop(kind: LoopKind, concurrency: number, warmupMs: number, measureMs: number): Promise<RoundResult> {
    const op = await this.prepare(kind);
    // The orchestrator resets the swapped keys to their first value before each turn.
    this.casState = new Uint8Array(concurrency);
    this.casFailures = 0;
    await runLoop(op, concurrency, warmupMs, false);
    gc();
    await startProfile();
    const cpu0 = cpuNowUs();
    const t0 = performance.now();
    const ops = await runLoop(op, concurrency, measureMs, true);
    const elapsedMs = performance.now() - t0;
    const cpuUs = cpuNowUs() - cpu0;
    await stopProfile();
    const taken = Math.min(ops, MAX_SAMPLES);
    const extra: Record<string, number> = {};
    if (kind === 'cas') extra['casFailures'] = this.casFailures;
    return { ops, elapsedMs, cpuUs, latencies: samples.slice(0, taken), peakRssBytes: peakRssBytes(), extra };
  }

  private async watchKeys(keys: string[]): Promise<unknown> {
    const client = await this.getClient();
    // A first watcher, consumed, loads the client's watch code, so the heap figures are per watcher only.
    const warm = await client.watchKeys(['bench/watch-warmup']);
    warm.consume(() => undefined);
    gc();
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const cpu0 = cpuNowUs();
    const t0 = performance.now();
    const watchers = await client.watchKeys(keys);
    const createMs = performance.now() - t0;
    gc();
    gc();
    const heapCreated = process.memoryUsage().heapUsed;
    watchers.consume((_index, stamp) => this.event(stamp));
    const createCpuUs = cpuNowUs() - cpu0;
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
    gc();
    const heapConsumed = process.memoryUsage().heapUsed;
    this.stop = async () => {
      await watchers.stop();
      await warm.stop();
    };
    this.extra = {
      createMs,
      createCpuUs,
      heapPerWatcherBytes: (heapCreated - heapBefore) / keys.length,
      heapPerConsumedWatcherBytes: (heapConsumed - heapBefore) / keys.length,
    };
    return this.extra;
  }

  private event(stamp: number): void {
    if (this.armed === undefined) return;
    const now = nowStamp();
    if (this.samplesTaken < MAX_SAMPLES) samples[this.samplesTaken++] = now - stamp;
    if (this.events === 0) this.armed.firstAt = performance.now();
    this.armed.lastAt = performance.now();
    if (++this.events === this.expected) this.onComplete?.();
  }

  private async arm(expected: number): Promise<void> {
    gc();
    await startProfile();
    this.events = 0;
    this.samplesTaken = 0;
    this.expected = expected;
    this.armed = { cpuUs: cpuNowUs(), at: performance.now(), firstAt: Number.NaN, lastAt: Number.NaN };
  }

  private async collect(timeoutMs: number): Promise<RoundResult> {
    const armed = this.armed;
    if (armed === undefined) throw new Error('collect before arm');
    if (this.expected > 0 && this.events < this.expected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.onComplete = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onComplete = undefined;
    }
    const cpuUs = cpuNowUs() - armed.cpuUs;
    const now = performance.now();
    await stopProfile();
    this.armed = undefined;
    const extra: Record<string, number> = { ...this.extra, spanMs: armed.lastAt - armed.firstAt, heapUsedBytes: process.memoryUsage().heapUsed };
    if (this.expected > 0 && this.events < this.expected) extra['missingEvents'] = this.expected - this.events;
    if (this.leasesLost !== undefined) extra['leasesLost'] = this.leasesLost();
    return {
      ops: this.events,
      elapsedMs: now - armed.at,
      cpuUs,
      latencies: samples.slice(0, this.samplesTaken),
      peakRssBytes: peakRssBytes(),
      extra,
    };
  }
}

/** Runs `concurrency` lanes, each issuing the next operation when its previous one completes, for `durationMs`. */
async function runLoop(
  op: (i: number, lane: number) => Promise<unknown>,
  concurrency: number,
  durationMs: number,
  record: boolean,
): Promise<number> {
  let next = 0;
  let done = 0;
  const endAt = performance.now() + durationMs;
  const lane = async (index: number): Promise<void> => {
    for (;;) {
      const start = performance.now();
      if (start >= endAt) return;
      await op(next++, index);
      if (record && done < MAX_SAMPLES) samples[done] = performance.now() - start;
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => lane(index)));
  return done;
}

let worker: Worker | undefined;
process.on('message', (message: WorkerRequest | { init: WorkerInit }) => {
  if ('init' in message) {
    worker = new Worker(message.init);
    process.send!({ id: 0, result: 'ready' } satisfies WorkerReply);
    return;
  }
  const { id, request } = message;
  worker!.handle(request).then(
    (result) => process.send!({ id, result } satisfies WorkerReply),
    (error: unknown) => process.send!({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies WorkerReply),
  );
});
process.on('disconnect', () => process.exit(0));
