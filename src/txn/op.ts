import type { Bytes } from '../encoding/bytes.js';
import type { RequestOp } from '../generated/etcdserverpb/rpc.js';
import { Delete } from '../kv/delete.js';
import { type Put, type PutOptions, toPut } from '../kv/put.js';
import { Range } from '../kv/range.js';
import type { Txn } from './txn.js';

/** The kinds of operation a transaction branch can hold. */
export type OpKind = 'range' | 'put' | 'delete' | 'txn';

/**
 * One operation of a transaction branch. `K` records its kind, so the branch's results are
 * typed position by position.
 *
 * @example
 * ```ts
 * etcd.txn().if(Compare.missing('k')).then(Op.put('k', 'v'), Op.get('k')).else(Op.get('k'));
 * ```
 */
export class Op<K extends OpKind = OpKind> {
  /** The kind of operation. */
  readonly kind: K;
  private readonly request: Readonly<RequestOp>;

  private constructor(kind: K, request: RequestOp) {
    this.kind = kind;
    this.request = Object.freeze(request);
  }

  /** A read of one key, or of whatever a {@link Range} selects. */
  static get(key: Bytes | Range): Op<'range'> {
    const range = key instanceof Range ? key : Range.key(key);
    return new Op('range', { request: { $case: 'requestRange', requestRange: range.toRequest() } });
  }

  /** A read described by a {@link Range}; the same as {@link Op.get} with a builder. */
  static range(range: Range): Op<'range'> {
    return Op.get(range);
  }

  /** A put of `value` at `key`, or of a {@link Put} builder. */
  static put(key: Bytes | Put, value?: Bytes, options?: PutOptions): Op<'put'> {
    return new Op('put', { request: { $case: 'requestPut', requestPut: toPut(key, value, options).toRequest() } });
  }

  /** A delete of one key, or of whatever a {@link Delete} selects. */
  static delete(key: Bytes | Delete): Op<'delete'> {
    const del = key instanceof Delete ? key : Delete.key(key);
    return new Op('delete', { request: { $case: 'requestDeleteRange', requestDeleteRange: del.toRequest() } });
  }

  /** A nested transaction (built with `Txn.if(...)` or `etcd.txn()`). */
  static txn(txn: Txn<Op[], Op[]>): Op<'txn'> {
    return new Op('txn', { request: { $case: 'requestTxn', requestTxn: txn.toRequest() } });
  }

  /** The generated message. @internal */
  toRequest(): Readonly<RequestOp> {
    return this.request;
  }
}
