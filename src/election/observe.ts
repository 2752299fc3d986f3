import type { CallOptions } from '../connection/call-options.js';
import { backoffDelay, sleep } from '../connection/backoff.js';
import type { Connection } from '../connection/connection.js';
import { AlreadyConsumedError, CancelledError, ClientClosedError, CompactedError, EtcdError, InvalidArgumentError } from '../connection/errors.js';
import type { LeaderRequest } from '../generated/v3electionpb/v3election.js';
import { type KeyValue, toKeyValue } from '../kv/key-value.js';
import { Range } from '../kv/range.js';
import type { RangeResult } from '../kv/results.js';
import { Watch } from '../watch/watch.js';
import type { WatchOptions, Watcher } from '../watch/watcher.js';
import { electionMethods } from './methods.js';

/** Options of `election.observe()`. */
export interface ObserveOptions {
  /** Stops observing; the iteration then throws `CancelledError` with the signal's reason as `cause`. */
  signal?: AbortSignal;
}

/** A source of leader key-values, in order, possibly repeating one after a reconnect. @internal */
export type LeaderSource = (signal: AbortSignal) => AsyncGenerator<KeyValue, void, undefined>;

const RECONNECT = { initialBackoffMs: 50, maxBackoffMs: 1_000 } as const;

/** Whether `next` is the leader value `last` already reported: the same key, term and write. */
function sameLeader(last: KeyValue | undefined, next: KeyValue): boolean {
  return last !== undefined && last.createRevision === next.createRevision && last.modRevision >= next.modRevision && last.key.equals(next.key);
}

/**
 * The leaders of an election as they change, from `election.observe()`: an `AsyncIterable` of
 * the leader key-value (its value is the leader's proclamation) each time a new leader is
 * elected or the leader proclaims a new value, and the handle that stops it.
 *
 * @remarks
 * It starts with the current leader, if there is one. It survives broken connections and
 * failovers: it reconnects by itself and first reports the leader at that moment, each leader
 * value at most once, so after any disruption the last value it reported is the true current
 * leader. A period without a leader is not reported (as with the Go client and the server's
 * `Observe`); the next leader is. One consumer per observer; leaving the loop stops it.
 *
 * @example
 * ```ts
 * for await (const leader of etcd.election('leader').observe({ signal })) console.log(leader.text());
 * ```
 */
export class LeaderObserver implements AsyncIterable<KeyValue>, AsyncDisposable {
  readonly #source: LeaderSource;
  readonly #controller = new AbortController();
  readonly #signal: AbortSignal | undefined;
  #consumed = false;

  /** @internal */
  constructor(source: LeaderSource, options: ObserveOptions | undefined) {
    if (options?.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('options.signal', 'expected an AbortSignal', { source: 'Election.observe' });
    }
    this.#source = source;
    this.#signal = options?.signal;
  }

  /** Stops observing; a running iteration ends (without an error). Idempotent. */
  close(): Promise<void> {
    this.#controller.abort();
    return Promise.resolve();
  }

  /** Same as {@link LeaderObserver.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Iterates the leader changes. */
  [Symbol.asyncIterator](): AsyncIterator<KeyValue, undefined> {
    if (this.#consumed) throw new AlreadyConsumedError('an observer has one consumer; call observe() again', { source: 'Election.observe' });
    this.#consumed = true;
    return this.leaders();
  }

  private async *leaders(): AsyncGenerator<KeyValue, undefined, undefined> {
    const user = this.#signal;
    const signal = user === undefined ? this.#controller.signal : AbortSignal.any([user, this.#controller.signal]);
    const source = this.#source(signal);
    let last: KeyValue | undefined;
    try {
      for await (const leader of source) {
        if (sameLeader(last, leader)) continue;
        last = leader;
        yield leader;
      }
    } catch (error) {
      if (user?.aborted) throw new CancelledError('cancelled by the caller', { source: 'Election.observe', cause: user.reason });
      if (!this.#controller.signal.aborted) throw error;
    } finally {
      this.#controller.abort();
      await source.return(undefined).catch(() => undefined);
    }
    if (user?.aborted) throw new CancelledError('cancelled by the caller', { source: 'Election.observe', cause: user.reason });
    return undefined;
  }
}

/**
 * Leaders from the election service's `Observe` stream. A stream that breaks (or that the server
 * ends) is opened again, with backoff, and starts with the leader at that moment. Errors that a
 * retry cannot cure (permissions, a closed client) end the iteration.
 * @internal
 */
export function serviceLeaders(connection: Connection, request: LeaderRequest, strip: number): LeaderSource {
  const spec = { source: 'Election.Observe', requireLeader: true } as const;
  return async function* (signal) {
    for (let failures = 0; ; ) {
      try {
        for await (const message of connection.serverStream(electionMethods.observe, request, spec, { signal })) {
          failures = 0;
          if (message.kv !== undefined) yield toKeyValue(message.kv, strip);
        }
      } catch (error) {
        if (signal.aborted || error instanceof ClientClosedError || !(error instanceof EtcdError) || !error.retryable) throw error;
      }
      if (connection.isClosed) return;
      failures++;
      await sleep(backoffDelay(failures, RECONNECT.initialBackoffMs, RECONNECT.maxBackoffMs), signal, spec.source);
    }
  };
}

/** What observing with a watch needs from a client or namespace view. @internal */
export interface ObserveHost {
  range(range: Range, options?: CallOptions): Promise<RangeResult>;
  watch(target: Watch, options?: WatchOptions): Watcher;
}

/**
 * Leaders computed from the candidates' keys: every key under `prefix` read at one revision,
 * then a watch from the next revision (which resumes by itself across reconnects, without
 * losing or repeating an event); after each batch of whole revisions, the oldest key is the
 * leader. A compaction past the watch means reading again.
 * @internal
 */
export function recipeLeaders(host: ObserveHost, prefix: Buffer): LeaderSource {
  return async function* (signal) {
    for (;;) {
      const snapshot = await host.range(Range.key(prefix).withPrefix(), { signal });
      const candidates = new Map<string, KeyValue>();
      for (const kv of snapshot.kvs) candidates.set(kv.key.toString('hex'), kv);
      let leader = oldest(candidates);
      if (leader !== undefined) yield leader;
      const watcher = host.watch(Watch.key(prefix).withPrefix().withStartRevision(snapshot.header.revision + 1n), { signal });
      try {
        for await (const batch of watcher) {
          for (const event of batch.events) {
            const id = event.kv.key.toString('hex');
            if (event.type === 'put') candidates.set(id, event.kv);
            else candidates.delete(id);
          }
          const next = oldest(candidates);
          if (next !== undefined && next !== leader) yield next;
          leader = next;
        }
        return;
      } catch (error) {
        if (!(error instanceof CompactedError)) throw error;
      }
    }
  };
}

function oldest(candidates: Map<string, KeyValue>): KeyValue | undefined {
  let first: KeyValue | undefined;
  for (const kv of candidates.values()) if (first === undefined || kv.createRevision < first.createRevision) first = kv;
  return first;
}
