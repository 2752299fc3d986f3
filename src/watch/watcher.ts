import {
  AlreadyConsumedError,
  CancelledError,
  type EtcdError,
  InvalidArgumentError,
  SlowConsumerError,
} from '../connection/errors.js';
import { toLong } from '../encoding/int64.js';
import { type WatchCreateRequest, WatchCreateRequest_FilterType } from '../generated/etcdserverpb/rpc.js';
import type { Event as RawEvent } from '../generated/mvccpb/kv.js';
import { BatchQueue } from './batch-queue.js';
import { LazyOutcome } from './lazy-outcome.js';
import { WatchIterator } from './watch-iterator.js';
import type { WatchBatch, WatchEvent } from './events.js';
import type { WatchFields } from './watch.js';

/** Options of `etcd.watch`. */
export interface WatchOptions {
  /** Cancels the watcher; its iteration then throws `CancelledError` with the signal's reason as `cause`. */
  signal?: AbortSignal;
  /**
   * Events a watcher may hold that its consumer has not taken yet. All watchers share one
   * stream, which cannot slow down for one of them, so a consumer that falls this far behind
   * fails alone with `SlowConsumerError` (after the batches already buffered), and the others
   * carry on. One batch, however large, is always accepted.
   * @defaultValue 10000
   */
  maxBufferedEvents?: number;
}

/** Counters of a watcher, for monitoring and tests. */
export interface WatcherStats {
  /** Batches handed to the consumer's queue. */
  batches: number;
  /** Events handed to the consumer's queue. */
  events: number;
  /** Events the server sent again below the resume revision (after a reconnect), dropped. */
  staleEventsDropped: number;
  /** Progress notifications below what was already delivered (which a 3.4 server can send), ignored. */
  staleProgressIgnored: number;
  /** Times the server acknowledged the watcher again on a new stream (once per outage). */
  resumes: number;
}

const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;

/** What the multiplexer needs from a watcher. @internal */
export interface WatcherHost {
  /** Removes the watcher from the stream; resolves once the server confirmed (or gave up waiting). */
  remove(state: WatcherState): Promise<void>;
}

/**
 * The state a watcher keeps across streams: above all its resume revision (the cursor), which
 * never goes down, so a re-created watcher neither loses nor repeats an event.
 * @internal
 */
export class WatcherState {
  /** Resume revision: the next revision to deliver; `undefined` until a "from now" watcher is created. */
  cursor: bigint | undefined;
  /** Whether the create request went out on the current stream. */
  sent = false;
  /** Whether the server acknowledged the create on the current stream. */
  acknowledged = false;
  /** Whether the server acknowledged the create on any stream. */
  private everAcknowledged = false;
  /** Events of a fragmented response received so far. */
  pendingFragments: RawEvent[] | undefined;
  ended = false;
  readonly queue: BatchQueue<WatchBatch>;
  readonly stats: WatcherStats = { batches: 0, events: 0, staleEventsDropped: 0, staleProgressIgnored: 0, resumes: 0 };
  /** Settled when the server first acknowledges the watcher, or when it ends before that. */
  readonly creation = new LazyOutcome<void>();
  /** Settled when the watcher ends, with the error that ended it, if any. */
  readonly ending = new LazyOutcome<EtcdError | undefined>();

  constructor(
    readonly id: number,
    readonly fields: WatchFields,
    readonly strip: number,
    maxBufferedEvents: number,
  ) {
    this.cursor = fields.startRevision === 0n ? undefined : fields.startRevision;
    this.queue = new BatchQueue(maxBufferedEvents);
  }

  /** The create request for the current stream, resuming at the cursor. */
  createRequest(): WatchCreateRequest {
    const { key, rangeEnd, prevKv, noPut, noDelete, progressNotify, fragment } = this.fields;
    const filters: WatchCreateRequest_FilterType[] = [];
    if (noPut) filters.push(WatchCreateRequest_FilterType.NOPUT);
    if (noDelete) filters.push(WatchCreateRequest_FilterType.NODELETE);
    return {
      key,
      rangeEnd,
      startRevision: toLong(this.cursor ?? 0n, 'startRevision', 'Watch'),
      progressNotify,
      filters,
      prevKv,
      watchId: toLong(this.id, 'watchId', 'Watch'),
      fragment,
    };
  }

  /** The server acknowledged the create; `headerRevision` is the store revision it was created at. */
  acknowledge(headerRevision: bigint): void {
    this.acknowledged = true;
    // Counted here rather than when the create is sent: during an outage every reopened stream
    // re-sends it, and fault test W1 counted 7 "resumes" per watcher for one server restart.
    if (this.everAcknowledged) this.stats.resumes++;
    this.everAcknowledged = true;
    // A watcher "from now" delivers what comes after its creation, also across reconnects.
    if (this.cursor === undefined) this.cursor = headerRevision + 1n;
    this.creation.resolve();
  }

  /** Queues a batch; false when the consumer is too far behind. */
  deliver(batch: WatchBatch): boolean {
    const accepted = this.queue.push(batch, Math.max(1, batch.events.length));
    if (accepted) {
      this.stats.batches++;
      this.stats.events += batch.events.length;
    }
    return accepted;
  }

