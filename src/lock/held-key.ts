import type { CallOptions } from '../connection/call-options.js';
import type { LeadershipLostError, LockLostError, OwnershipLossReason } from '../connection/errors.js';
import { Compare } from '../txn/compare.js';
import type { Op } from '../txn/op.js';
import type { ResultsOf } from '../txn/results.js';
import type { Txn } from '../txn/txn.js';
import type { Session } from '../lease/session.js';
import { type SessionHold, sessionSignal } from './session-scope.js';

/** What a held key needs from the client or namespace view it was taken through. @internal */
export interface TxnHost {
  txn(): Txn;
}

/** Everything a held key is made of. @internal */
export interface HeldKeyParts {
  readonly host: TxnHost;
  /** The lock or election name, relative to the view. */
  readonly name: Buffer;
  /** The key, relative to the view. */
  readonly key: Buffer;
  /** The key as the server knows it (namespace prefix included). */
  readonly serverKey: Buffer;
  /** The key's create revision. */
  readonly revision: bigint;
  readonly hold: SessionHold;
  /** Ends the in-process claim on the key. */
  readonly unclaim: () => void;
}

type LossError = LockLostError | LeadershipLostError;

/**
 * A key held on a session: what a lock handle and a leadership have in common.
 * It is held while its session lasts and until it is released; `lost` says when either ends,
 * and guarded transactions only run while the key is still the one this holder created.
 */
export abstract class HeldKey<E extends LossError> implements AsyncDisposable {
  /** The lock or election name (relative to the view it was taken through). */
  readonly name: Buffer;
  /** The key (relative to the view it was taken through): `<name>/<lease hex>` for locks and campaigns. */
  readonly key: Buffer;
  /** The session the key is attached to. */
  readonly session: Session;
  /**
   * Resolves, never rejects, once the key can no longer be trusted to be held, with the error
   * whose `reason` says why: `session-lost` (the session's lease expired, was revoked or the
   * session ended), `deleted` (a guarded transaction found the key gone or replaced) or
   * `released` (released or resigned by this holder).
   */
  readonly lost: Promise<E>;
  /** @internal */
  protected readonly parts: HeldKeyParts;
  #error: E | undefined;
  #resolveLost!: (error: E) => void;
  #controller: AbortController | undefined;
  #ending: Promise<void> | undefined;
  /** The session's shared end signal, listened to until the key is lost or released. */
  readonly #sessionEnded: AbortSignal;
  readonly #onSessionEnded = (): void => {
    this.markLost('session-lost', `the session (lease ${this.leaseId.toString(16)}) ended`, this.#sessionEnded.reason);
  };

  /** @internal */
  protected constructor(parts: HeldKeyParts) {
    this.parts = parts;
    this.name = parts.name;
    this.key = parts.key;
    this.session = parts.hold.session;
    this.lost = new Promise<E>((resolve) => (this.#resolveLost = resolve));
    this.#sessionEnded = sessionSignal(this.session);
    if (this.#sessionEnded.aborted) this.#onSessionEnded();
    else this.#sessionEnded.addEventListener('abort', this.#onSessionEnded, { once: true });
  }

  /** The ID of the lease the key is attached to. */
  get leaseId(): bigint {
    return this.session.leaseId;
  }

  /**
   * Whether the key is still held as far as this client can tell: not lost, and the session's
   * lease is before its local deadline. Another holder can only have it after that deadline.
   */
  get isHeld(): boolean {
    return this.#error === undefined && Date.now() < this.session.lease.deadline;
  }

  /** An `AbortSignal` aborted (with the loss error as reason) when `lost` resolves; pass it to calls that must stop then. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#error !== undefined) this.#controller.abort(this.#error);
    }
    return this.#controller.signal;
  }

  /**
   * A transaction on the view the key was taken through, whose `if` already holds the
   * ownership condition (add your own; set `then` and `else`). It only takes its `then` branch
   * while the key is still the one this holder created.
   */
  txn(): Txn {
    return this.parts.host.txn().if(this.ownership());
  }

  /**
   * Runs `ops` atomically only if the key is still held, and returns their results. Refuses
   * without sending anything once the session's local deadline has passed.
   * @throws the loss error (after `lost` resolved) when the key is no longer held; the ops were not applied.
   */
  async guarded<const T extends Op[]>(ops: [...T], options?: CallOptions): Promise<ResultsOf<T>> {
    this.assertHeld();
    const result = await this.parts.host
      .txn()
      .if(this.ownership())
      .then(...ops)
      .commit(options);
    if (result.succeeded) return result.responses;
    throw this.session.isLost
      ? this.markLost('session-lost', 'the session ended')
      : this.markLost('deleted', 'the key was deleted or replaced');
  }

  /** The condition "the key still has the create revision this holder gave it". @internal */
  protected ownership(): Compare {
    return Compare.createRevision(this.key).equals(this.parts.revision);
  }

  /** Throws (and reports) the loss if the key is known lost or the lease's local deadline passed. @internal */
  protected assertHeld(): void {
    if (this.#error !== undefined) throw this.#error;
    if (Date.now() >= this.session.lease.deadline) {
      throw this.markLost('session-lost', "the session's lease passed its deadline without a refresh");
    }
  }

  /** The error of a loss. @internal */
  protected abstract lossError(reason: OwnershipLossReason, message: string, cause: unknown): E;

  /** Records the loss (the first one wins), resolves `lost` and aborts `signal`; returns the recorded error. @internal */
  protected markLost(reason: OwnershipLossReason, message: string, cause?: unknown): E {
    if (this.#error !== undefined) return this.#error;
    const error = this.lossError(reason, message, cause);
    this.#error = error;
    this.#sessionEnded.removeEventListener('abort', this.#onSessionEnded);
    this.#resolveLost(error);
    this.#controller?.abort(error);
    if (reason !== 'released') void this.finish();
    return error;
  }

  /**
   * Releases the key once: marks it released, runs `remove` unless it is already lost, then
   * ends an owned session and the claim. A failed `remove` may be retried by calling again.
   * @internal
   */
  protected end(remove: () => Promise<void>): Promise<void> {
    this.#ending ??= (async () => {
      const wasHeld = this.#error === undefined;
      this.markLost('released', 'released by its holder');
      try {
        if (wasHeld) await remove();
      } catch (error) {
        this.#ending = undefined;
        throw error;
      }
      await this.finish();
    })();
    return this.#ending;
  }

  /** Removes the key: a session started for this hold is revoked (which deletes it), otherwise a guarded delete. @internal */
  protected async removeKey(deleteOp: Op, options: CallOptions | undefined): Promise<void> {
    if (this.parts.hold.origin === 'granted') {
      await this.session.close(options);
      return;
    }
    await this.parts.host.txn().if(this.ownership()).then(deleteOp).commit(options);
  }

  private finish(): Promise<void> {
    this.parts.unclaim();
    return this.parts.hold.end();
  }

  /** Releases the key (see the subclass's release or resign). */
  abstract [Symbol.asyncDispose](): Promise<void>;
}
