import type { CallOptions } from '../connection/call-options.js';
import { LockLostError, type OwnershipLossReason } from '../connection/errors.js';
import { Op } from '../txn/op.js';
import type { Compare } from '../txn/compare.js';
import { HeldKey, type HeldKeyParts } from './held-key.js';

/**
 * A held lock, from `etcd.lock.acquire`, a {@link Mutex} or a {@link ReadWriteLock}. A lock is
 * only as good as its session: it ends when the session's lease is lost, and a paused process
 * can wake up still believing it holds it. Fence what the lock protects with
 * {@link LockHandle.fencingToken}, or write through {@link LockHandle.guarded}, which only
 * applies while the lock key still exists as this holder created it.
 *
 * @example
 * ```ts
 * await using lock = await etcd.lock.acquire('jobs', { ttl: 10 });
 * await lock.guarded([Op.put('jobs/state', 'running')]); // refused once the lock is lost
 * lock.lost.then((error) => console.log('stepping down:', error.reason));
 * ```
 */
export class LockHandle extends HeldKey<LockLostError> {
  /** @internal */
  constructor(parts: HeldKeyParts) {
    super(parts);
  }

  /**
   * The fencing token: the lock key's create revision. It grows with every grant of the lock,
   * so a resource that remembers the highest token it has seen can refuse a stale holder.
   */
  get fencingToken(): bigint {
    return this.parts.revision;
  }

  /**
   * The condition "this lock is still held" (Go's `Mutex.IsOwner`), for your own transactions
   * on the view the lock was taken through: the lock key's create revision is the fencing token.
   */
  isOwner(): Compare {
    return this.ownership();
  }

  /**
   * Releases the lock: deletes its key if it is still this holder's (a session granted for the
   * lock is revoked instead, which deletes it too), then ends such a session. `lost` resolves
   * with reason `released` unless the lock was lost before. Idempotent; after a rejection the
   * key may remain until the session ends, and calling again retries.
   */
  release(options?: CallOptions): Promise<void> {
    return this.end(() => this.removeKey(Op.delete(this.key), options));
  }

  /** Same as {@link LockHandle.release}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** @internal */
  protected lossError(reason: OwnershipLossReason, message: string, cause: unknown): LockLostError {
    return new LockLostError(`lock ${JSON.stringify(this.key.toString())} is no longer held: ${message}`, {
      source: 'Lock',
      key: this.parts.serverKey,
      reason,
      cause,
    });
  }
}
