/**
 * Shared pieces of the watch scenarios (RELIABILITY 8.A and 8.E):
 *
 * - an independent **writer**: a second etcdkit client on a direct endpoint (never through a
 *   fault proxy) that writes at a bounded rate for a bounded time and logs every acknowledged
 *   write with its revision;
 * - the **event-log oracle**, read through etcd's JSON gateway (`POST /v3/watch`, plain
 *   `fetch`, no SDK code), or built from the writer's acknowledged log when nothing was
 *   compacted and no write is in doubt;
 * - a **collector** that consumes a watcher and records every batch it delivered;
 * - the **comparison** of what a watcher delivered with the oracle filtered by that watcher's
 *   range and filters: missing, duplicate, out-of-order, unexpected, changed, split revisions;
 * - the server's **watch gauges**, read from `/metrics`.
 */
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { type Etcd, EtcdError, Op, Watch, type WatchBatch, type Watcher, type WatchOptions } from 'etcdkit';
import type { EtcdMember } from 'etcdkit/testing';
import { sumMetric } from 'etcdkit/testing';
import { cpuMs, errorName, now, sleep, tally } from './support.js';

export type EventType = 'put' | 'delete';

/** One event, in a form both the oracle and the SDK's events reduce to. */
export interface LogEvent {
  key: string;
  type: EventType;
  revision: bigint;
  /** {@link valueId} of the value ('' for a delete). */
  value: string;
  /** {@link valueId} of the previous value; `undefined` when there was none (or prev_kv was not asked for). */
  prev: string | undefined;
}

/** A value's identity: the value itself (base64) when short, else its length and SHA-1. */
export function valueId(value: Buffer | Uint8Array): string {
  const buffer = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (buffer.length <= 64) return buffer.toString('base64');
  return `sha1:${createHash('sha1').update(buffer).digest('hex')}:${buffer.length}`;
}

/** The end of the range of keys starting with `prefix` (etcd's prefix end). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      bytes[i] = bytes[i]! + 1;
      return bytes.subarray(0, i + 1).toString('latin1');
    }
  }
  return '\0';
}

const b64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');

// ---------------------------------------------------------------------------------------------
// Oracle: the JSON gateway's watch
// ---------------------------------------------------------------------------------------------

export interface OracleQuery {
  /** The member's client URL (`http://127.0.0.1:port`), never a proxy. */
  clientUrl: string;
  key: string;
  /** '' for the key alone; {@link prefixEnd} for a prefix. */
  rangeEnd: string;
  startRevision: bigint;
  /** Read until an event at or above this revision arrived (the writer's last acked revision). */
  untilRevision: bigint;
  /** Auth token for a server with auth enabled. */
  token?: string;
  /** @defaultValue 15000 */
  timeoutMs?: number;
}

interface GatewayKv {
  key?: string;
  value?: string;
  mod_revision?: string;
}

interface GatewayResult {
  result?: {
    header?: { revision?: string };
    created?: boolean;
    canceled?: boolean;
    compact_revision?: string;
    cancel_reason?: string;
    events?: Array<{ type?: string; kv?: GatewayKv; prev_kv?: GatewayKv }>;
  };
  error?: unknown;
}

const gatewayValue = (kv: GatewayKv | undefined): string => valueId(Buffer.from(kv?.value ?? '', 'base64'));

/**
 * The true event log of `[key, rangeEnd)` from `startRevision` through `untilRevision`, with
 * previous values, read through etcd's JSON gateway (`POST /v3/watch`, newline-delimited
 * results) with plain `fetch`: no etcdkit code is involved.
 */
