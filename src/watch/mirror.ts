import type { CallOptions } from '../connection/call-options.js';
import { AlreadyConsumedError, CompactedError, type EtcdError, InvalidArgumentError, SlowConsumerError } from '../connection/errors.js';
import { type Bytes, toBuffer } from '../encoding/bytes.js';
import type { KeyValue } from '../kv/key-value.js';
import { Range } from '../kv/range.js';
import type { RangeResult } from '../kv/results.js';
import { BatchQueue } from './batch-queue.js';
import { Watch } from './watch.js';
import type { WatchOptions, Watcher } from './watcher.js';

/** A change to a {@link Mirror}'s contents. */
export type MirrorChange =
  /** A key was created or updated. */
  | { type: 'put'; key: string; kv: KeyValue; prevKv: KeyValue | undefined }
  /** A key was deleted. */
  | { type: 'delete'; key: string; prevKv: KeyValue | undefined }
  /**
   * The history the mirror was following was compacted, so it re-read the whole prefix at
   * `revision`; the changes it found are reported as puts and deletes right after this.
   */
  | { type: 'resync'; revision: bigint };

/** Options of `etcd.mirror`. */
export interface MirrorOptions {
  /** Stops the mirror. */
  signal?: AbortSignal;
  /**
   * Changes a consumer of {@link Mirror}'s iterator may fall behind before it fails with
   * `SlowConsumerError`; the map itself never falls behind.
   * @defaultValue 10000
   */
  maxBufferedChanges?: number;
  /**
   * Keys read per request while (re-)reading the prefix.
   * @defaultValue 1000
   */
  pageSize?: number;
}

/** The calls a mirror needs from a client or namespace view. @internal */
export interface MirrorHost {
  range(range: Range, options?: CallOptions): Promise<RangeResult>;
  rangeAll(range: Range, options?: { pageSize?: number } & CallOptions): AsyncIterable<KeyValue>;
  watch(target: Watch, options?: WatchOptions): Watcher;
}

/**
 * An always-current, read-only copy of every key under a prefix: a consistent read at one
 * revision, then a watch from the next revision on. When a compaction overtakes it (after a
 * long disconnection), it re-reads the prefix, reports the differences, and carries on; it
 * says so with a `resync` change instead of failing or silently missing updates.
 *
 * @example
 * ```ts
 * await using config = etcd.mirror('config/');
 * await config.ready;
 * config.get('config/mode')?.text();
 * for await (const change of config) console.log(change.type, change.type === 'resync' ? change.revision : change.key);
 * ```
 */
export class Mirror implements AsyncIterable<MirrorChange>, AsyncDisposable {
  /** Resolves once the first snapshot is loaded; rejects if it cannot be read. */
  readonly ready: Promise<void>;
  /** Resolves when the mirror stops: `undefined` after `close()`, or the error that stopped it. Never rejects. */
  readonly ended: Promise<EtcdError | undefined>;
  private readonly map = new Map<string, KeyValue>();
  private current = 0n;
  private resyncCount = 0;
  private queue: BatchQueue<MirrorChange> | undefined;
  private consumed = false;
  private watcher: Watcher | undefined;
  private stopped = false;
  private readonly maxBufferedChanges: number;
  private readonly pageSize: number | undefined;
  private readonly prefix: Buffer;

  /** @internal */
  constructor(
    private readonly host: MirrorHost,
    prefix: Bytes,
    private readonly options: MirrorOptions = {},
  ) {
    const source = 'Etcd.mirror';
    this.prefix = toBuffer(prefix, 'prefix', source);
    this.maxBufferedChanges = options.maxBufferedChanges ?? 10_000;
    if (!Number.isSafeInteger(this.maxBufferedChanges) || this.maxBufferedChanges < 1) {
      throw new InvalidArgumentError('options.maxBufferedChanges', 'expected a positive integer', { source });
    }
    this.pageSize = options.pageSize;
    let markReady!: () => void;
    let failReady!: (error: EtcdError) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => undefined);
    this.ended = this.run(markReady, failReady);
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** The revision the contents are current at. */
  get revision(): bigint {
    return this.current;
  }

  /** How many times the mirror had to re-read the prefix after a compaction. */
  get resyncs(): number {
    return this.resyncCount;
  }

  /** Number of keys. */
  get size(): number {
    return this.map.size;
  }

