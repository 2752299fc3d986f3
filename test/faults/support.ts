/**
 * Shared pieces of the fault scenarios (RELIABILITY section 8): the JSON record each scenario
 * writes (section 9), the one-server-behind-a-fault-proxy fixture, a settlement tracker for
 * promises, a transport-level spy that counts how often grpc-js completes each unary call, and
 * small statistics helpers.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import Long from 'long';
import { afterAll, beforeAll } from 'vitest';
import { Etcd, type EtcdOptions } from 'etcdkit';
import { startEtcd, startFaultProxy, type EtcdServer, type EtcdServerOptions, type FaultProxy } from 'etcdkit/testing';
import { MaintenanceClient } from '../../src/generated/etcdserverpb/rpc.js';

const RESULTS_DIR = fileURLToPath(new URL('../../.fault-results/', import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds since an arbitrary origin, with sub-millisecond precision. */
export const now = (): number => performance.now();

/** CPU time of this process (user + system, all threads) in ms. */
export function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

export interface Check {
  name: string;
  ok: boolean;
  detail?: unknown;
}

export interface ScheduleEntry {
  event: string;
  /** Milliseconds since the scenario started. */
  atMs: number;
  /** Wall clock. */
  at: string;
  detail?: unknown;
}

/**
 * One scenario's record: id, etcd version, config, fault schedule with timestamps, figures,
 * the property checks and the verdict. Written to `.fault-results/<id>.json`.
 */
export class FaultRecord {
  readonly startedAt = new Date();
  readonly #t0 = now();
  etcdVersion = 'unknown';
  seed: number | null = null;
  config: Record<string, unknown> = {};
  readonly schedule: ScheduleEntry[] = [];
  readonly figures: Record<string, unknown> = {};
  readonly checks: Check[] = [];
  readonly notes: string[] = [];
  readonly #parts = new Map<string, 'running' | 'done'>();

  constructor(
    readonly id: string,
    readonly title: string,
  ) {}

  /** Milliseconds since the record was created. */
  elapsed(): number {
    return now() - this.#t0;
  }

  /** Adds a timestamped event to the fault schedule. */
  mark(event: string, detail?: unknown): number {
    const atMs = round(this.elapsed());
    this.schedule.push({ event, atMs, at: new Date().toISOString(), ...(detail === undefined ? {} : { detail }) });
    return atMs;
  }

  /** Records a property check; the test asserts it afterwards. Returns `ok`. */
  check(name: string, ok: boolean, detail?: unknown): boolean {
    this.checks.push({ name, ok, ...(detail === undefined ? {} : { detail }) });
    return ok;
  }

  /** Marks a part (one `it`) as started; a part never finished makes the verdict `fail`. */
  begin(part: string): void {
    this.#parts.set(part, 'running');
  }

  end(part: string): void {
    this.#parts.set(part, 'done');
  }

  get verdict(): 'pass' | 'fail' {
    const unfinished = [...this.#parts.values()].some((state) => state !== 'done');
    return !unfinished && this.checks.every((c) => c.ok) ? 'pass' : 'fail';
  }

  /** The checks that failed, for assertion messages. */
  failed(): Check[] {
    return this.checks.filter((c) => !c.ok);
  }

  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      title: this.title,
      seed: this.seed,
      etcdVersion: this.etcdVersion,
      node: process.version,
      startedAt: this.startedAt.toISOString(),
      runtimeMs: round(this.elapsed()),
      config: this.config,
      schedule: this.schedule,
      figures: this.figures,
      checks: this.checks,
      parts: Object.fromEntries(this.#parts),
      notes: this.notes,
      verdict: this.verdict,
    };
  }

  /** Writes `.fault-results/<id>.json` and prints a one-line summary. */
  async write(summary: string): Promise<void> {
    await mkdir(RESULTS_DIR, { recursive: true });
    const json = JSON.stringify(this, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2);
    await writeFile(`${RESULTS_DIR}${this.id}.json`, `${json}\n`);
    console.log(`[fault ${this.id}] ${this.verdict.toUpperCase()} in ${(this.elapsed() / 1000).toFixed(1)} s: ${summary}`);
  }
}

/** What a scenario gets from {@link useProxiedEtcd}. */
export interface ProxiedEtcd {
  /** The etcd server (valid inside tests and in hooks registered after the fixture). */
  readonly server: EtcdServer;
  /** The fault proxy in front of `server.endpoint` (same validity). */
  readonly proxy: FaultProxy;
  /** A client through the fault proxy, closed after the scenario. */
  client(options?: Omit<EtcdOptions, 'endpoints'>): Etcd;
  /** A client of the server's own endpoint (not through the proxy), closed after the scenario. */
  directClient(options?: Omit<EtcdOptions, 'endpoints'>): Etcd;
}

/** Options of {@link useProxiedEtcd}: the server's, plus the record's summary line. */
export interface ProxiedEtcdOptions extends EtcdServerOptions {
  /**
   * When given, `afterAll` writes the record with this summary (once the clients and the proxy
   * are closed); scenarios that write the record inside their test leave it out.
   */
  summary?: () => string;
}

/**
 * One etcd (data kept when the verdict is not `pass`) behind a fault proxy, for a scenario file:
 * `beforeAll` starts both and records the etcd version; `afterAll` closes every client made by
 * the fixture, then the proxy, writes the record when `summary` is given, records a failure on
 * the server when the verdict is not `pass`, and stops the server. Per-file setup goes in a
 * `beforeAll` registered after this call.
 */
