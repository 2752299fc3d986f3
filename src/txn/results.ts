import { InternalError } from '../connection/errors.js';
import type { ResponseOp, TxnResponse } from '../generated/etcdserverpb/rpc.js';
import type { ResponseHeader } from '../kv/key-value.js';
import { toHeader } from '../kv/key-value.js';
import {
  type DeleteResult,
  type PutResult,
  type RangeResult,
  toDeleteResult,
  toPutResult,
  toRangeResult,
} from '../kv/results.js';
import type { Op, OpKind } from './op.js';

/** The result of one transaction operation, tagged with its kind. */
export type OpResult =
  | ({ kind: 'range' } & RangeResult)
  | ({ kind: 'put' } & PutResult)
  | ({ kind: 'delete' } & DeleteResult)
  | ({ kind: 'txn' } & TxnResult);

/** The result type of an operation of kind `K`. */
export type OpResultOf<K extends OpKind> = Extract<OpResult, { kind: K }>;

/** The results of a branch, position by position. */
export type ResultsOf<T extends readonly Op[]> = { -readonly [I in keyof T]: T[I] extends Op<infer K> ? OpResultOf<K> : OpResult };

/**
 * The result of a transaction: `succeeded` says which branch ran, and `responses` holds that
 * branch's results in order.
 */
export type TxnResult<Then extends readonly Op[] = Op[], Else extends readonly Op[] = Op[]> =
  | { succeeded: true; header: ResponseHeader; responses: ResultsOf<Then> }
  | { succeeded: false; header: ResponseHeader; responses: ResultsOf<Else> };

function toOpResult(raw: ResponseOp, strip: number): OpResult {
  const response = raw.response;
  // The fields listed out rather than spread: the same object, without a copy per operation.
  switch (response?.$case) {
    case 'responseRange': {
      const { header, kvs, more, count } = toRangeResult(response.responseRange, strip);
      return { kind: 'range', header, kvs, more, count };
    }
    case 'responsePut': {
      const { header, prevKv } = toPutResult(response.responsePut, strip);
      return { kind: 'put', header, prevKv };
    }
    case 'responseDeleteRange': {
      const { header, deleted, prevKvs } = toDeleteResult(response.responseDeleteRange, strip);
      return { kind: 'delete', header, deleted, prevKvs };
    }
    case 'responseTxn':
      return { kind: 'txn', ...toTxnResult(response.responseTxn, strip) };
    default:
      throw new InternalError('the server sent a transaction response of unknown kind', { source: 'KV.Txn' });
  }
}

/** @internal */
export function toTxnResult(raw: TxnResponse, strip: number): TxnResult {
  return {
    succeeded: raw.succeeded,
    header: toHeader(raw.header),
    responses: raw.responses.map((response) => toOpResult(response, strip)),
  };
}
