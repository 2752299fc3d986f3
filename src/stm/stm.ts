import type { CallOptions } from '../connection/call-options.js';
import { backoffDelay, sleep } from '../connection/backoff.js';
import { CompactedError, InvalidArgumentError, StmConflictError } from '../connection/errors.js';
import { type Bytes, toBuffer, toKey } from '../encoding/bytes.js';
import type { Int64Input } from '../encoding/int64.js';
import type { KeyValue } from '../kv/key-value.js';
import { Range } from '../kv/range.js';
import type { RangeResult } from '../kv/results.js';
import { WaitScope } from '../lock/session-scope.js';
import { Compare } from '../txn/compare.js';
import { Op } from '../txn/op.js';
import type { Txn } from '../txn/txn.js';

/**
 * How much a software transaction is isolated from concurrent writers, as in Go's
 * `concurrency.NewSTM`. Every level re-runs the function when its commit finds a conflict.
 *
 * - `serializable-snapshot` (the default): every read sees one snapshot (the revision of the
 *   first read), the commit fails if any key read has changed since, and also if any key
 *   written was changed by someone else after the snapshot, even if it was not read (no lost
 *   blind writes).
 * - `serializable`: one snapshot for all reads, and the commit fails if any key read has
 *   changed; keys written without being read are not checked.
 * - `repeatable-reads`: each key is read once per attempt, at the latest revision (a local,
 *   serializable read); the commit fails if any key read has changed. An attempt can see keys
 *   from different revisions, but such an attempt does not commit.
 * - `read-committed`: reads as `repeatable-reads`, and the commit checks nothing: the last
 *   writer wins, and write skew and lost updates are possible.
 */
export type StmIsolation = 'serializable-snapshot' | 'serializable' | 'repeatable-reads' | 'read-committed';

const ISOLATIONS: readonly StmIsolation[] = ['serializable-snapshot', 'serializable', 'repeatable-reads', 'read-committed'];

/** Options of `etcd.stm()`. */
export interface StmOptions extends CallOptions {
  /** What the commit checks and how reads see the store (see {@link StmIsolation}). @defaultValue 'serializable-snapshot' */
  isolation?: StmIsolation;
  /**
   * How many times the function may be re-run after a conflict before the call rejects with
   * `StmConflictError`. Re-runs after the first wait a short random delay (growing from a few
   * milliseconds to 250 ms), so contending transactions stop colliding.
   * @defaultValue 20
   */
  retries?: number;
  /** Keys to read in one round trip before the function runs (Go's `WithPrefetch`). */
  prefetch?: readonly Bytes[];
}

/** What the function of `etcd.stm()` reads and writes through; it is only valid during its own run. */
export interface StmTx {
  /** The value of `key` as this transaction sees it (its own writes included); `undefined` when missing. */
  get(key: Bytes): Promise<Buffer | undefined>;
  /** The modification revision of `key` as read by this transaction (`0n` when missing); its own writes are not counted. */
  rev(key: Bytes): Promise<bigint>;
  /** Writes `value` at `key` when the transaction commits. */
  put(key: Bytes, value: Bytes, options?: { lease?: Int64Input }): void;
  /** Deletes `key` when the transaction commits. */
  delete(key: Bytes): void;
}

/** The result of `etcd.stm()`. */
export interface StmResult<T> {
  /** What the function returned in the run that committed. */
  result: T;
  /** The store revision of the commit. */
  revision: bigint;
  /** How many times the function ran. */
  attempts: number;
}

/** What STM needs from a client or namespace view. @internal */
export interface StmHost {
  txn(): Txn;
  range(range: Range, options?: CallOptions): Promise<RangeResult>;
}

/** One key as read: its key-value (`undefined` when missing) and the revision the read saw. */
interface ReadEntry {
  readonly key: Buffer;
  readonly kv: KeyValue | undefined;
  readonly revision: bigint;
}

interface WriteEntry {
  readonly value: Buffer | undefined;
  readonly op: Op;
}

const SOURCE = 'Etcd.stm';
const BACKOFF = { initialMs: 5, maxMs: 250 } as const;

