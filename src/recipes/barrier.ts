import { type CallOptions, checkCallOptions } from '../connection/call-options.js';
import { type Bytes, toKey } from '../encoding/bytes.js';
import type { Int64Input } from '../encoding/int64.js';
import { Range } from '../kv/range.js';
import type { Namespace } from '../kv/namespace.js';
import { checkHost, type CoordinationHost } from '../lock/host.js';
import { WaitScope } from '../lock/session-scope.js';
import { waitDeleted } from '../lock/wait.js';
import { Compare } from '../txn/compare.js';
import { Op } from '../txn/op.js';

/** Options of {@link Barrier.hold}. */
export interface BarrierHoldOptions extends CallOptions {
  /** Attach the barrier key to this lease, so the barrier falls when the lease ends. @defaultValue none: it stands until released */
  lease?: Int64Input;
}

/**
 * A barrier (Go's `contrib/recipes` `Barrier`): while its key exists, `wait()` blocks; when
 * the key is deleted, every waiter goes on.
 *
 * @example
 * ```ts
 * const gate = new Barrier(etcd, 'deploy/gate');
 * await gate.hold();                 // in the coordinator
 * await gate.wait({ timeoutMs: 60_000 }); // in the workers
 * await gate.release();              // in the coordinator: the workers go
 * ```
 */
export class Barrier {
  /** The barrier key (relative to the view). */
  readonly key: Buffer;
  readonly #view: CoordinationHost;

  /** A barrier at `key` on a client or namespace view. */
  constructor(view: Namespace, key: Bytes) {
    this.#view = checkHost(view, 'new Barrier');
    this.key = toKey(key, 'key', 'new Barrier');
  }

  /** Raises the barrier; resolves `false` (changing nothing) when it already stands. */
  async hold(options?: BarrierHoldOptions): Promise<boolean> {
    checkCallOptions(options, 'Barrier.hold');
    const put = Op.put(this.key, '', options?.lease === undefined ? undefined : { lease: options.lease });
    const result = await this.#view.txn().if(Compare.missing(this.key)).then(put).commit(options);
    return result.succeeded;
  }

  /** Takes the barrier down: every waiter goes on. */
  async release(options?: CallOptions): Promise<void> {
    await this.#view.delete(this.key, options);
  }

  /**
   * Resolves once the barrier is down (at once if it does not stand).
   * @throws `CancelledError` on abort, `DeadlineExceededError` after `timeoutMs`.
   */
  async wait(options?: CallOptions): Promise<void> {
    const scope = new WaitScope('Barrier.wait', options);
    try {
      for (;;) {
        scope.check();
        const result = await this.#view.range(Range.key(this.key).withKeysOnly(), { signal: scope.signal });
        if (result.kvs.length === 0) return;
        await waitDeleted(this.#view, this.key, result.header.revision, scope.signal);
      }
    } catch (error) {
      throw scope.failure(error);
    } finally {
      scope.dispose();
    }
  }
}
