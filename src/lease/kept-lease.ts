import type { CallOptions } from '../connection/call-options.js';
import type { LeaseExpiredError } from '../connection/errors.js';
import type { LeaseHold } from './lease-hold.js';

/**
 * A lease this client keeps alive on its shared keep-alive stream, from
 * {@link Lease.grantKeptAlive} or {@link Lease.keep}. Attach keys to it with
 * `etcd.put(key, value, { lease: kept.id })`.
 *
 * @remarks
 * A refresh is sent about every third of the TTL. {@link KeptLease.deadline} is when the lease
 * may have expired on the server if no further refresh is acknowledged; when it passes, the
 * lease is lost and {@link KeptLease.lost} resolves at once (the client does not wait for the
 * server to confirm). A lost lease is never reported alive again. After a loss by deadline the
 * client revokes the lease as soon as the server can be reached again, so that keys of a lease
 * its owner gave up do not outlive it (etcd 3.4 renews every lease with a full TTL when it
 * restarts or changes leader).
 *
 * Several `KeptLease` objects and keep-alive iterators of one lease share its refreshes; the
 * lease is kept alive until the last of them is closed.
 *
 * @example
 * ```ts
 * await using kept = await etcd.lease.grantKeptAlive(10);
 * await etcd.put('service/node-1', 'up', { lease: kept.id });
 * const reason = await kept.lost; // resolves when the lease is lost or closed
 * ```
 */
export class KeptLease implements AsyncDisposable {
  /** The lease ID. */
  readonly id: bigint;
  readonly #hold: LeaseHold;
  readonly #revoke: (options: CallOptions | undefined) => Promise<void>;

  /** @internal */
  constructor(hold: LeaseHold, revoke: (options: CallOptions | undefined) => Promise<void>) {
    this.id = hold.id;
    this.#hold = hold;
    this.#revoke = revoke;
  }

  /** The lease's TTL in seconds, as the server granted it (or last renewed it). */
  get ttl(): number {
    return this.#hold.ttl;
  }

  /**
   * Epoch milliseconds after which the lease may have expired on the server: when the last
   * acknowledged refresh was sent, plus the TTL. A program that must not act without the lease
   * can stop before this time. After a loss, the deadline the lease had then.
   */
  get deadline(): number {
    return this.#hold.deadline;
  }

  /**
   * Resolves, never rejects, when this handle stops keeping the lease, with a `LeaseExpiredError`
   * whose `reason` says why: `expired` (no acknowledgement before the deadline), `revoked` (the
   * server no longer knows the lease), `revoked-locally` ({@link KeptLease.revoke}) or `stopped`
   * ({@link KeptLease.close}, the signal, or the client closed).
   */
  get lost(): Promise<LeaseExpiredError> {
    return this.#hold.lost;
  }

  /** Whether {@link KeptLease.lost} has resolved. */
  get isLost(): boolean {
    return this.#hold.error !== undefined;
  }

  /**
   * Revokes the lease on the server, which deletes its keys, and stops keeping it alive; every
   * handle of the lease in this client then resolves `lost` with reason `revoked-locally`.
   * Revoking a lease the server no longer knows succeeds (the reason is then `revoked`).
   * @throws `EtcdError` when the server could not be reached; the lease is then still kept alive.
   */
  async revoke(options?: CallOptions): Promise<void> {
    const reason = this.#hold.error?.reason;
    if (reason === 'revoked' || reason === 'revoked-locally') return;
    await this.#revoke(options);
    this.#hold.stop('it was revoked');
  }

  /** Stops keeping the lease alive without revoking it (it expires after its TTL); `lost` resolves with `stopped`. Idempotent. */
  close(): Promise<void> {
    this.#hold.stop();
    return Promise.resolve();
  }

  /** Alias of {@link KeptLease.close} for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