  /** Ends the watcher: buffered batches are still delivered, then the iteration ends (or throws `error`). */
  end(error?: EtcdError): void {
    if (this.ended) return;
    this.ended = true;
    // Settle `created` too (a no-op once the server acknowledged the watcher): a watcher
    // cancelled before its ack, while its create is in flight or the stream is down, will never
    // be acknowledged, and whoever awaits `created` used to wait forever (fault test S2: 895 of
    // 2000 watchers cancelled during a cut storm, while an abort signal did reject it).
    if (!this.creation.settled) {
      this.creation.reject(error ?? new CancelledError('the watcher was cancelled before the server acknowledged it', { source: 'Watch' }));
    }
    this.queue.end(error);
    this.ending.resolve(error);
  }
}

/**
 * A watch on a key or key range: an `AsyncIterable` of {@link WatchBatch}es, and the handle
 * that controls it. Every watcher of a client shares one gRPC stream; after a broken stream or
 * a failover it is re-created from the revision after the last one it delivered, so no event is
 * lost, none is delivered twice, and events stay in revision order.
 *
 * @remarks
 * One consumer per watcher: iterating it twice (or both it and {@link Watcher.events}) throws
 * `AlreadyConsumedError`. Leaving the loop (`break`, `return`, an exception) cancels the watcher
 * on the server. A compaction past the watcher's position ends it with `CompactedError` (which
 * carries `compactRevision`); it is never silently restarted.
 *
 * @example
 * ```ts
 * await using watcher = etcd.watch(Watch.key('jobs/').withPrefix());
 * await watcher.created; // writes from now on are seen
 * for await (const event of watcher.events()) console.log(event.type, event.kv.keyText());
 * ```
 */
export class Watcher implements AsyncIterable<WatchBatch>, AsyncDisposable {
  /**
   * Resolves once the server has acknowledged the watcher, so a write made after it is
   * guaranteed to be seen; rejects if the watcher could not be created, or with
   * `CancelledError` if it was cancelled before the server acknowledged it.
   */
  get created(): Promise<void> {
    return this.state.creation.promise;
  }

  /** Resolves when the watcher ends: with `undefined` after `cancel()`, or with the error that ended it. Never rejects. */
  get ended(): Promise<EtcdError | undefined> {
    return this.state.ending.promise;
  }

  private consumed = false;
  private cancelling: Promise<void> | undefined;

  /** @internal */
  constructor(
    private readonly state: WatcherState,
    private readonly host: WatcherHost,
    signal: AbortSignal | undefined,
  ) {
    if (signal) {
      const onAbort = (): void => {
        state.end(new CancelledError('cancelled by the caller', { source: 'Watch', cause: signal.reason }));
        void this.host.remove(state);
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        void state.ending.promise.then(() => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  /**
   * The revision the watcher resumes from after a reconnect: one past the last revision it
   * delivered (or was told about by a progress notification); `undefined` for a watcher
   * started "from now" that the server has not acknowledged yet.
   */
  get resumeRevision(): bigint | undefined {
    return this.state.cursor;
  }

  /** Whether the watcher is still running. */
  get active(): boolean {
    return !this.state.ended;
  }

  /** Counters of what the watcher delivered and dropped. */
  get stats(): Readonly<WatcherStats> {
    return { ...this.state.stats };
  }

  /** Stops the watcher and removes it from the server. Iteration ends after the batches already buffered. Idempotent. */
  cancel(): Promise<void> {
    if (this.cancelling === undefined) {
      this.state.end();
      this.cancelling = this.host.remove(this.state);
    }
    return this.cancelling;
  }

  /** Same as {@link Watcher.cancel}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.cancel();
  }

  private claim(): void {
    if (this.consumed) {
      throw new AlreadyConsumedError('a watcher has one consumer; create another watcher to read the same keys twice', {
        source: 'Watcher',
      });
    }
    this.consumed = true;
  }

  /** Iterates batches: all events of one or more whole revisions, or a progress notification. */
  [Symbol.asyncIterator](): AsyncIterator<WatchBatch, undefined> {
    this.claim();
    return new WatchIterator<WatchBatch>(this.state.queue, this, false);
  }

  /** Iterates single events in revision order, skipping progress notifications. */
  events(): AsyncIterable<WatchEvent, undefined> {
    this.claim();
    return new WatchIterator<WatchEvent>(this.state.queue, this, true);
  }
}

/** Checks the options of `etcd.watch` and returns the buffer limit. @internal */
export function checkWatchOptions(options: WatchOptions | undefined): number {
  const source = 'Etcd.watch';
  if (options?.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('options.signal', 'expected an AbortSignal', { source });
  }
  const max = options?.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new InvalidArgumentError('options.maxBufferedEvents', `expected a positive integer, got ${String(max)}`, { source });
  }
  return max;
}

/** The error a watcher whose consumer fell behind ends with. @internal */
export function slowConsumer(limit: number): SlowConsumerError {
  return new SlowConsumerError(`the consumer fell more than ${limit} events behind`, { source: 'Watch' });
}