export function useProxiedEtcd(record: FaultRecord, options: ProxiedEtcdOptions = {}): ProxiedEtcd {
  const { summary, ...serverOptions } = options;
  let server: EtcdServer | undefined;
  let proxy: FaultProxy | undefined;
  const clients: Etcd[] = [];
  beforeAll(async () => {
    server = await startEtcd({ keepDataOnFailure: true, ...serverOptions });
    proxy = await startFaultProxy({ target: server.endpoint });
    record.etcdVersion = (await server.status()).version;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await proxy?.close();
    if (summary) await record.write(summary());
    if (record.verdict !== 'pass') server?.recordFailure(`${record.id} failed`);
    await server?.close();
  });
  const tracked = (client: Etcd): Etcd => {
    clients.push(client);
    return client;
  };
  return {
    get server(): EtcdServer {
      if (!server) throw new Error(`${record.id}: the etcd server is not started yet (useProxiedEtcd's beforeAll has not run)`);
      return server;
    },
    get proxy(): FaultProxy {
      if (!proxy) throw new Error(`${record.id}: the fault proxy is not started yet (useProxiedEtcd's beforeAll has not run)`);
      return proxy;
    },
    client(clientOptions = {}): Etcd {
      return tracked(new Etcd({ ...clientOptions, endpoints: [this.proxy.endpoint] }));
    },
    directClient(clientOptions = {}): Etcd {
      return tracked(new Etcd({ ...clientOptions, endpoints: [this.server.endpoint] }));
    },
  };
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Nearest-rank percentile of `values` (0 when empty). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** How one tracked promise ended. */
export interface Settlement<T = unknown> {
  label: string;
  startedAt: number;
  /** Every settlement observed (a correct promise has exactly one). */
  settledAt: number[];
  outcome: 'pending' | 'resolved' | 'rejected';
  value?: T;
  error?: unknown;
}

/**
 * Tracks promises: when each started and settled. A native promise settles at most once, so
 * `settledAt.length` > 1 cannot happen here; double completions at the transport are counted
 * by {@link spyUnaryCompletions}.
 */
export class SettlementTracker {
  readonly all: Settlement[] = [];

  track<T>(label: string, start: () => Promise<T>): { entry: Settlement<T>; promise: Promise<Settlement<T>> } {
    const entry: Settlement<T> = { label, startedAt: now(), settledAt: [], outcome: 'pending' };
    this.all.push(entry);
    const promise = Promise.resolve()
      .then(start)
      .then(
        (value) => {
          entry.settledAt.push(now());
          if (entry.outcome === 'pending') {
            entry.outcome = 'resolved';
            entry.value = value;
          }
          return entry;
        },
        (error: unknown) => {
          entry.settledAt.push(now());
          if (entry.outcome === 'pending') {
            entry.outcome = 'rejected';
            entry.error = error;
          }
          return entry;
        },
      );
    return { entry, promise };
  }

  pending(): Settlement[] {
    return this.all.filter((s) => s.outcome === 'pending');
  }

  settledMoreThanOnce(): Settlement[] {
    return this.all.filter((s) => s.settledAt.length > 1);
  }
}

/** One unary call as grpc-js saw it. */
export interface UnaryCompletion {
  path: string;
  startedAt: number;
  /** How many times grpc-js invoked the call's callback (must be exactly 1). */
  callbacks: number;
  /** Whether the callback reported an error, and a late second one after the first. */
  outcomes: Array<'ok' | 'error'>;
}

/**
 * Wraps `grpc.Client.prototype.makeUnaryRequest` so every unary call's completion callback is
 * counted: a callback invoked twice (a resolve after a reject at the transport) or never
 * (a call left pending) shows up here. Call `restore()` in a `finally`.
 */
export function spyUnaryCompletions(): { calls: UnaryCompletion[]; restore(): void } {
  const proto = grpc.Client.prototype as unknown as { makeUnaryRequest: (...args: unknown[]) => unknown };
  const original = proto.makeUnaryRequest;
  const calls: UnaryCompletion[] = [];
  proto.makeUnaryRequest = function (this: unknown, ...args: unknown[]): unknown {
    let index = -1;
    for (let i = args.length - 1; i >= 0; i--) {
      if (typeof args[i] === 'function') {
        index = i;
        break;
      }
    }
    if (index > 0) {
      const record: UnaryCompletion = { path: String(args[0]), startedAt: now(), callbacks: 0, outcomes: [] };
      calls.push(record);
      const callback = args[index] as (error: unknown, value: unknown) => void;
      args[index] = (error: unknown, value: unknown): void => {
        record.callbacks++;
        record.outcomes.push(error ? 'error' : 'ok');
        callback(error, value);
      };
    }
    return original.apply(this, args);
  };
  return {
    calls,
    restore(): void {
      proto.makeUnaryRequest = original;
    },
  };
}

/**
 * HashKV of one member at `revision`, over a bare grpc-js client (independent of the SDK),
 * through the generated Maintenance service.
 */
export async function hashKV(endpoint: string, revision: number): Promise<{ hash: number; compactRevision: string; revision: string }> {
  const client = new MaintenanceClient(endpoint, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => {
      client.hashKv(
        { revision: Long.fromNumber(revision) },
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (error, response) => {
          if (error) reject(error);
          else
            resolve({
              hash: response.hash,
              compactRevision: response.compactRevision.toString(),
              revision: response.header?.revision.toString() ?? '?',
            });
        },
      );
    });
  } finally {
    client.close();
  }
}

/** Counts by key. */
export function tally(keys: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = (out[key] ?? 0) + 1;
  return out;
}

/** The class name of an error (`DeadlineExceededError`, ...) or a description of a non-error. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

let gc: (() => void) | undefined;

/** Runs full garbage collections (V8's `gc`, exposed at run time) and returns the heap used after them. */
export function collectGarbage(): number {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
