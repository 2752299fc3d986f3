import { randomBytes } from 'node:crypto';
import { type CallOptions, checkCallOptions } from '../connection/call-options.js';
import { ClientClosedError, InvalidArgumentError } from '../connection/errors.js';
import { type Bytes, toKey } from '../encoding/bytes.js';
import { Range } from '../kv/range.js';
import { Watch } from '../watch/watch.js';
import type { Namespace } from '../kv/namespace.js';
import { checkHost, type CoordinationHost } from '../lock/host.js';
import { checkWaitOptions, holdSession, type LeaseChoice, leaseHex, type SessionHold, WaitScope } from '../lock/session-scope.js';
import { waitDeleted } from '../lock/wait.js';
import { Compare } from '../txn/compare.js';
import { Op } from '../txn/op.js';

const EMPTY = Buffer.alloc(0);

/**
 * A double barrier (Go's `contrib/recipes` `DoubleBarrier`): `enter()` blocks until `count`
 * participants have entered, and `leave()` blocks until all of them have left. Each
 * participant's key under `<name>/waiters/` is on its session's lease, so one that dies is
 * removed and does not block the others forever.
 *
 * @remarks
 * One object is one participant: call `enter()` then `leave()`. The lease choice is as for
 * locks; by default `enter()` starts a session (60 s TTL) that `leave()` ends.
 *
 * @example
 * ```ts
 * const barrier = new DoubleBarrier(etcd, 'batch-7', 3);
 * await barrier.enter(); // all 3 are in
 * await compute();
 * await barrier.leave(); // all 3 are done
 * ```
 */
export class DoubleBarrier {
  /** The barrier name (the key prefix, relative to the view). */
  readonly name: Buffer;
  /** How many participants it waits for. */
  readonly count: number;
  readonly #view: CoordinationHost;
  readonly #choice: LeaseChoice | undefined;
  readonly #waiters: Buffer;
  readonly #ready: Buffer;
  #hold: SessionHold | undefined;
  #key: Buffer | undefined;

  /** A double barrier for `count` participants named `name` on a client or namespace view. */
  constructor(view: Namespace, name: Bytes, count: number, options?: LeaseChoice) {
    const source = 'new DoubleBarrier';
    this.#view = checkHost(view, source);
    this.name = toKey(name, 'name', source);
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new InvalidArgumentError('count', `expected a positive integer, got ${String(count)}`, { source });
    }
    this.count = count;
    checkWaitOptions(options, source);
    this.#choice = options;
    this.#waiters = Buffer.concat([this.name, Buffer.from('/waiters/')]);
    this.#ready = Buffer.concat([this.name, Buffer.from('/ready')]);
  }

  /**
   * Enters, and waits until `count` participants have entered.
   * @throws `InvalidArgumentError` when more than `count` participants entered (this one left
   * again) or this object already entered; `SessionExpiredError`, `CancelledError`,
   * `DeadlineExceededError`, after leaving again.
   */
  async enter(options?: CallOptions): Promise<void> {
    const source = 'DoubleBarrier.enter';
    checkCallOptions(options, source);
    if (this.#key !== undefined) throw new InvalidArgumentError('barrier', 'this participant already entered; leave() first', { source });
    const scope = new WaitScope(source, options);
    try {
      this.#hold = await holdSession(this.#view, this.#choice, scope);
      scope.watch(this.#hold.session);
      const lease = this.#hold.session.leaseId;
      const key = Buffer.concat([this.#waiters, Buffer.from(`${leaseHex(lease)}-${randomBytes(6).toString('hex')}`)]);
      this.#key = key;
      const entered = await this.#view.put(key, EMPTY, { lease, signal: scope.signal });
      const waiters = await this.#view.range(Range.key(this.#waiters).withPrefix().withCountOnly(), { signal: scope.signal });
      if (waiters.count > BigInt(this.count)) {
        throw new InvalidArgumentError('count', `more than ${this.count} participants entered`, { source });
      }
      if (waiters.count === BigInt(this.count)) {
        await this.#view.put(this.#ready, EMPTY, { signal: scope.signal });
        return;
      }
      const ready = this.#view.watch(Watch.key(this.#ready).withStartRevision(entered.header.revision).withNoDelete(), { signal: scope.signal });
      for await (const batch of ready) if (batch.events.length > 0) return;
      scope.check();
      throw new ClientClosedError({ source });
    } catch (error) {
      const failure = scope.failure(error);
      await this.quit();
      throw failure;
    } finally {
      scope.dispose();
    }
  }

  /**
   * Leaves, and waits until every participant has left. The oldest participant leaves last:
   * the others delete their key and wait for it; it waits for them and then takes the barrier
   * down for the next round.
   * @throws `InvalidArgumentError` when this participant has not entered; `CancelledError`,
   * `DeadlineExceededError` (this participant's key may then remain until its session ends).
   */
  async leave(options?: CallOptions): Promise<void> {
    const source = 'DoubleBarrier.leave';
    checkCallOptions(options, source);
    if (this.#key === undefined) throw new InvalidArgumentError('barrier', 'this participant has not entered; enter() first', { source });
    const scope = new WaitScope(source, options);
    try {
      for (;;) {
        scope.check();
        const result = await this.#view.range(Range.key(this.#waiters).withPrefix().withSort('createRevision', 'ascend'), { signal: scope.signal });
        const mine = this.#key === undefined ? undefined : result.kvs.find((kv) => kv.key.equals(this.#key!));
        const others = result.kvs.filter((kv) => kv !== mine);
        const lowest = result.kvs[0];
        if (others.length === 0 || lowest === undefined) {
          if (mine !== undefined) await this.#view.txn().then(Op.delete(this.#ready), Op.delete(mine.key)).commit({ signal: scope.signal });
          break;
        }
        if (lowest === mine) {
          await waitDeleted(this.#view, result.kvs.at(-1)!.key, result.header.revision, scope.signal);
          continue;
        }
        if (mine !== undefined) {
          await this.#view.txn().if(Compare.createRevision(mine.key).equals(mine.createRevision)).then(Op.delete(mine.key)).commit({ signal: scope.signal });
        }
        await waitDeleted(this.#view, lowest.key, result.header.revision, scope.signal);
      }
      await this.quit();
    } catch (error) {
      throw scope.failure(error);
    } finally {
      scope.dispose();
    }
  }

  /** Deletes this participant's key (if any) and ends a session started for it. */
  private async quit(): Promise<void> {
    const key = this.#key;
    const hold = this.#hold;
    this.#key = undefined;
    this.#hold = undefined;
    if (key !== undefined && hold?.origin !== 'granted') await this.#view.delete(key, { timeoutMs: 5_000 }).catch(() => undefined);
    await hold?.end();
  }
}
