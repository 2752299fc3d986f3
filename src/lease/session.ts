import type { CallOptions } from '../connection/call-options.js';
import type { LeaseExpiredError } from '../connection/errors.js';
import type { KeptLease } from './kept-lease.js';

/** Options of `etcd.session()`. */
export interface SessionOptions extends CallOptions {
  /** TTL of the session's lease in seconds, when one is granted. @defaultValue 60 (as Go's `concurrency.WithTTL`) */
  ttl?: number;
  /** Use this existing lease instead of granting one (Go's `concurrency.WithLease`); it is kept alive and revoked on close. */
  lease?: bigint | number;
}

/**
 * A lease kept alive for as long as the session lasts, as Go's `concurrency.Session`: locks,
 * elections and STM tie their keys to it, so they disappear when this client stops or loses the
 * lease. `signal` (in the options) ends the session like {@link Session.orphan}.
 *
 * @example
 * ```ts
 * await using session = await etcd.session({ ttl: 10 });
 * await etcd.put('members/me', 'here', { lease: session.leaseId });
 * const why = await session.lost; // the lease expired, was revoked, or the session ended
 * ```
 */
export class Session implements AsyncDisposable {
  /** The TTL a session asks for when none is given, in seconds. */
  static readonly DEFAULT_TTL = 60;
  /** The kept lease behind the session. */
  readonly lease: KeptLease;
  /** Resolves when the session ends, for any reason (lost, closed or orphaned); never rejects. */
  readonly done: Promise<void>;

  /** @internal */
  constructor(lease: KeptLease) {
    this.lease = lease;
    this.done = lease.lost.then(() => undefined);
  }

  /** The ID of the session's lease, for `{ lease: session.leaseId }`. */
  get leaseId(): bigint {
    return this.lease.id;
  }

  /** The lease's granted TTL in seconds. */
  get ttl(): number {
    return this.lease.ttl;
  }

  /** Resolves (never rejects) with why the session ended; see `KeptLease.lost`. */
  get lost(): Promise<LeaseExpiredError> {
    return this.lease.lost;
  }

  /** Whether the session has ended. */
  get isLost(): boolean {
    return this.lease.isLost;
  }

  /**
   * Ends the session: stops keeping the lease alive and revokes it, which deletes every key
   * attached to it. The revoke waits at most the lease's TTL (after which the lease would have
   * expired anyway) unless `timeoutMs` says otherwise.
   * @throws `EtcdError` when the revoke failed; the lease is no longer kept and expires by itself.
   */
  async close(options?: CallOptions): Promise<void> {
    try {
      await this.lease.revoke({ timeoutMs: Math.max(1, this.lease.ttl) * 1000, ...options });
    } finally {
      await this.lease.close();
    }
  }

  /** Ends the session without revoking its lease (Go's `Orphan`): the lease expires after its TTL. */
  orphan(): Promise<void> {
    return this.lease.close();
  }

  /** Alias of {@link Session.close} for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
