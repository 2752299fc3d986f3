import type { Connection } from '../connection/connection.js';
import { InternalError, InvalidArgumentError, LockLostError } from '../connection/errors.js';
import { type Bytes, toKey } from '../encoding/bytes.js';
import { toLong } from '../encoding/int64.js';
import type { KeySpace } from '../kv/key-space.js';
import type { CoordinationHost } from './host.js';
import { LockHandle } from './lock-handle.js';
import { lockMethods, WAIT_FOREVER_MS } from './methods.js';
import { checkWaitOptions, leaseHex, type WaitOptions } from './session-scope.js';
import { takeTurn } from './take-turn.js';
import { confirmHeld } from './wait.js';

/** Options of {@link Locks.acquire} and {@link Locks.withLock}: the lease choice, a signal and a timeout. */
export type AcquireOptions = WaitOptions;

const LOCK_SPEC = { source: 'Lock.Lock', mutation: true } as const;

/**
 * Locks through etcd's lock service (`v3lockpb.Lock`): `etcd.lock`. The server queues the
 * caller with the same key layout as Go's `concurrency.Mutex` (`<name>/<lease hex>`, oldest
 * first), so these locks exclude `etcdctl lock`, Go clients and {@link Mutex} holders of the
 * same name, and the other way round.
 *
 * @remarks
 * What the service alone does not give, the client adds: the fencing token (the key's create
 * revision, read after the grant), a check that the key still exists after the wait (a waiter
 * whose lease expired is otherwise told it holds the lock), a `lost` signal, guarded
 * transactions, and no key left behind by an acquire that was aborted, timed out or lost its
 * session, even when the server granted the lock just as the caller gave up.
 *
 * @example
 * ```ts
 * const lock = await etcd.lock.acquire('jobs', { ttl: 10, timeoutMs: 5_000 });
 * try {
 *   await lock.guarded([Op.put('jobs/owner', 'me')]);
 * } finally {
 *   await lock.release();
 * }
 * await etcd.lock.withLock('jobs', async (lock) => doWork(lock.fencingToken));
 * ```
 */
export class Locks {
  /** @internal */
  constructor(
    private readonly connection: Connection,
    private readonly keySpace: KeySpace,
    private readonly view: CoordinationHost,
  ) {}

  /**
   * Waits for the lock `name` and resolves with its {@link LockHandle}. Without `timeoutMs` or
   * a `signal` it waits as long as it takes (and as long as the session lasts).
   * @throws `SessionExpiredError` when the session ends while waiting (never resolves as
   * acquired then); `CancelledError` on abort and `DeadlineExceededError` on timeout, in both
   * cases after removing this waiter's key; `InvalidArgumentError` for bad input.
   */
  async acquire(name: Bytes, options?: AcquireOptions): Promise<LockHandle> {
    const source = 'Lock.acquire';
    const lockName = toKey(name, 'name', source);
    checkWaitOptions(options, source);
    const serverName = this.keySpace.key(lockName);
    const parts = await takeTurn(
      {
        view: this.view,
        source,
        name: lockName,
        choice: options,
        key: (leaseId) => Buffer.concat([lockName, Buffer.from(`/${leaseHex(leaseId)}`)]),
        sessionKey: true,
        mode: 'wait',
        queue: async ({ scope, session, key, serverKey }) => {
          const request = { name: serverName, lease: toLong(session.leaseId, 'lease', source) };
          const granted = await this.connection.unary(lockMethods.lock, request, LOCK_SPEC, { signal: scope.signal, timeoutMs: WAIT_FOREVER_MS });
          if (!granted.key.equals(serverKey)) {
            throw new InternalError(`the lock service granted key ${JSON.stringify(granted.key.toString())}, not ours`, { source });
          }
          return confirmHeld(this.view, key, undefined, session, scope, (message) =>
            new LockLostError(`lock ${JSON.stringify(lockName.toString())} was not acquired: ${message}`, { source, key: serverKey, reason: 'deleted' }),
          );
        },
      },
      options,
    );
    return new LockHandle(parts!);
  }

  /**
   * Runs `fn` while holding the lock `name`, and releases it afterwards, whatever happens.
   * `fn` gets the {@link LockHandle}: its `fencingToken`, `signal` (aborted if the lock is lost
   * meanwhile) and `guarded`. Resolves with what `fn` returns.
   * @throws what `fn` throws; what {@link Locks.acquire} throws; the release's error when `fn` succeeded but the release failed.
   */
  async withLock<T>(name: Bytes, fn: (lock: LockHandle) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'expected a function', { source: 'Lock.withLock' });
    const lock = await this.acquire(name, options);
    let result: T;
    try {
      result = await fn(lock);
    } catch (error) {
      await lock.release().catch(() => undefined);
      throw error;
    }
    await lock.release();
    return result;
  }
}