/** Marks a promise the run may never await (when the function stops early) as handled; returns it. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** One run of the function: its read set, write set and snapshot. */
class Attempt implements StmTx {
  readonly reads = new Map<string, Promise<ReadEntry>>();
  readonly writes = new Map<string, WriteEntry>();
  /** For the serializable levels: the revision every read is made at, set by the first read. */
  snapshot: Promise<bigint> | undefined;
  /** Set when a snapshot read found its revision compacted: the run cannot commit and starts over. */
  stale = false;
  active = true;

  constructor(
    private readonly host: StmHost,
    private readonly isolation: StmIsolation,
    private readonly signal: AbortSignal,
    private readonly prefetched: Map<string, ReadEntry>,
  ) {}

  get serializable(): boolean {
    return this.isolation === 'serializable-snapshot' || this.isolation === 'serializable';
  }

  async get(key: Bytes): Promise<Buffer | undefined> {
    const buffer = this.use(key, 'StmTx.get');
    const written = this.writes.get(buffer.toString('hex'));
    if (written !== undefined) return written.value;
    return (await this.read(buffer)).kv?.value;
  }

  async rev(key: Bytes): Promise<bigint> {
    return (await this.read(this.use(key, 'StmTx.rev'))).kv?.modRevision ?? 0n;
  }

  put(key: Bytes, value: Bytes, options?: { lease?: Int64Input }): void {
    const buffer = this.use(key, 'StmTx.put');
    const bytes = toBuffer(value, 'value', 'StmTx.put');
    this.writes.set(buffer.toString('hex'), { value: bytes, op: Op.put(buffer, bytes, options) });
  }

  delete(key: Bytes): void {
    const buffer = this.use(key, 'StmTx.delete');
    this.writes.set(buffer.toString('hex'), { value: undefined, op: Op.delete(buffer) });
  }

  /** Reads `keys` in one transaction (all at one revision, which becomes the snapshot). */
  async prefetch(keys: Buffer[]): Promise<void> {
    const missing = keys.filter((key) => !this.reads.has(key.toString('hex')) && !this.prefetched.has(key.toString('hex')));
    if (missing.length === 0) return;
    const result = this.host.txn().then(...missing.map((key) => Op.get(this.rangeOf(key, undefined)))).commit({ signal: this.signal });
    if (this.serializable) this.snapshot ??= quiet(result.then((done) => done.header.revision));
    missing.forEach((key, index) => {
      const entry = result.then((done) => {
        const response = done.responses[index];
        return { key, kv: response?.kind === 'range' ? response.kvs[0] : undefined, revision: done.header.revision };
      });
      this.reads.set(key.toString('hex'), quiet(entry));
    });
    await result;
  }

  private use(key: Bytes, source: string): Buffer {
    if (!this.active) throw new InvalidArgumentError('tx', 'used after its run of the transaction ended', { source });
    return toKey(key, 'key', source);
  }

  private read(key: Buffer): Promise<ReadEntry> {
    const id = key.toString('hex');
    let entry = this.reads.get(id);
    if (entry === undefined) {
      entry = quiet(this.fetch(key, id));
      this.reads.set(id, entry);
    }
    return entry;
  }

  private async fetch(key: Buffer, id: string): Promise<ReadEntry> {
    const early = this.prefetched.get(id);
    if (early !== undefined) {
      this.prefetched.delete(id);
      if (this.serializable) this.snapshot ??= Promise.resolve(early.revision);
      return early;
    }
    let at: bigint | undefined;
    if (this.serializable) {
      if (this.snapshot === undefined) {
        // The first read is made at the latest revision, which becomes the snapshot.
        const first = this.host.range(this.rangeOf(key, undefined), { signal: this.signal });
        this.snapshot = quiet(first.then((result) => result.header.revision));
        const result = await first;
        return { key, kv: result.kvs[0], revision: result.header.revision };
      }
      at = await this.snapshot;
    }
    try {
      const result = await this.host.range(this.rangeOf(key, at), { signal: this.signal });
      return { key, kv: result.kvs[0], revision: result.header.revision };
    } catch (error) {
      if (error instanceof CompactedError) this.stale = true;
      throw error;
    }
  }

  /**
   * How the levels read, as Go's STM does: the serializable levels read linearizably until the
   * snapshot is known, then locally at the snapshot; the others read locally at the latest revision.
   */
  private rangeOf(key: Buffer, at: bigint | undefined): Range {
    const range = Range.key(key);
    if (at !== undefined) return range.withRevision(at).withSerializable();
    return this.serializable ? range : range.withSerializable();
  }

