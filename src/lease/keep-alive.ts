import { AlreadyConsumedError, CancelledError, type LeaseExpiredError } from '../connection/errors.js';
import type { LeaseKeepAliveResponse } from '../generated/etcdserverpb/rpc.js';
import type { KeepAliveHub } from './keep-alive-hub.js';
import { LeaseHold } from './lease-hold.js';
import { type KeepAliveResponse, toKeepAliveResponse } from './results.js';
import type { LeaseIdArg } from './validate.js';

const SOURCE = 'Lease.keepAlive';

/**
 * The keep-alive of one lease as an `AsyncIterable` of acknowledged refreshes, from
 * {@link Lease.keepAlive}. The lease is kept alive from the call on, whether or not the
 * iterable is read.
 *
 * @remarks
 * Refreshes never wait for the reader: the iterable holds only the latest unread
 * acknowledgement, so a slow reader skips replies rather than buffering them. Iteration ends
 * with a `LeaseExpiredError` when the lease is lost (deadline passed, revoked, or the client
 * closed), with `CancelledError` when the signal aborts, and normally after `break`,
 * `return()` or {@link LeaseKeepAlive.close}; each of those stops this keep-alive (other
 * holders of the lease keep it alive).
 * Only one loop may read it: a second `for await` throws `AlreadyConsumedError`.
 */
export class LeaseKeepAlive implements AsyncIterable<KeepAliveResponse>, AsyncDisposable {
  /** The lease ID. */
  readonly id: bigint;
  readonly #hold: LeaseHold;
  #latest: LeaseKeepAliveResponse | undefined;
  #reader: { resolve: (result: IteratorResult<KeepAliveResponse>) => void; reject: (error: unknown) => void } | undefined;
  #consumed = false;
  #reported = false;

  /** @internal */
  constructor(hub: KeepAliveHub, lease: LeaseIdArg, signal: AbortSignal | undefined) {
    this.id = lease.id;
    this.#hold = new LeaseHold(hub, lease, { acknowledged: (reply) => this.#acknowledged(reply), ended: () => this.#ended() }, signal);
  }

  /** Resolves, never rejects, when this keep-alive stops, with the reason (see `KeptLease.lost`). */
  get lost(): Promise<LeaseExpiredError> {
    return this.#hold.lost;
  }

  /** Whether {@link LeaseKeepAlive.lost} has resolved. */
  get isLost(): boolean {
    return this.#hold.error !== undefined;
  }

  /** The lease's TTL in seconds from the latest acknowledgement (0 before the first). */
  get ttl(): number {
    return this.#hold.ttl;
  }

  /** Epoch milliseconds after which the lease may have expired (`Infinity` before the first acknowledgement). */
  get deadline(): number {
    return this.#hold.deadline;
  }

  /** Stops this keep-alive; a pending `next()` resolves as done. Idempotent. */
  close(): Promise<void> {
    this.#hold.stop();
    return Promise.resolve();
  }

  /** Alias of {@link LeaseKeepAlive.close} for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * The iterator of the one loop that may read this keep-alive; its `return()` (a `break`) stops
   * the keep-alive.
   * @throws `AlreadyConsumedError` when called a second time.
   */
  [Symbol.asyncIterator](): AsyncIterator<KeepAliveResponse> {
    if (this.#consumed) throw new AlreadyConsumedError('a keep-alive can be iterated only once', { source: SOURCE });
    this.#consumed = true;
    return {
      next: () => this.#next(),
      return: () => {
        this.#hold.stop();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  #next(): Promise<IteratorResult<KeepAliveResponse>> {
    const latest = this.#latest;
    if (latest !== undefined) {
      this.#latest = undefined;
      return Promise.resolve({ done: false, value: toKeepAliveResponse(latest) });
    }
    if (this.#hold.error) return this.#end();
    if (this.#reader) {
      return Promise.reject(new AlreadyConsumedError('next() was called while another next() was pending', { source: SOURCE }));
    }
    return new Promise((resolve, reject) => (this.#reader = { resolve, reject }));
  }

  #acknowledged(reply: LeaseKeepAliveResponse): void {
    const reader = this.#reader;
    if (reader === undefined) {
      this.#latest = reply;
      return;
    }
    this.#reader = undefined;
    reader.resolve({ done: false, value: toKeepAliveResponse(reply) });
  }

  #ended(): void {
    // A lost lease is never reported alive again: an unread acknowledgement is dropped.
    this.#latest = undefined;
    const reader = this.#reader;
    this.#reader = undefined;
    if (reader) this.#end().then(reader.resolve, reader.reject);
  }

  /**
   * Ends the iteration: done when the reader stopped it; `CancelledError` once when the signal
   * aborted (as every other call and stream of the client); otherwise the loss, once.
   */
  #end(): Promise<IteratorResult<KeepAliveResponse>> {
    const hold = this.#hold;
    const error = hold.error;
    if (error === undefined || this.#reported || (hold.stoppedLocally && !hold.aborted)) {
      return Promise.resolve({ done: true, value: undefined });
    }
    this.#reported = true;
    if (hold.aborted) return Promise.reject(new CancelledError('cancelled by the caller', { source: SOURCE, cause: error.cause }));
    return Promise.reject(error);
  }
}