export async function readEventLog(query: OracleQuery): Promise<LogEvent[]> {
  const events: LogEvent[] = [];
  if (query.untilRevision < query.startRevision) return events;
  const controller = new AbortController();
  const timeoutMs = query.timeoutMs ?? 15_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const body = {
    create_request: {
      key: b64(query.key),
      ...(query.rangeEnd === '' ? {} : { range_end: b64(query.rangeEnd) }),
      start_revision: query.startRevision.toString(),
      prev_kv: true,
    },
  };
  let highest = 0n;
  try {
    const response = await fetch(`${query.clientUrl}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: query.token === undefined ? {} : { Authorization: query.token },
      signal: controller.signal,
    });
    if (!response.ok || response.body === null) throw new Error(`oracle watch: HTTP ${response.status}`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    try {
      while (highest < query.untilRevision) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`oracle watch: the gateway ended the stream at revision ${highest}`);
        text += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = text.indexOf('\n')) !== -1) {
          const line = text.slice(0, newline).trim();
          text = text.slice(newline + 1);
          if (line === '') continue;
          const message = JSON.parse(line) as GatewayResult;
          if (message.error !== undefined) throw new Error(`oracle watch: ${JSON.stringify(message.error)}`);
          const result = message.result;
          if (result?.canceled) {
            throw new Error(`oracle watch cancelled: compact_revision ${result.compact_revision ?? '0'} ${result.cancel_reason ?? ''}`);
          }
          for (const event of result?.events ?? []) {
            const revision = BigInt(event.kv?.mod_revision ?? '0');
            if (revision > highest) highest = revision;
            if (revision > query.untilRevision) continue;
            const type: EventType = event.type === 'DELETE' ? 'delete' : 'put';
            events.push({
              key: Buffer.from(event.kv?.key ?? '', 'base64').toString('latin1'),
              type,
              revision,
              value: type === 'delete' ? '' : gatewayValue(event.kv),
              prev: event.prev_kv === undefined ? undefined : gatewayValue(event.prev_kv),
            });
          }
        }
      }
    } finally {
      controller.abort();
      await reader.cancel().catch(() => undefined);
    }
  } catch (error) {
    if (timedOut) {
      throw new Error(`oracle watch timed out after ${timeoutMs} ms at revision ${highest} of ${query.untilRevision}`, { cause: error });
    }
    if (highest >= query.untilRevision && (error as Error).name === 'AbortError') return events;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return events;
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/** One acknowledged write: its revision and the events it made. */
export interface AckedWrite {
  seq: number;
  revision: bigint;
  events: Array<{ key: string; type: EventType; value: string }>;
  /** When the write was issued (absent in hand-made logs). */
  issuedAt?: number;
  ackedAt: number;
}

export interface WriterOptions {
  /** A client on a direct endpoint (never the proxy the watchers use). */
  client: Etcd;
  keys: readonly string[];
  ratePerSec: number;
  durationMs: number;
  /** Also stop after this many writes. @defaultValue Infinity */
  maxOps?: number;
  /** @defaultValue 8 */
  maxInFlight?: number;
  /** Every n-th write is a txn putting 3 distinct keys at one revision (0: never). @defaultValue 0 */
  txnEvery?: number;
  /** Every n-th write is a delete (0: never). @defaultValue 0 */
  deleteEvery?: number;
  /** Pads values to this many bytes. @defaultValue 0 */
  valueBytes?: number;
  /** Per-call deadline. @defaultValue 1000 */
  timeoutMs?: number;
  /** Seed of the key choice. @defaultValue 1 */
  seed?: number;
}

/** A small deterministic PRNG (mulberry32), so a run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Writes to `keys` at a bounded rate for a bounded time (puts, plus optional deletes and
 * 3-key txns), and logs every acknowledged write. A failed write is counted by class and as
 * "indeterminate" when it may have been applied: then only the gateway oracle knows the truth.
 */
export class Writer {
  readonly acked: AckedWrite[] = [];
  readonly failures = { definite: 0, indeterminate: 0, byClass: {} as Record<string, number> };
  issued = 0;
  private stopped = false;
  private pausedSince: number | undefined;
  private pausedMs = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private readonly random: () => number;

  constructor(private readonly options: WriterOptions) {
    this.random = prng(options.seed ?? 1);
  }

  /** Highest acknowledged revision (0 before any). */
  get lastRevision(): bigint {
    let max = 0n;
    for (const write of this.acked) if (write.revision > max) max = write.revision;
    return max;
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Stops issuing new writes until {@link Writer.resume}; the time paused does not count towards the duration. */
  pause(): void {
    this.pausedSince ??= now();
  }

  resume(): void {
    if (this.pausedSince === undefined) return;
    this.pausedMs += now() - this.pausedSince;
    this.pausedSince = undefined;
  }

  /** Stops issuing and waits for the writes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Resolves when the duration (or maxOps) is over and every write has settled. */
  get done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    const { ratePerSec, durationMs } = this.options;
    const maxOps = this.options.maxOps ?? Infinity;
    const maxInFlight = this.options.maxInFlight ?? 8;
    const interval = 1000 / ratePerSec;
    const started = now();
    while (!this.stopped && this.issued < maxOps) {
      if (this.pausedSince !== undefined) {
        await sleep(10);
        continue;
      }
      const due = started + this.pausedMs + this.issued * interval;
      if (due - started - this.pausedMs >= durationMs) break;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      while (this.inFlight.size >= maxInFlight) await Promise.race(this.inFlight);
      if (this.stopped) break;
      const seq = this.issued++;
      const write = this.write(seq).finally(() => this.inFlight.delete(write));
      this.inFlight.add(write);
    }
    await Promise.all(this.inFlight);
  }

  private value(seq: number): string {
    const text = `v${seq}`;
    const size = this.options.valueBytes ?? 0;
    return text.length >= size ? text : text + '.'.repeat(size - text.length);
  }

  private pickKeys(count: number): string[] {
    const keys = this.options.keys;
    const picked = new Set<string>();
    while (picked.size < Math.min(count, keys.length)) picked.add(keys[Math.floor(this.random() * keys.length)]!);
    return [...picked];
  }

  private async write(seq: number): Promise<void> {
    const { client, txnEvery = 0, deleteEvery = 0 } = this.options;
    const issuedAt = now();
    const options = { timeoutMs: this.options.timeoutMs ?? 1_000 };
    try {
      if (txnEvery > 0 && seq % txnEvery === txnEvery - 1) {
        const keys = this.pickKeys(3);
        const value = this.value(seq);
        const result = await client
          .txn()
          .then(...keys.map((key) => Op.put(key, value)))
          .commit(options);
        this.log(seq, issuedAt, result.header.revision, keys.map((key) => ({ key, type: 'put' as const, value: valueId(Buffer.from(value)) })));
      } else if (deleteEvery > 0 && seq % deleteEvery === deleteEvery - 1) {
        const [key] = this.pickKeys(1);
        const result = await client.delete(key!, options);
        // A delete of a missing key makes no event (and no revision).
        this.log(seq, issuedAt, result.header.revision, result.deleted > 0n ? [{ key: key!, type: 'delete', value: '' }] : []);
      } else {
        const [key] = this.pickKeys(1);
        const value = this.value(seq);
        const result = await client.put(key!, value, options);
        this.log(seq, issuedAt, result.header.revision, [{ key: key!, type: 'put', value: valueId(Buffer.from(value)) }]);
      }
    } catch (error) {
      const indeterminate = error instanceof EtcdError ? error.maybeApplied : true;
      if (indeterminate) this.failures.indeterminate++;
      else this.failures.definite++;
      const name = errorName(error);
      this.failures.byClass[name] = (this.failures.byClass[name] ?? 0) + 1;
    }
  }

  private log(seq: number, issuedAt: number, revision: bigint, events: AckedWrite['events']): void {
    this.acked.push({ seq, revision, events, issuedAt, ackedAt: now() });
  }

  /** Figures for the record. */
  summary(): Record<string, unknown> {
    return {
      issued: this.issued,
      acked: this.acked.length,
      ackedEvents: this.acked.reduce((sum, write) => sum + write.events.length, 0),
      firstRevision: this.acked.length === 0 ? 0n : this.acked.reduce((min, w) => (w.revision < min ? w.revision : min), this.lastRevision),
      lastRevision: this.lastRevision,
      failures: this.failures,
    };
  }
}

/**
 * The event log of a writer's acknowledged writes, with previous values. Valid only when no
 * write is in doubt (no indeterminate failure) and nothing else wrote the keys since `base`
 * (the keys' values before the first write, `undefined` for absent keys).
 */
export function writerEventLog(acked: readonly AckedWrite[], base: ReadonlyMap<string, string> = new Map()): LogEvent[] {
  const current = new Map(base);
  const events: LogEvent[] = [];
  for (const write of [...acked].sort((a, b) => (a.revision < b.revision ? -1 : a.revision > b.revision ? 1 : 0))) {
    for (const event of write.events) {
      const prev = current.get(event.key);
      events.push({ key: event.key, type: event.type, revision: write.revision, value: event.value, prev });
      if (event.type === 'delete') current.delete(event.key);
      else current.set(event.key, event.value);
    }
  }
  return events;
}

/** Acknowledged write events the oracle does not have (must be none: a sanity check of the oracle and the server). */
export function ackedMissingFromLog(acked: readonly AckedWrite[], log: readonly LogEvent[]): string[] {
  const ids = new Set(log.map((event) => `${event.revision}/${event.key}/${event.type}/${event.value}`));
  const missing: string[] = [];
  for (const write of acked) {
    for (const event of write.events) {
      const id = `${write.revision}/${event.key}/${event.type}/${event.value}`;
      if (!ids.has(id)) missing.push(id);
    }
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------
// Collector
// ---------------------------------------------------------------------------------------------

export interface DeliveredBatch {
  at: number;
  progress: boolean;
  headerRevision: bigint;
  events: LogEvent[];
}

/** Converts a delivered batch (all events; prev values as delivered). */
export function toLogEvents(batch: WatchBatch): LogEvent[] {
  return batch.events.map((event) => ({
    key: event.kv.key.toString('latin1'),
    type: event.type,
    revision: event.kv.modRevision,
    value: event.type === 'delete' ? '' : valueId(event.kv.value),
    prev: event.prevKv === undefined ? undefined : valueId(event.prevKv.value),
  }));
}

/**
 * Consumes a watcher in the background and records every batch. `onBatch` runs for each batch
 * before the next is taken (a slow consumer awaits in it).
 */
export class Collector {
  readonly batches: DeliveredBatch[] = [];
  events = 0;
  /** Highest event revision delivered. */
  lastRevision = 0n;
  /** Set when the iteration ended. */
  endedAt: number | undefined;
  error: unknown;
  readonly done: Promise<void>;

  constructor(
    readonly watcher: Watcher,
    readonly label: string,
    private readonly onBatch?: (batch: WatchBatch, collector: Collector) => void | Promise<void>,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    try {
      for await (const batch of this.watcher) {
        const events = toLogEvents(batch);
        this.batches.push({ at: now(), progress: batch.progress, headerRevision: batch.header.revision, events });
        this.events += events.length;
        for (const event of events) if (event.revision > this.lastRevision) this.lastRevision = event.revision;
        if (this.onBatch) await this.onBatch(batch, this);
      }
    } catch (error) {
      this.error = error;
    } finally {
      this.endedAt = now();
    }
  }

  /** Every delivered event, in delivery order. */
  allEvents(): LogEvent[] {
    return this.batches.flatMap((batch) => batch.events);
  }
}

/** Polls `condition` every `intervalMs` until it holds or `timeoutMs` passed; returns whether it held. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 10): Promise<boolean> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (now() > deadline) return false;
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

/** What a watcher selects. */
export interface WatchSpec {
  key: string;
  /** '' for the key alone, `'\0'` for every key from `key` on, else the exclusive end. */
  rangeEnd: string;
  noPut?: boolean;
  noDelete?: boolean;
  prevKv?: boolean;
  /** First revision the watcher must deliver (its start revision, or creation revision + 1). */
  from: bigint;
}

export function inSpecRange(spec: Pick<WatchSpec, 'key' | 'rangeEnd'>, key: string): boolean {
  if (spec.rangeEnd === '') return key === spec.key;
  const k = Buffer.from(key, 'latin1');
  if (Buffer.compare(k, Buffer.from(spec.key, 'latin1')) < 0) return false;
  return spec.rangeEnd === '\0' || Buffer.compare(k, Buffer.from(spec.rangeEnd, 'latin1')) < 0;
}

/** The oracle's events this watcher must deliver, up to `until`. */
export function expectedEvents(spec: WatchSpec, oracle: readonly LogEvent[], until: bigint): LogEvent[] {
  return oracle
    .filter(
      (event) =>
        event.revision >= spec.from &&
        event.revision <= until &&
        inSpecRange(spec, event.key) &&
        !(spec.noPut && event.type === 'put') &&
        !(spec.noDelete && event.type === 'delete'),
    )
    .map((event) => (spec.prevKv ? event : { ...event, prev: undefined }));
}

export interface Comparison {
  expected: number;
  delivered: number;
  missing: number;
  duplicate: number;
  /** Events delivered below an earlier-delivered revision, plus revisions whose events came in another order than the server's. */
  outOfOrder: number;
  /** Delivered events the oracle does not have for this watcher (wrong key, filter, or below its start). */
  unexpected: number;
  /** Delivered events whose type, value or previous value differs from the oracle's. */
  changed: number;
  /** Revisions whose events were spread over more than one batch. */
  splitRevisions: number;
  /** First few problems, for diagnosis. */
  samples: string[];
}

/** Compares what a watcher delivered (up to `until`) with the oracle filtered for it. */
export function compareDelivered(spec: WatchSpec, batches: readonly DeliveredBatch[], oracle: readonly LogEvent[], until: bigint): Comparison {
  const expected = expectedEvents(spec, oracle, until);
  const expectedById = new Map(expected.map((event) => [`${event.revision}/${event.key}`, event]));
  const counts = new Map<string, number>();
  const batchesOfRevision = new Map<bigint, Set<number>>();
  const samples: string[] = [];
  const sample = (text: string): void => {
    if (samples.length < 8) samples.push(text);
  };
  let delivered = 0;
  let duplicate = 0;
  let unexpected = 0;
  let changed = 0;
  let outOfOrder = 0;
  let previous = 0n;
  const deliveredOrder = new Map<bigint, string[]>();
  batches.forEach((batch, index) => {
    for (const event of batch.events) {
      if (event.revision > until) continue;
      delivered++;
      const id = `${event.revision}/${event.key}`;
      const count = (counts.get(id) ?? 0) + 1;
      counts.set(id, count);
      if (count > 1) {
        duplicate++;
        sample(`duplicate ${id}`);
      }
      if (event.revision < previous) {
        outOfOrder++;
        sample(`out of order ${id} after revision ${previous}`);
      }
      if (event.revision > previous) previous = event.revision;
      (batchesOfRevision.get(event.revision) ?? batchesOfRevision.set(event.revision, new Set()).get(event.revision)!).add(index);
      (deliveredOrder.get(event.revision) ?? deliveredOrder.set(event.revision, []).get(event.revision)!).push(event.key);
      const truth = expectedById.get(id);
      if (truth === undefined) {
        unexpected++;
        sample(`unexpected ${id} ${event.type}`);
      } else if (truth.type !== event.type || truth.value !== event.value || truth.prev !== event.prev) {
        changed++;
        sample(`changed ${id}: ${event.type}/${event.value}/${String(event.prev)} vs ${truth.type}/${truth.value}/${String(truth.prev)}`);
      }
    }
  });
  let missing = 0;
  const expectedOrder = new Map<bigint, string[]>();
  for (const event of expected) {
    (expectedOrder.get(event.revision) ?? expectedOrder.set(event.revision, []).get(event.revision)!).push(event.key);
    if (!counts.has(`${event.revision}/${event.key}`)) {
      missing++;
      sample(`missing ${event.revision}/${event.key} ${event.type}`);
    }
  }
  // Within one revision the events must come in the server's order.
  for (const [revision, keys] of deliveredOrder) {
    const truth = expectedOrder.get(revision);
    if (truth !== undefined && truth.length === keys.length && truth.some((key, i) => key !== keys[i])) {
      outOfOrder++;
      sample(`revision ${revision} events in order ${keys.join(',')} instead of ${truth.join(',')}`);
    }
  }
  let splitRevisions = 0;
  for (const [revision, indices] of batchesOfRevision) {
    if (indices.size > 1) {
      splitRevisions++;
      sample(`revision ${revision} split over ${indices.size} batches`);
    }
  }
  return { expected: expected.length, delivered, missing, duplicate, outOfOrder, unexpected, changed, splitRevisions, samples };
}

/** Sums comparisons (samples of the first few). */
export function sumComparisons(list: readonly Comparison[]): Comparison {
  const total: Comparison = {
    expected: 0,
    delivered: 0,
    missing: 0,
    duplicate: 0,
    outOfOrder: 0,
    unexpected: 0,
    changed: 0,
    splitRevisions: 0,
    samples: [],
  };
  for (const c of list) {
    total.expected += c.expected;
    total.delivered += c.delivered;
    total.missing += c.missing;
    total.duplicate += c.duplicate;
    total.outOfOrder += c.outOfOrder;
    total.unexpected += c.unexpected;
    total.changed += c.changed;
    total.splitRevisions += c.splitRevisions;
    if (total.samples.length < 8) total.samples.push(...c.samples.slice(0, 8 - total.samples.length));
  }
  return total;
}

/** True when nothing was lost, repeated, reordered, invented, changed or split. */
export function isExact(c: Comparison): boolean {
  return c.missing === 0 && c.duplicate === 0 && c.outOfOrder === 0 && c.unexpected === 0 && c.changed === 0 && c.splitRevisions === 0;
}

/** A comparison without its samples, for a figures table. */
export function counts(c: Comparison): Omit<Comparison, 'samples'> {
  const { samples: _samples, ...rest } = c;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// Server gauges
// ---------------------------------------------------------------------------------------------

export interface WatchGauges {
  /** `etcd_debugging_mvcc_watcher_total` */
  watchers: number;
  /** `etcd_debugging_mvcc_watch_stream_total` */
  streams: number;
  /** `etcd_debugging_mvcc_slow_watcher_total` */
  slowWatchers: number;
  /** `grpc_server_started_total{grpc_method="Watch"}` */
  watchStreamsStarted: number;
}

export async function watchGauges(member: EtcdMember): Promise<WatchGauges> {
  const samples = await member.metrics();
  let watchStreamsStarted = 0;
  for (const [sample, value] of samples) {
    if (sample.startsWith('grpc_server_started_total{') && sample.includes('grpc_method="Watch"')) watchStreamsStarted += value;
  }
  return {
    watchers: sumMetric(samples, 'etcd_debugging_mvcc_watcher_total'),
    streams: sumMetric(samples, 'etcd_debugging_mvcc_watch_stream_total'),
    slowWatchers: sumMetric(samples, 'etcd_debugging_mvcc_slow_watcher_total'),
    watchStreamsStarted,
  };
}

/**
 * Polls the gauges every `intervalMs` until `condition` holds; returns the milliseconds it took
 * (measured to the poll that saw it) or `undefined` on timeout, and the last gauges read.
 */
export async function waitForGauges(
  member: EtcdMember,
  condition: (gauges: WatchGauges) => boolean,
  timeoutMs: number,
  intervalMs = 10,
): Promise<{ ms: number | undefined; gauges: WatchGauges | undefined }> {
  const started = now();
  let gauges: WatchGauges | undefined;
  for (;;) {
    try {
      gauges = await watchGauges(member);
      if (condition(gauges)) return { ms: now() - started, gauges };
    } catch {
      // The member may be down or starting; keep polling until the deadline.
    }
    if (now() - started > timeoutMs) return { ms: undefined, gauges };
    await sleep(intervalMs);
  }
}

export { cpuMs, tally };

/** JSON with bigints as strings, for summaries. */
export function json(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

// ---------------------------------------------------------------------------------------------
// A standard set of 20 watchers over one prefix of 10 keys
// ---------------------------------------------------------------------------------------------

/** One watcher of a scenario: how to build it and what it selects. */
export interface Subject {
  name: string;
  /** The watch; `start` is `undefined` for a watcher started "from now". */
  build: (start: bigint | undefined) => Watch;
  spec: Omit<WatchSpec, 'from'>;
  fromNow: boolean;
}

function withStart(watch: Watch, start: bigint | undefined): Watch {
  return start === undefined ? watch : watch.withStartRevision(start);
}

/**
 * 20 watchers over `prefix` and its 10 `keys`: prefix (plain, prev_kv, no-delete, no-put,
 * fragment, two "from now"), each single key (half "from now", a third with prev_kv), two
 * ranges and a from-key.
 */
export function standardSubjects(prefix: string, keys: readonly string[]): Subject[] {
  if (keys.length < 10) throw new Error('standardSubjects needs 10 keys');
  const k = (i: number): string => keys[i]!;
  const whole = { key: prefix, rangeEnd: prefixEnd(prefix) };
  const p = (): Watch => Watch.key(prefix).withPrefix();
  return [
    { name: 'prefix', build: (s) => withStart(p(), s), spec: whole, fromNow: false },
    { name: 'prefix+prevKv', build: (s) => withStart(p().withPrevKv(), s), spec: { ...whole, prevKv: true }, fromNow: false },
    { name: 'prefix noDelete', build: (s) => withStart(p().withNoDelete(), s), spec: { ...whole, noDelete: true }, fromNow: false },
    { name: 'prefix noPut+prevKv', build: (s) => withStart(p().withNoPut().withPrevKv(), s), spec: { ...whole, noPut: true, prevKv: true }, fromNow: false },
    { name: 'prefix from now', build: (s) => withStart(p(), s), spec: whole, fromNow: true },
    { name: 'prefix+prevKv from now', build: (s) => withStart(p().withPrevKv(), s), spec: { ...whole, prevKv: true }, fromNow: true },
    { name: 'prefix fragment', build: (s) => withStart(p().withFragment(), s), spec: whole, fromNow: false },
    ...keys.slice(0, 10).map(
      (key, i): Subject => ({
        name: `key ${key}${i % 2 === 0 ? '' : ' from now'}${i % 3 === 0 ? ' +prevKv' : ''}`,
        build: (s) => withStart(i % 3 === 0 ? Watch.key(key).withPrevKv() : Watch.key(key), s),
        spec: { key, rangeEnd: '', prevKv: i % 3 === 0 },
        fromNow: i % 2 === 1,
      }),
    ),
    { name: 'range k2..k5', build: (s) => withStart(Watch.key(k(2)).withRange(k(5)), s), spec: { key: k(2), rangeEnd: k(5) }, fromNow: false },
    {
      name: 'range k5..k9 prevKv noDelete',
      build: (s) => withStart(Watch.key(k(5)).withRange(k(9)).withPrevKv().withNoDelete(), s),
      spec: { key: k(5), rangeEnd: k(9), prevKv: true, noDelete: true },
      fromNow: false,
    },
    { name: 'fromKey k7', build: (s) => withStart(Watch.key(k(7)).withFromKey(), s), spec: { key: k(7), rangeEnd: '\0' }, fromNow: false },
  ];
}

/** A running watcher of a scenario, with what it delivered. */
export interface Running {
  subject: Subject;
  watcher: Watcher;
  collector: Collector;
  /** First revision it must deliver (set from the cursor once created, for "from now"). */
  from: bigint;
}

/**
 * Starts the subjects on `client` (the ones with a start at `start`), waits until all are
 * created, and fixes the first revision of the "from now" ones: their resume revision right
 * after `created` (the creation revision + 1).
 */
export async function startSubjects(client: Etcd, subjects: readonly Subject[], start: bigint, options?: WatchOptions): Promise<Running[]> {
  const running = subjects.map((subject): Running => {
    const watcher = client.watch(subject.build(subject.fromNow ? undefined : start), options);
    const entry: Running = { subject, watcher, collector: new Collector(watcher, subject.name), from: start };
    if (subject.fromNow) {
      void watcher.created.then(
        () => (entry.from = watcher.resumeRevision!),
        () => undefined,
      );
    }
    return entry;
  });
  await Promise.all(running.map((r) => r.watcher.created));
  return running;
}

/** Events up to `until` each running watcher must deliver. */
export function expectedCount(r: Running, oracle: readonly LogEvent[], until: bigint): number {
  return expectedEvents({ ...r.subject.spec, from: r.from }, oracle, until).length;
}

/** Waits (bounded) until every watcher delivered what the oracle says it must, then a little longer for repeats. */
export async function waitCaughtUp(running: readonly Running[], oracle: readonly LogEvent[], until: bigint, timeoutMs = 15_000): Promise<boolean> {
  const targets = running.map((r) => expectedCount(r, oracle, until));
  const ok = await waitUntil(
    () => running.every((r, i) => r.collector.allEvents().filter((e) => e.revision <= until).length >= targets[i]!),
    timeoutMs,
    50,
  );
  // Anything repeated after catching up would show up now.
  await sleep(300);
  return ok;
}

/** Compares every running watcher with the oracle. */
export function compareAll(running: readonly Running[], oracle: readonly LogEvent[], until: bigint): { total: Comparison; per: Record<string, Omit<Comparison, 'samples'>> } {
  const list = running.map((r) => ({ name: r.subject.name, c: compareDelivered({ ...r.subject.spec, from: r.from }, r.collector.batches, oracle, until) }));
  return { total: sumComparisons(list.map((x) => x.c)), per: Object.fromEntries(list.map((x) => [x.name, counts(x.c)])) };
}

// ---------------------------------------------------------------------------------------------
// Transport spy: every WatchResponse as grpc-js decoded it, before the SDK handles it
// ---------------------------------------------------------------------------------------------

/** One WatchResponse message as it came off the wire. */
export interface RawWatchResponse {
  at: number;
  /** Size of the gRPC message (protobuf bytes). */
  bytes: number;
  watchId: number;
  created: boolean;
  canceled: boolean;
  fragment: boolean;
  headerRevision: bigint;
  events: number;
  minRevision: bigint | undefined;
  maxRevision: bigint | undefined;
  /** What `context(watchId)` returned at arrival, before the SDK saw the message (such as the watcher's cursor). */
  context?: unknown;
}

interface DecodedWatchResponse {
  header?: { revision?: { toString(): string } };
  watchId?: { toNumber(): number };
  created?: boolean;
  canceled?: boolean;
  fragment?: boolean;
  events?: Array<{ kv?: { modRevision?: { toString(): string } } }>;
}

/**
 * Wraps `grpc.Client.prototype.makeBidiStreamRequest` so every message of Watch streams opened
 * from now on is summarised (size, ID, kind, revisions) before the SDK handles it. `context`
 * is called at arrival with the watch ID. Call `restore()` in a `finally`.
 */
export function spyWatchResponses(context?: (watchId: number) => unknown): { responses: RawWatchResponse[]; restore(): void } {
  const proto = grpc.Client.prototype as unknown as { makeBidiStreamRequest: (...args: unknown[]) => unknown };
  const original = proto.makeBidiStreamRequest;
  const responses: RawWatchResponse[] = [];
  proto.makeBidiStreamRequest = function (this: unknown, ...args: unknown[]): unknown {
    if (String(args[0]).endsWith('/Watch') && typeof args[2] === 'function') {
      const deserialize = args[2] as (buffer: Buffer) => unknown;
      args[2] = (buffer: Buffer): unknown => {
        const message = deserialize(buffer) as DecodedWatchResponse;
        const revisions = (message.events ?? []).map((e) => BigInt(e.kv?.modRevision?.toString() ?? '0'));
        const watchId = message.watchId?.toNumber() ?? 0;
        responses.push({
          at: now(),
          bytes: buffer.length,
          watchId,
          created: message.created ?? false,
          canceled: message.canceled ?? false,
          fragment: message.fragment ?? false,
          headerRevision: BigInt(message.header?.revision?.toString() ?? '0'),
          events: revisions.length,
          minRevision: revisions.length === 0 ? undefined : revisions.reduce((a, b) => (a < b ? a : b)),
          maxRevision: revisions.length === 0 ? undefined : revisions.reduce((a, b) => (a > b ? a : b)),
          ...(context === undefined ? {} : { context: context(watchId) }),
        });
        return message;
      };
    }
    return original.apply(this, args);
  };
  return {
    responses,
    restore(): void {
      proto.makeBidiStreamRequest = original;
    },
  };
}

/** The client-chosen watch ID of a watcher (test-only peek at SDK internals, for diagnosis). */
export function watchIdOf(watcher: Watcher): number {
  return (watcher as unknown as { state: { id: number } }).state.id;
}
