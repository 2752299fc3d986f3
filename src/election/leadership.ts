import type { CallOptions } from '../connection/call-options.js';
import { LeadershipLostError, type OwnershipLossReason } from '../connection/errors.js';
import { type Bytes, toBuffer } from '../encoding/bytes.js';
import type { Compare } from '../txn/compare.js';
import type { Op } from '../txn/op.js';
import { HeldKey, type HeldKeyParts } from '../lock/held-key.js';

/** How a leadership proclaims and resigns: through the election service or with guarded transactions. @internal */
export interface LeadershipOps {
  /** Sets the leader key's value; resolves `false` when the key is no longer ours. */
  proclaim(leadership: Leadership, value: Buffer, options: CallOptions | undefined): Promise<boolean>;
  /** Deletes the leader key if it is still ours. */
  resign(leadership: Leadership, options: CallOptions | undefined): Promise<void>;
}

/**
 * Leadership of an election, from `election.campaign()`: held while the session lasts and
 * until {@link Leadership.resign}. Like a lock, it is not exclusive on its own once a leader can
 * pause past its lease: act through {@link Leadership.guarded} (or transactions conditioned on
 * {@link Leadership.isLeader}), and step down when {@link Leadership.lost} resolves.
 *
 * @example
 * ```ts
 * await using leadership = await etcd.election('leader').campaign('node-1', { ttl: 10 });
 * await leadership.proclaim('node-1 (busy)');
 * await leadership.guarded([Op.put('config/owner', 'node-1')]); // only while still the leader
 * ```
 */
export class Leadership extends HeldKey<LeadershipLostError> {
  #value: Buffer;
  readonly #ops: LeadershipOps;

  /** @internal */
  constructor(parts: HeldKeyParts, value: Buffer, ops: LeadershipOps) {
    super(parts);
    this.#value = value;
    this.#ops = ops;
  }

  /** The leader key's create revision: the election's term. It grows with every new leader, so it also serves as a fencing token. */
  get revision(): bigint {
    return this.parts.revision;
  }

  /** The value last campaigned with or proclaimed. */
  get value(): Buffer {
    return this.#value;
  }

  /**
   * The condition "this candidate is still the leader" for your own transactions on the view
   * the campaign ran on: the leader key's create revision is {@link Leadership.revision}.
   */
  isLeader(): Compare {
    return this.ownership();
  }

  /**
   * Announces a new value without a new election (observers see it).
   * @throws `LeadershipLostError` (after `lost` resolved) when no longer the leader; nothing was written then.
   */
  async proclaim(value: Bytes, options?: CallOptions): Promise<void> {
    const bytes = toBuffer(value, 'value', 'Leadership.proclaim');
    this.assertHeld();
    if (!(await this.#ops.proclaim(this, bytes, options))) {
      throw this.session.isLost ? this.markLost('session-lost', 'the session ended') : this.markLost('deleted', 'the leader key was deleted');
    }
    this.#value = bytes;
  }

  /**
   * Gives up leadership: deletes the leader key if it is still ours (a session granted for the
   * campaign is ended too), so the next candidate takes over. `lost` resolves with reason
   * `released` unless it was lost before. Idempotent; calling again after a rejection retries.
   */
  resign(options?: CallOptions): Promise<void> {
    return this.end(() => this.#ops.resign(this, options));
  }

  /** Same as {@link Leadership.resign}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.resign();
  }

  /** What the service calls need. @internal */
  get serverKey(): Buffer {
    return this.parts.serverKey;
  }

  /** @internal */
  protected lossError(reason: OwnershipLossReason, message: string, cause: unknown): LeadershipLostError {
    return new LeadershipLostError(`leadership of ${JSON.stringify(this.name.toString())} is no longer held: ${message}`, {
      source: 'Election',
      key: this.parts.serverKey,
      reason,
      cause,
    });
  }

  /** A guarded delete of the leader key, or the revoke of a granted session. @internal */
  removeLeaderKey(deleteOp: Op, options: CallOptions | undefined): Promise<void> {
    return this.removeKey(deleteOp, options);
  }
}