  /** The key-value stored under `key` (the full key, as text or bytes), if any. */
  get(key: Bytes): KeyValue | undefined {
    return this.map.get(typeof key === 'string' ? key : Buffer.from(key).toString('utf8'));
  }

  /** Every key (as UTF-8 text) and its key-value, in no particular order. */
  entries(): IterableIterator<[string, KeyValue]> {
    return this.map.entries();
  }

  /** A copy of the contents. */
  snapshot(): Map<string, KeyValue> {
    return new Map(this.map);
  }

  /** Stops following changes; the contents stay as they were. Idempotent. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.watcher?.cancel();
    this.queue?.end();
  }

  /** Same as {@link Mirror.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Iterates the changes from the moment iteration starts (one consumer). */
  async *[Symbol.asyncIterator](): AsyncIterator<MirrorChange, undefined> {
    if (this.consumed) {
      throw new AlreadyConsumedError('a mirror has one change consumer', { source: 'Mirror' });
    }
    this.consumed = true;
    const queue = new BatchQueue<MirrorChange>(this.maxBufferedChanges);
    this.queue = queue;
    if (this.stopped) queue.end();
    try {
      for (;;) {
        const next = await queue.next();
        if (next.done) return undefined;
        yield next.value;
      }
    } finally {
      this.queue = undefined;
    }
  }

  private emit(change: MirrorChange): void {
    if (this.queue && !this.queue.push(change, 1)) {
      this.queue.end(
        new SlowConsumerError(`the consumer fell more than ${this.maxBufferedChanges} changes behind`, { source: 'Mirror' }),
      );
    }
  }

  private async run(markReady: () => void, failReady: (error: EtcdError) => void): Promise<EtcdError | undefined> {
    let first = true;
    while (!this.stopped) {
      try {
        await this.load(first);
        if (first) markReady();
        first = false;
        await this.follow();
        return undefined;
      } catch (error) {
        if (this.stopped) return undefined;
        if (error instanceof CompactedError && !first) {
          this.resyncCount++;
          continue;
        }
        const failure = error as EtcdError;
        if (first) failReady(failure);
        this.queue?.end(failure);
        return failure;
      }
    }
    return undefined;
  }

  /** Reads the whole prefix at one revision; after the first time, reports what changed. */
  private async load(first: boolean): Promise<void> {
    const selection = this.prefix.length === 0 ? Range.all() : Range.key(this.prefix).withPrefix();
    const head = await this.host.range(selection.withCountOnly());
    const revision = head.header.revision;
    const fresh = new Map<string, KeyValue>();
    for await (const kv of this.host.rangeAll(selection.withRevision(revision), { pageSize: this.pageSize })) {
      fresh.set(kv.keyText(), kv);
    }
    if (!first) this.emit({ type: 'resync', revision });
    for (const [key, previous] of this.map) {
      if (!fresh.has(key)) {
        this.map.delete(key);
        if (!first) this.emit({ type: 'delete', key, prevKv: previous });
      }
    }
    for (const [key, kv] of fresh) {
      const previous = this.map.get(key);
      this.map.set(key, kv);
      if (!first && previous?.modRevision !== kv.modRevision) this.emit({ type: 'put', key, kv, prevKv: previous });
    }
    this.current = revision;
  }

  /** Applies every change after the loaded revision until stopped (or compacted past). */
  private async follow(): Promise<void> {
    const selection = this.prefix.length === 0 ? Watch.all() : Watch.key(this.prefix).withPrefix();
    const watcher = this.host.watch(
      selection.withStartRevision(this.current + 1n).withPrevKv().withProgressNotify(),
      { signal: this.options.signal },
    );
    this.watcher = watcher;
    if (this.stopped) await watcher.cancel();
    for await (const batch of watcher) {
      for (const event of batch.events) {
        const key = event.kv.keyText();
        if (event.type === 'put') {
          this.map.set(key, event.kv);
          this.emit({ type: 'put', key, kv: event.kv, prevKv: event.prevKv });
        } else {
          const previous = this.map.get(key);
          this.map.delete(key);
          this.emit({ type: 'delete', key, prevKv: event.prevKv ?? previous });
        }
      }
      const last = batch.events.at(-1);
      this.current = last === undefined ? batch.header.revision : last.kv.modRevision;
    }
  }
}