  /** The commit: the writes, if what the level checks is unchanged; on conflict, what to start the next run from. */
  async commit(): Promise<{ revision: bigint } | { prefetched: Map<string, ReadEntry> }> {
    this.active = false;
    const reads = await Promise.all(this.reads.values());
    const compares: Compare[] = [];
    if (this.isolation !== 'read-committed') {
      for (const read of reads) compares.push(Compare.modRevision(read.key).equals(read.kv?.modRevision ?? 0n));
    }
    if (this.isolation === 'serializable-snapshot' && this.snapshot !== undefined) {
      const snapshot = await this.snapshot;
      for (const id of this.writes.keys()) compares.push(Compare.modRevision(Buffer.from(id, 'hex')).less(snapshot + 1n));
    }
    // On conflict the serializable levels read their keys again in the same round trip, to start the next run from.
    const rereads = this.serializable ? reads.map((read) => Op.get(read.key)) : [];
    const writes = [...this.writes.values()].map((write) => write.op);
    const result = await this.host
      .txn()
      .if(...compares)
      .then(...writes)
      .else(...rereads)
      .commit({ signal: this.signal });
    if (result.succeeded) return { revision: result.header.revision };
    const prefetched = new Map<string, ReadEntry>();
    if (!this.serializable) return { prefetched };
    reads.forEach((read, index) => {
      const response = result.responses[index];
      const kv = response?.kind === 'range' ? response.kvs[0] : undefined;
      prefetched.set(read.key.toString('hex'), { key: read.key, kv, revision: result.header.revision });
    });
    return { prefetched };
  }
}

function checkStmOptions(options: StmOptions | undefined): { isolation: StmIsolation; retries: number; prefetch: Buffer[] } {
  const isolation = options?.isolation ?? 'serializable-snapshot';
  if (!ISOLATIONS.includes(isolation)) {
    throw new InvalidArgumentError('options.isolation', `expected one of ${ISOLATIONS.join(', ')}, got ${String(isolation)}`, { source: SOURCE });
  }
  const retries = options?.retries ?? 20;
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw new InvalidArgumentError('options.retries', `expected a non-negative integer, got ${String(retries)}`, { source: SOURCE });
  }
  const keys = options?.prefetch ?? [];
  if (!Array.isArray(keys)) throw new InvalidArgumentError('options.prefetch', 'expected an array of keys', { source: SOURCE });
  return { isolation, retries, prefetch: keys.map((key, index) => toKey(key, `options.prefetch[${index}]`, SOURCE)) };
}

/**
 * Runs `fn` as a software transaction (Go's `concurrency.NewSTM`): its reads are recorded, its
 * writes buffered, and at the end they are committed in one etcd transaction if nothing the
 * isolation level checks has changed; otherwise `fn` runs again on fresh data.
 * @internal
 */
export async function runStm<T>(host: StmHost, fn: (tx: StmTx) => T | Promise<T>, options: StmOptions | undefined): Promise<StmResult<T>> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'expected a function', { source: SOURCE });
  const { isolation, retries, prefetch } = checkStmOptions(options);
  const scope = new WaitScope(SOURCE, options);
  let prefetched = new Map<string, ReadEntry>();
  try {
    for (let attempts = 1; ; attempts++) {
      scope.check();
      const attempt = new Attempt(host, isolation, scope.signal, prefetched);
      let result: T;
      try {
        if (prefetch.length > 0) await attempt.prefetch(prefetch);
        result = await fn(attempt);
      } catch (error) {
        attempt.active = false;
        if (!attempt.stale) throw error;
      }
      if (!attempt.stale) {
        const outcome = await attempt.commit();
        if ('revision' in outcome) return { result: result!, revision: outcome.revision, attempts };
        prefetched = outcome.prefetched;
      } else {
        prefetched = new Map();
      }
      attempt.active = false;
      if (attempts > retries) throw new StmConflictError(attempts, { source: SOURCE });
      await sleep(backoffDelay(attempts, BACKOFF.initialMs, BACKOFF.maxMs), scope.signal, SOURCE);
    }
  } catch (error) {
    throw scope.failure(error);
  } finally {
    scope.dispose();
  }
}
