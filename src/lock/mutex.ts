import type { CallOptions } from '../connection/call-options.js';
import { checkCallOptions } from '../connection/call-options.js';
import { InvalidArgumentError, LockLostError } from '../connection/errors.js';
import { type Bytes, toKey } from '../encoding/bytes.js';
import { Compare } from '../txn/compare.js';
import type { Namespace } from '../kv/namespace.js';
import { checkHost, type CoordinationHost } from './host.js';
import { LockHandle } from './lock-handle.js';
import { checkWaitOptions, type LeaseChoice, leaseHex } from './session-scope.js';
import { recipeQueue, takeTurn } from './take-turn.js';

const EMPTY = Buffer.alloc(0);

/**
 * The client-side lock recipe of Go's `concurrency.Mutex`, compatible with it, with
 * `etcdctl lock` and with the server's lock service: each contender puts `<name>/<lease hex>`
 * on its session's lease, and the oldest key (lowest create revision) holds the lock, so
 * waiters are served in arrival order. A waiter watches the key created just before its own
 * until it is deleted, then looks again.
 *
 * @remarks
 * The lease choice is made once, for every `lock()` of this mutex: a given `session`, a
 * `lease`, or (by default) a session granted per `lock()` with `ttl` (60 s) and revoked by
 * `unlock()`. Holds of one session on one name in this process take turns, since they share a
 * key. A lock is not mutual exclusion on its own once a holder can pause past its lease: use
 * the handle's fencing token or guarded transactions.
 *
 * @example
 * ```ts
 * const mutex = new Mutex(etcd, 'jobs', { session });
 * const lock = await mutex.lock({ timeoutMs: 5_000 });
 * await etcd.txn().if(mutex.isOwner()).then(Op.put('jobs/state', 'mine')).commit();
 * await mutex.unlock();
 * ```
 */
export class Mutex {
  /** The lock name (the key prefix of its contenders, relative to the view). */
  readonly name: Buffer;
  readonly #view: CoordinationHost;
  readonly #choice: LeaseChoice | undefined;
  #handle: LockHandle | undefined;

  /**
   * A mutex named `name` on a client or namespace view (keys relative to it).
   * @throws `InvalidArgumentError` for an empty name, a view that is not one, or more than one lease choice.
   */
  constructor(view: Namespace, name: Bytes, options?: LeaseChoice) {
    const source = 'new Mutex';
    this.#view = checkHost(view, source);
    this.name = toKey(name, 'name', source);
    checkWaitOptions(options, source);
    this.#choice = options;
  }

  /** The current hold, while this mutex is locked and the lock not lost. */
  get handle(): LockHandle | undefined {
    return this.#handle;
  }

  /**
   * Waits for the lock (Go's `Lock`). Aborting it, its timeout, or the loss of its session
   * remove this contender's key before the call rejects, so no later waiter is blocked by it.
   * @throws `SessionExpiredError` when the session ends while waiting (the call never resolves
   * as acquired then); `CancelledError`, `DeadlineExceededError`; `InvalidArgumentError` when
   * this mutex already holds the lock.
   */
  async lock(options?: CallOptions): Promise<LockHandle> {
    const handle = await this.take('Mutex.lock', 'wait', options);
    return handle!;
  }

  /**
   * Takes the lock only if it is free (Go's `TryLock`); resolves `undefined` otherwise, leaving
   * no key behind.
   */
  tryLock(options?: CallOptions): Promise<LockHandle | undefined> {
    return this.take('Mutex.tryLock', 'try', options);
  }

  /** Releases the lock if this mutex holds it (see {@link LockHandle.release}). */
  async unlock(options?: CallOptions): Promise<void> {
    const handle = this.#handle;
    if (handle === undefined) return;
    await handle.release(options);
    if (this.#handle === handle) this.#handle = undefined;
  }

  /**
   * The condition "this mutex holds the lock" (Go's `IsOwner`) for transactions on the same
   * view: its key's create revision is the fencing token. Before a `lock()`, a condition that
   * never holds.
   */
  isOwner(): Compare {
    return this.#handle?.isOwner() ?? Compare.createRevision(Buffer.concat([this.name, Buffer.from('/')])).equals(-1);
  }

  private async take(source: string, mode: 'wait' | 'try', options: CallOptions | undefined): Promise<LockHandle | undefined> {
    checkCallOptions(options, source);
    if (this.#handle?.isHeld) {
      throw new InvalidArgumentError('mutex', 'this Mutex already holds the lock; unlock() it first', { source });
    }
    const prefix = Buffer.concat([this.name, Buffer.from('/')]);
    const parts = await takeTurn(
      {
        view: this.#view,
        source,
        name: this.name,
        choice: this.#choice,
        key: (leaseId) => Buffer.concat([prefix, Buffer.from(leaseHex(leaseId))]),
        sessionKey: true,
        mode,
        queue: recipeQueue({
          view: this.#view,
          waitPrefix: prefix,
          value: EMPTY,
          mode,
          lost: (message, key) =>
            new LockLostError(`lock ${JSON.stringify(this.name.toString())} was not acquired: ${message}`, { source, key, reason: 'deleted' }),
        }),
      },
      options,
    );
    if (parts === undefined) return undefined;
    const handle = new LockHandle(parts);
    this.#handle = handle;
    void handle.lost.then(() => {
      if (this.#handle === handle) this.#handle = undefined;
    });
    return handle;
  }
}
