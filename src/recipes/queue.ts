import { randomBytes } from 'node:crypto';
import { type CallOptions, checkCallOptions } from '../connection/call-options.js';
import { type Bytes, toBuffer, toKey } from '../encoding/bytes.js';
import type { KeyValue } from '../kv/key-value.js';
import { Range } from '../kv/range.js';
import type { Namespace } from '../kv/namespace.js';
import { checkHost, type CoordinationHost } from '../lock/host.js';
import { WaitScope } from '../lock/session-scope.js';
import { Compare } from '../txn/compare.js';
import { Op } from '../txn/op.js';
import { Watch } from '../watch/watch.js';

/**
 * A work queue (Go's `contrib/recipes` `Queue`): items are keys under `<prefix>/`, taken in the
 * order they were added (by create revision), each by exactly one consumer: a consumer claims
 * an item by deleting it in a transaction that checks it is unchanged.
 *
 * @example
 * ```ts
 * const jobs = new Queue(etcd, 'jobs');
 * await jobs.enqueue(JSON.stringify({ id: 7 }));
 * const job = await jobs.dequeue({ timeoutMs: 10_000 }); // waits for an item
 * job.json<{ id: number }>().id;
 * ```
 */
export class Queue {
  /** The queue's key prefix (relative to the view), ending with `/`. */
  readonly prefix: Buffer;
  readonly #view: CoordinationHost;

  /** A queue under `prefix` on a client or namespace view. */
  constructor(view: Namespace, prefix: Bytes) {
    this.#view = checkHost(view, 'new Queue');
    this.prefix = Buffer.concat([toKey(prefix, 'prefix', 'new Queue'), Buffer.from('/')]);
  }

  /** Adds an item; resolves with its key (relative to the view). */
  async enqueue(value: Bytes, options?: CallOptions): Promise<Buffer> {
    const bytes = toBuffer(value, 'value', 'Queue.enqueue');
    checkCallOptions(options, 'Queue.enqueue');
    const stamp = process.hrtime.bigint().toString().padStart(20, '0');
    const key = Buffer.concat([this.prefix, Buffer.from(`${stamp}-${randomBytes(4).toString('hex')}`)]);
    await this.#view.put(key, bytes, options);
    return key;
  }

  /**
   * Takes the oldest item, waiting for one if the queue is empty; resolves with its key-value.
   * @throws `CancelledError` on abort, `DeadlineExceededError` after `timeoutMs`.
   */
  async dequeue(options?: CallOptions): Promise<KeyValue> {
    const scope = new WaitScope('Queue.dequeue', options);
    const oldest = Range.key(this.prefix).withPrefix().withSort('createRevision', 'ascend').withLimit(1);
    try {
      for (;;) {
        scope.check();
        const result = await this.#view.range(oldest, { signal: scope.signal });
        const item = result.kvs[0];
        if (item === undefined) {
          await this.nextPut(result.header.revision + 1n, scope.signal);
          continue;
        }
        const claim = await this.#view
          .txn()
          .if(Compare.modRevision(item.key).equals(item.modRevision))
          .then(Op.delete(item.key))
          .commit({ signal: scope.signal });
        if (claim.succeeded) return item;
      }
    } catch (error) {
      throw scope.failure(error);
    } finally {
      scope.dispose();
    }
  }

  /** Waits for an item to be added from `revision` on. */
  private async nextPut(revision: bigint, signal: AbortSignal): Promise<void> {
    const watcher = this.#view.watch(Watch.key(this.prefix).withPrefix().withStartRevision(revision).withNoDelete(), { signal });
    for await (const batch of watcher) if (batch.events.length > 0) return;
  }
}
