import { randomBytes } from 'node:crypto';
import { type CallOptions, checkCallOptions } from '../connection/call-options.js';
import { LockLostError } from '../connection/errors.js';
import { type Bytes, toKey } from '../encoding/bytes.js';
import type { Namespace } from '../kv/namespace.js';
import { checkHost, type CoordinationHost } from '../lock/host.js';
import { LockHandle } from '../lock/lock-handle.js';
import { checkWaitOptions, type LeaseChoice, leaseHex } from '../lock/session-scope.js';
import { recipeQueue, takeTurn } from '../lock/take-turn.js';

const EMPTY = Buffer.alloc(0);

/**
 * A read-write lock (the recipe of Go's `contrib/recipes` `RWMutex`): any number of readers or
 * one writer. Contenders queue in arrival order under `<name>/read/` and `<name>/write/`: a
 * reader waits for every writer that came before it, a writer for everyone that came before
 * it, so writers are not starved by a stream of readers.
 *
 * @remarks
 * Each `read()` and `write()` is a separate hold with its own key and {@link LockHandle}
 * (fencing token, `lost`, guarded transactions); release it with `handle.release()`. The lease
 * choice applies to every hold: by default each gets a session of its own (60 s TTL).
 *
 * @example
 * ```ts
 * const rw = new ReadWriteLock(etcd, 'config', { session });
 * const reading = await rw.read();
 * try { (await etcd.get('config/value'))?.text(); } finally { await reading.release(); }
 * ```
 */
export class ReadWriteLock {
  /** The lock name (the key prefix of its contenders, relative to the view). */
  readonly name: Buffer;
  readonly #view: CoordinationHost;
  readonly #choice: LeaseChoice | undefined;

  /** A read-write lock named `name` on a client or namespace view. */
  constructor(view: Namespace, name: Bytes, options?: LeaseChoice) {
    const source = 'new ReadWriteLock';
    this.#view = checkHost(view, source);
    this.name = toKey(name, 'name', source);
    checkWaitOptions(options, source);
    this.#choice = options;
  }

  /**
   * Waits for a shared (read) hold: until no writer that came earlier holds or waits.
   * @throws as `Mutex.lock`: `SessionExpiredError`, `CancelledError`, `DeadlineExceededError`, leaving no key behind.
   */
  read(options?: CallOptions): Promise<LockHandle> {
    return this.take('ReadWriteLock.read', 'read/', 'write/', options);
  }

  /** Waits for the exclusive (write) hold: until everyone that came earlier is gone. */
  write(options?: CallOptions): Promise<LockHandle> {
    return this.take('ReadWriteLock.write', 'write/', '', options);
  }

  private async take(source: string, kind: string, waitFor: string, options: CallOptions | undefined): Promise<LockHandle> {
    checkCallOptions(options, source);
    const base = Buffer.concat([this.name, Buffer.from('/')]);
    const waitPrefix = Buffer.concat([base, Buffer.from(waitFor)]);
    const parts = await takeTurn(
      {
        view: this.#view,
        source,
        name: this.name,
        choice: this.#choice,
        key: (leaseId) => Buffer.concat([base, Buffer.from(`${kind}${leaseHex(leaseId)}-${randomBytes(6).toString('hex')}`)]),
        sessionKey: false,
        mode: 'wait',
        queue: recipeQueue({
          view: this.#view,
          waitPrefix,
          value: EMPTY,
          mode: 'wait',
          lost: (message, key) => new LockLostError(`${source} was not granted: ${message}`, { source, key, reason: 'deleted' }),
        }),
      },
      options,
    );
    return new LockHandle(parts!);
  }
}
