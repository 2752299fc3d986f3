import type { CallOptions } from '../connection/call-options.js';
import { InvalidArgumentError, TxnNotCommittedError } from '../connection/errors.js';
import type { RequestOp, TxnRequest } from '../generated/etcdserverpb/rpc.js';
import { Compare } from './compare.js';
import { Op } from './op.js';
import type { TxnResult } from './results.js';

/** Sends a transaction request; supplied by the client (or namespace view) that made the builder. @internal */
export type TxnCommitter = (request: TxnRequest, options: CallOptions | undefined) => Promise<TxnResult>;

function checkAll(values: unknown[], isValid: (value: unknown) => boolean, expected: string, source: string): void {
  for (let index = 0; index < values.length; index++) {
    if (!isValid(values[index])) throw new InvalidArgumentError(`[${index}]`, `expected ${expected}`, { source });
  }
}

const isCompare = (value: unknown): boolean => value instanceof Compare;
const isOp = (value: unknown): boolean => value instanceof Op;
/** The generated message of a comparison or an operation. */
function requestOf<R>(part: { toRequest(): R }): R {
  return part.toRequest();
}

/** The empty branch or condition list every new transaction starts with (frozen, so shared). */
const NONE: readonly never[] = Object.freeze([]);

/**
 * An immutable transaction: `if` all comparisons hold, run the `then` operations, otherwise the
 * `else` operations, atomically at one revision. Get one bound to a client with `etcd.txn()`
 * and send it with {@link Txn.commit}; build an unbound one with {@link Txn.if} to nest it with
 * `Op.txn`.
 *
 * @remarks
 * The builder is not a promise: awaiting it without `commit()` rejects with
 * {@link TxnNotCommittedError} instead of hanging or silently sending it.
 *
 * @example
 * ```ts
 * const r = await etcd.txn()
 *   .if(Compare.modRevision('k').equals(rev))
 *   .then(Op.put('k', 'v2'), Op.get('k'))
 *   .else(Op.get('k'))
 *   .commit();
 * if (r.succeeded) r.responses[1].kvs[0]?.text();
 * ```
 */
export class Txn<Then extends readonly Op[] = [], Else extends readonly Op[] = []> {
  private readonly compares: readonly Compare[];
  private readonly success: readonly Op[];
  private readonly failure: readonly Op[];
  private readonly committer: TxnCommitter | undefined;

  /** @internal */
  constructor(
    committer?: TxnCommitter,
    compares: readonly Compare[] = NONE,
    success: readonly Op[] = NONE,
    failure: readonly Op[] = NONE,
  ) {
    // Not frozen: each list is made for this transaction (a copy or a rest parameter) and only
    // ever read, and freezing twelve arrays per transaction showed in the benchmark.
    this.committer = committer;
    this.compares = compares;
    this.success = success;
    this.failure = failure;
  }

  /** An unbound transaction, for nesting with `Op.txn` or for `etcd.txn(txn)`. */
  static if(...compares: Compare[]): Txn {
    return new Txn().if(...compares);
  }

  /** Adds conditions; all must hold for the `then` branch to run. */
  if(...compares: Compare[]): Txn<Then, Else> {
    checkAll(compares, isCompare, 'a Compare (Compare.value(key).equals(...))', 'Txn.if');
    return new Txn(this.committer, [...this.compares, ...compares], this.success, this.failure);
  }

  /** Sets the operations run when every condition holds. */
  then<T extends Op[]>(...ops: T): Txn<T, Else> {
    if (typeof ops[0] === 'function' || typeof ops[1] === 'function') {
      // `await txn` calls then(resolve, reject): refuse loudly rather than hang or send.
      const reject = ops[1] as unknown as ((reason: unknown) => void) | undefined;
      reject?.(new TxnNotCommittedError({ source: 'Txn' }));
      return this as unknown as Txn<T, Else>;
    }
    checkAll(ops, isOp, 'an Op (Op.put, Op.get, Op.delete, Op.txn)', 'Txn.then');
    return new Txn(this.committer, this.compares, ops, this.failure);
  }

  /** Sets the operations run when a condition fails. */
  else<E extends Op[]>(...ops: E): Txn<Then, E> {
    checkAll(ops, isOp, 'an Op (Op.put, Op.get, Op.delete, Op.txn)', 'Txn.else');
    return new Txn(this.committer, this.compares, this.success, ops);
  }

  /** Sends the transaction. Not retried automatically when it has writes (see `EtcdError.maybeApplied`). */
  commit(options?: CallOptions): Promise<TxnResult<Then, Else>> {
    if (this.committer === undefined) {
      return Promise.reject(
        new InvalidArgumentError('txn', 'this transaction is not bound to a client; send it with etcd.txn(txn).commit()', {
          source: 'Txn.commit',
        }),
      );
    }
    return this.committer(this.toRequest(), options) as Promise<TxnResult<Then, Else>>;
  }

  /** Whether any branch writes (put, delete, or a nested transaction that writes). */
  get hasWrites(): boolean {
    return hasWrites(this.toRequest());
  }

  /** A copy of this transaction bound to another committer. @internal */
  bind(committer: TxnCommitter): Txn<Then, Else> {
    return new Txn(committer, this.compares, this.success, this.failure);
  }

  /** The generated message. @internal */
  toRequest(): TxnRequest {
    return { compare: this.compares.map(requestOf), success: this.success.map(requestOf), failure: this.failure.map(requestOf) };
  }
}

/** Whether a transaction request contains a write in any branch. @internal */
export function hasWrites(request: TxnRequest): boolean {
  return branchWrites(request.success) || branchWrites(request.failure);
}

function branchWrites(ops: readonly RequestOp[]): boolean {
  for (const op of ops) {
    const kind = op.request?.$case;
    if (kind === 'requestPut' || kind === 'requestDeleteRange') return true;
    if (kind === 'requestTxn' && hasWrites(op.request!.requestTxn)) return true;
  }
  return false;
}
