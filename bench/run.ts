/**
 * `npm run bench [-- --quick] [-- --only=put-64,get-256] [-- --clients=etcdkit,floor] [-- --profile]`
 *
 * Starts a throwaway single-node etcd, then runs every workload for etcdkit, the npm `etcd3`
 * package and a bare grpc-js floor, each client in its own child process (bench/worker.ts),
 * interleaved A B C A B C in rounds. Writes bench/RESULTS.md and bench/ratios.svg.
 * See bench/README.md for the method.
 */
import { type ChildProcess, execFileSync, fork, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd, Range } from '../src/index.js';
import { type EtcdServer, startEtcd } from '../src/testing/index.js';
import { CLIENT_NAMES, type ClientName, EXTRA_CLIENT_NAMES } from './clients/types.js';
import type { Dataset, LoopKind, RoundResult, Step, WorkerInit, WorkerReply } from './protocol.js';
import { renderMarkdown, renderSvg, type WorkloadReport } from './report.js';
import { type Summary, summarize } from './stats.js';
import { StampedWriter } from './writer.js';

const here = dirname(fileURLToPath(import.meta.url));

// --- options -------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const found = args.find((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (found === undefined) return undefined;
  return found.includes('=') ? found.slice(found.indexOf('=') + 1) : '';
};
const quick = flag('quick') !== undefined;
const only = flag('only')?.split(',').filter(Boolean);
const clients = (flag('clients')?.split(',').filter(Boolean) ?? [...CLIENT_NAMES]) as ClientName[];
const profile = flag('profile') !== undefined;
/**
 * Pin etcd to CPU 1 and the client under test to CPU 0, so that the client's CPU time is not
 * traded against the server's: on by default with 2 or more CPUs and `taskset` on PATH;
 * `--no-pin` turns it off. The orchestrator (the watch workloads' writer) is left to the
 * scheduler.
 */
const pin = flag('no-pin') === undefined && cpus().length >= 2 && hasTaskset();

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const KNOWN_CLIENTS: readonly ClientName[] = [...CLIENT_NAMES, ...EXTRA_CLIENT_NAMES];
for (const client of clients) {
  if (!KNOWN_CLIENTS.includes(client)) throw new Error(`unknown client ${client}; expected some of ${KNOWN_CLIENTS.join(', ')}`);
}

// Many short rounds rather than a few long ones: the two turns of a paired ratio then run closer
// together, and the median has more pairs to choose from. The watch workload splits its 50,000
// puts over four rounds per client (its events/s follows the writer's pace, which drifts), the
// keep-alive one its 15 s over three.
const CONFIG = quick
  ? { loopRounds: 2, firstWarmupMs: 400, warmupMs: 150, measureMs: 400, settleMs: 100, watchEvents: 6_000, watchWarmupEvents: 1_000, watchRounds: 1, watchers: 2_000, watcherRounds: 1, leases: 1_000, leaseTtl: 5, leaseSettleMs: 2_000, leaseWindowMs: 2_000, leaseRounds: 1 }
  : { loopRounds: 8, firstWarmupMs: 3_000, warmupMs: 200, measureMs: 750, settleMs: 200, watchEvents: 12_500, watchWarmupEvents: 3_000, watchRounds: 4, watchers: 10_000, watcherRounds: 2, leases: 1_000, leaseTtl: 5, leaseSettleMs: 5_000, leaseWindowMs: 5_000, leaseRounds: 3 };

// Overrides, for profiling one workload at length: --rounds=N, --measure-ms=N, --warmup-ms=N.
const overrides = { rounds: flag('rounds'), measureMs: flag('measure-ms'), warmupMs: flag('warmup-ms') };
if (overrides.rounds) CONFIG.loopRounds = CONFIG.watchRounds = CONFIG.watcherRounds = CONFIG.leaseRounds = Number(overrides.rounds);
if (overrides.measureMs) CONFIG.measureMs = Number(overrides.measureMs);
if (overrides.warmupMs) CONFIG.warmupMs = Number(overrides.warmupMs);

/** Puts in flight from the watch workloads' writer. */
const WRITER_CONCURRENCY = 128;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

// --- workers -------------------------------------------------------------------------------------

/** One client's child process, driven step by step. */
class WorkerHandle {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private exited = false;

  private constructor(
    readonly client: ClientName,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      if (waiter === undefined) return;
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiter.reject(new Error(`${client} worker: ${reply.error}`));
      else waiter.resolve(reply.result);
    });
    child.on('exit', (code) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${client} worker exited with code ${code}`));
      this.pending.clear();
    });
  }

  static async start(init: WorkerInit, workload: string): Promise<WorkerHandle> {
    const execArgv = ['--expose-gc'];
    const env = { ...process.env };
    if (profile) {
      // The worker profiles its measurement windows only (bench/worker.ts, startProfile).
      const dir = join(here, 'profiles', workload, init.client);
      mkdirSync(dir, { recursive: true });
      env['BENCH_PROFILE_DIR'] = dir;
    }
    const child = fork(join(here, '.build', 'bench', 'worker.js'), [], {
      execArgv,
      env,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (pin && child.pid !== undefined) execFileSync('taskset', ['-a', '-cp', '0', String(child.pid)], { stdio: 'ignore' });
    const handle = new WorkerHandle(init.client, child);
    await new Promise<void>((resolve, reject) => {
      handle.pending.set(0, { resolve: () => resolve(), reject });
      child.send({ init });
    });
    return handle;
  }

  call<T>(request: Step): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.exited) {
        reject(new Error(`${this.client} worker has exited`));
        return;
      }
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, request });
    });
  }

  async exit(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.call({ step: 'exit' }).catch(() => undefined);
    await exited;
  }
}

// --- workloads -----------------------------------------------------------------------------------

interface Context {
  server: EtcdServer;
  admin: Etcd;
  writer: StampedWriter;
  dataset: Dataset;
}

/** How a workload's figures are read, and which target applies to it (issue 7). */
interface Workload {
  id: string;
  title: string;
  /** What "op" means in ops/s and CPU/op. */
  unit: string;
  /** Latency column meaning. */
  latency: string;
  /** Allowed CPU/op over the floor: 1.1 (put, get, txn), 1.5 (watch, keep-alive), or none. */
  floorTarget: number | undefined;
  run(ctx: Context, workers: Map<ClientName, WorkerHandle>): Promise<Summary[]>;
}

/** Runs `turn` for every client in order, round after round: A B C A B C. */
async function interleave(
  workers: Map<ClientName, WorkerHandle>,
  rounds: number,
  label: string,
  turn: (worker: WorkerHandle, round: number) => Promise<RoundResult>,
): Promise<Map<ClientName, RoundResult[]>> {
  const results = new Map<ClientName, RoundResult[]>([...workers.keys()].map((client) => [client, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const [client, worker] of workers) {
      const result = await turn(worker, round);
      results.get(client)!.push(result);
      const extra = Object.entries(result.extra)
        .filter(([key]) => !key.endsWith('Bytes') || key.startsWith('heapPer'))
        .map(([key, value]) => `${key}=${Math.round(value * 10) / 10}`)
        .join(' ');
      log(
        `  [${label}] round ${round}/${rounds} ${client.padEnd(7)} ${result.ops} ops in ${(result.elapsedMs / 1000).toFixed(2)} s, ` +
          `CPU ${(result.cpuUs / Math.max(1, result.ops)).toFixed(1)} µs/op ${extra}`,
      );
    }
  }
  return results;
}

/**
 * Compacts away the history of the previous turn (physically, so that no compaction runs
 * during the next turn) and lets the server settle, so every client meets the same server.
 */
async function compact(admin: Etcd): Promise<void> {
  const { header } = await admin.range(Range.key('bench/').withPrefix().withCountOnly());
  await admin.compact(header.revision, { physical: true }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, CONFIG.settleMs));
}

function loopWorkload(id: string, title: string, kind: LoopKind, concurrency: number, floorTarget: number | undefined): Workload {
  return {
    id,
    title,
    unit: kind === 'range' ? 'ranges' : 'calls',
    latency: 'call latency',
    floorTarget,
    async run(ctx, workers) {
      const results = await interleave(workers, CONFIG.loopRounds, id, async (worker, round) => {
        await compact(ctx.admin);
        if (kind === 'cas') await Promise.all(ctx.dataset.casKeys.map((key) => ctx.admin.put(key, ctx.dataset.casValues[0])));
        // The first round's longer warm-up lets the JIT settle before anything is measured.
        const warmupMs = round === 1 ? CONFIG.firstWarmupMs : CONFIG.warmupMs;
        return worker.call<RoundResult>({ step: 'loop', kind, concurrency, warmupMs, measureMs: CONFIG.measureMs });
      });
      return [...results].map(([client, rounds]) => summarize(client, rounds, (r) => ({ ops: r.ops, seconds: r.elapsedMs / 1000 })));
    },
  };
}

const watchThroughput: Workload = {
  id: 'watch-1x50k',
  title: `watch: 1 watcher, ${(CONFIG.watchEvents * CONFIG.watchRounds).toLocaleString('en')} puts (${CONFIG.watchRounds} × ${CONFIG.watchEvents.toLocaleString('en')})`,
  unit: 'events',
  latency: 'put issued → event handled',
  floorTarget: 1.5,
  async run(ctx, workers) {
    const keys = Array.from({ length: 1_000 }, (_, i) => `bench/watch/${String(i).padStart(4, '0')}`);
    const turn = async (worker: WorkerHandle, events: number): Promise<RoundResult> => {
      await compact(ctx.admin);
      await worker.call({ step: 'watchPrefix', prefix: 'bench/watch/' });
      await worker.call({ step: 'arm', expected: events });
      const [result] = await Promise.all([
        worker.call<RoundResult>({ step: 'collect', timeoutMs: 120_000 }),
        ctx.writer.write(keys, events, WRITER_CONCURRENCY),
      ]);
      await worker.call({ step: 'stop' });
      return result;
    };
    // An unmeasured turn per client first, so that the writer (in this process) and each
    // client's watch path are compiled before the measured rounds, and not during the first
    // round of whichever client goes first.
    for (const worker of workers.values()) await turn(worker, CONFIG.watchWarmupEvents);
    const results = await interleave(workers, CONFIG.watchRounds, this.id, (worker) => turn(worker, CONFIG.watchEvents));
    // Events/s over the span from the first to the last event; CPU over the whole window.
    return [...results].map(([client, rounds]) =>
      summarize(client, rounds, (r) => ({ ops: r.ops, seconds: (r.extra['spanMs'] ?? r.elapsedMs) / 1000 })),
    );
  },
};

const manyWatchers: Workload = {
  id: 'watchers-10k',
  title: `${CONFIG.watchers.toLocaleString('en')} watchers, one event each`,
  unit: 'watchers created',
  latency: 'put issued → event handled',
  floorTarget: undefined,
  async run(ctx, workers) {
    const keys = Array.from({ length: CONFIG.watchers }, (_, i) => `bench/w/${String(i).padStart(5, '0')}`);
    const results = await interleave(workers, CONFIG.watcherRounds, this.id, async (worker) => {
      await compact(ctx.admin);
      await worker.call({ step: 'watchKeys', keys });
      await worker.call({ step: 'arm', expected: keys.length });
      const [result] = await Promise.all([
        worker.call<RoundResult>({ step: 'collect', timeoutMs: 120_000 }),
        ctx.writer.write(keys, keys.length, WRITER_CONCURRENCY),
      ]);
      await worker.call({ step: 'stop' });
      return result;
    });
    // Ops/s is the creation rate; CPU per watcher covers its creation and its one event.
    return [...results].map(([client, rounds]) =>
      summarize(
        client,
        rounds,
        (r) => ({ ops: keys.length, seconds: (r.extra['createMs'] ?? Number.NaN) / 1000 }),
        (r) => ({ ops: keys.length, cpuUs: r.cpuUs + (r.extra['createCpuUs'] ?? 0) }),
      ),
    );
  },
};

const keptLeases: Workload = {
  id: 'leases-1k',
  title: `${CONFIG.leases.toLocaleString('en')} kept-alive leases (TTL ${CONFIG.leaseTtl} s) over ${(CONFIG.leaseWindowMs * CONFIG.leaseRounds) / 1000} s (${CONFIG.leaseRounds} × ${CONFIG.leaseWindowMs / 1000} s, each after ${CONFIG.leaseSettleMs / 1000} s of settling)`,
  unit: 'keep-alives (server count)',
  latency: '—',
  floorTarget: 1.5,
  async run(ctx, workers) {
    // The server's count of renewals: the clients do not all expose one, and it is the truth.
    const renewed = (): Promise<number> => ctx.server.metric('etcd_debugging_lease_renewed_total');
    const grant = async (worker: WorkerHandle): Promise<void> => {
      await compact(ctx.admin);
      await worker.call({ step: 'keepLeases', count: CONFIG.leases, ttl: CONFIG.leaseTtl });
    };
    const turn = async (worker: WorkerHandle): Promise<RoundResult> => {
      await grant(worker);
      // The first refresh cycles after a grant run cold code (every client costs several times
      // its steady figure then): they are measured apart, as a note, and the window that the
      // ratios use opens after them.
      const settle = await measureWindow(worker, renewed, CONFIG.leaseSettleMs);
      const measured = await measureWindow(worker, renewed, CONFIG.leaseWindowMs);
      await worker.call({ step: 'stop' });
      return { ...measured, extra: { ...measured.extra, settleCpuUsPerOp: settle.cpuUs / Math.max(1, settle.ops) } };
    };
    // An unmeasured turn per client first (grant, one settling period, stop): without it, each
    // client's first measured window still ran its keep-alive code warming up (1.3-1.9x its
    // second window for etcdkit, up to 1.4x for the floor), and with two rounds that one window
    // made half the ratio.
    for (const worker of workers.values()) {
      await grant(worker);
      await new Promise((resolve) => setTimeout(resolve, CONFIG.leaseSettleMs));
      await worker.call({ step: 'stop' });
    }
    const results = await interleave(workers, CONFIG.leaseRounds, this.id, turn);
    return [...results].map(([client, rounds]) => summarize(client, rounds, (r) => ({ ops: r.ops, seconds: r.elapsedMs / 1000 })));
  },
};

/** Measures `worker` over `durationMs`, counting the operations with `count` (a server metric). */
async function measureWindow(worker: WorkerHandle, count: () => Promise<number>, durationMs: number): Promise<RoundResult> {
  const before = await count();
  await worker.call({ step: 'arm', expected: 0 });
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const result = await worker.call<RoundResult>({ step: 'collect', timeoutMs: 0 });
  return { ...result, ops: (await count()) - before };
}

const WORKLOADS: Workload[] = [
  loopWorkload('put-seq', 'put, sequential (1 in flight)', 'put', 1, 1.1),
  loopWorkload('put-64', 'put, 64 in flight', 'put', 64, 1.1),
  loopWorkload('put-256', 'put, 256 in flight', 'put', 256, 1.1),
  loopWorkload('get-256', 'get, 256 in flight', 'get', 256, 1.1),
  loopWorkload('txn-cas-64', 'txn compare-and-swap, 64 in flight', 'cas', 64, 1.1),
  loopWorkload('range-1000', 'range of 1,000 keys (sequential)', 'range', 1, undefined),
  watchThroughput,
  manyWatchers,
  keptLeases,
];

// --- main ----------------------------------------------------------------------------------------

async function populate(admin: Etcd, dataset: Dataset): Promise<void> {
  const value = dataset.value;
  const writes = [...dataset.getKeys, ...dataset.putKeys, ...dataset.casKeys];
  for (let i = 0; i < writes.length; i += 256) {
    await Promise.all(writes.slice(i, i + 256).map((key) => admin.put(key, value)));
  }
}

/**
 * Compiles the workers and the etcdkit sources with tsc (bench/tsconfig.json), so the workers
 * run the code as it ships, on plain node.
 */
function buildWorkers(): void {
  const tsc = join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { encoding: 'utf8' });
  // Exit status 2: type errors, but the JavaScript was written. Type checking is `npm run
  // typecheck`'s job; the bench runs what was emitted, and says so.
  if (result.status === 2) {
    log(`warning: tsc reported type errors (the bench runs the emitted code anyway):\n${result.stdout.trim()}`);
  } else if (result.status !== 0) {
    throw new Error(`compiling the workers failed (tsc exit status ${result.status}):\n${result.stdout}${result.stderr}`);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  buildWorkers();
  log(`compiled the workers with tsc in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const selected = WORKLOADS.filter((workload) => only === undefined || only.includes(workload.id));
  if (only !== undefined && selected.length !== only.length) {
    throw new Error(`unknown workload in --only; expected some of ${WORKLOADS.map((w) => w.id).join(', ')}`);
  }
  const loadBefore = loadavg();
  const server = await startEtcd({ extraArgs: ['--unsafe-no-fsync'] });
  const status = await server.status();
  if (pin && server.pid !== undefined) execFileSync('taskset', ['-a', '-cp', '1', String(server.pid)], { stdio: 'ignore' });
  log(
    `etcd ${status.version} started at ${server.endpoint} with --unsafe-no-fsync (writes are not synced to disk, ` +
      `so the figures measure the clients, not the disk)`,
  );
  log(`mode: ${quick ? 'quick' : 'full'}; clients ${clients.join(', ')}; each in its own process, interleaved in rounds`);
  log(pin ? 'pinned: etcd to CPU 1, the client under test to CPU 0' : 'not pinned to CPUs');
  const admin = new Etcd({ endpoints: [server.endpoint] });
  const writer = new StampedWriter(server.endpoint);
  const dataset: Dataset = {
    putKeys: Array.from({ length: 1_000 }, (_, i) => `bench/put/${String(i).padStart(4, '0')}`),
    getKeys: Array.from({ length: 1_000 }, (_, i) => `bench/kv/${String(i).padStart(4, '0')}`),
    casKeys: Array.from({ length: 256 }, (_, i) => `bench/cas/${String(i).padStart(3, '0')}`),
    casValues: ['a'.repeat(64), 'b'.repeat(64)],
    rangePrefix: 'bench/kv/',
    value: 'v'.repeat(128),
  };
  const reports: WorkloadReport[] = [];
  try {
    await populate(admin, dataset);
    for (const workload of selected) {
      const workloadStarted = performance.now();
      log(`${workload.id}: ${workload.title}`);
      const workers = new Map<ClientName, WorkerHandle>();
      const handles = await Promise.all(clients.map((client) => WorkerHandle.start({ client, endpoint: server.endpoint, dataset }, workload.id)));
      for (const handle of handles) workers.set(handle.client, handle);
      try {
        const summaries = await workload.run({ server, admin, writer, dataset }, workers);
        reports.push({ id: workload.id, title: workload.title, unit: workload.unit, latency: workload.latency, floorTarget: workload.floorTarget, summaries });
      } finally {
        await Promise.all(handles.map((handle) => handle.exit()));
      }
      log(`  ${workload.id} took ${((performance.now() - workloadStarted) / 1000).toFixed(0)} s`);
    }
  } finally {
    writer.close();
    await admin.close();
    await server.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const environment = {
    mode: quick ? 'quick' : 'full',
    node: process.version,
    etcd: status.version,
    cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
    pinned: pin,
    loadBefore: loadBefore.map((load) => load.toFixed(2)).join(' '),
    loadAfter: loadavg().map((load) => load.toFixed(2)).join(' '),
    seconds,
    date: new Date().toISOString(),
    config: CONFIG,
  };
  const markdown = renderMarkdown(reports, environment);
  if (only === undefined && clients.length === CLIENT_NAMES.length && CLIENT_NAMES.every((client) => clients.includes(client))) {
    writeFileSync(join(here, 'RESULTS.md'), markdown);
    writeFileSync(join(here, 'ratios.svg'), renderSvg(reports, environment));
    log('wrote bench/RESULTS.md and bench/ratios.svg');
  } else {
    log('partial run (--only or --clients): bench/RESULTS.md and bench/ratios.svg left as they were');
  }
  process.stdout.write(markdown);
  log(`done in ${seconds.toFixed(0)} s`);
}

main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
