import { EMPTY_BYTES, FROM_KEY_END, prefixEnd } from '../encoding/bytes.js';
import type {
  Compare,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '../generated/etcdserverpb/rpc.js';
import type { KeyRangeFields } from './key-range-builder.js';

/**
 * Where a view's keys live: the root keyspace, or everything under a prefix. Requests are
 * rewritten on the way out (keys prefixed, open range ends closed at the prefix's end) and
 * results are stripped of the prefix on the way back (`strip` bytes).
 * @internal
 */
export class KeySpace {
  /** The whole keyspace, where nothing is rewritten. */
  static readonly root = new KeySpace(EMPTY_BYTES);

  /** How many bytes to remove from the front of keys in results. */
  readonly strip: number;
  private readonly end: Buffer;

  private constructor(readonly prefix: Buffer) {
    this.strip = prefix.length;
    this.end = prefix.length === 0 ? FROM_KEY_END : prefixEnd(prefix);
  }

  /** The key space under `prefix` inside this one. */
  child(prefix: Buffer): KeySpace {
    return new KeySpace(Buffer.concat([this.prefix, prefix]));
  }

  /** Whether requests are rewritten at all. */
  get isRoot(): boolean {
    return this.strip === 0;
  }

  /** A key of this space as the server knows it. */
  key(key: Buffer): Buffer {
    return this.strip === 0 ? key : Buffer.concat([this.prefix, key]);
  }

  /** A key the server returned, as this space shows it. */
  unkey(key: Buffer): Buffer {
    return this.strip === 0 ? key : key.subarray(this.strip);
  }

  /** Rewrites a key or key range. "All keys" (`\0`..`\0`) and "from key" become bounded by the prefix. */
  range<R extends KeyRangeFields>(request: R): R {
    if (this.strip === 0) return request;
    const { key, rangeEnd } = request;
    const allKeys = key.length === 1 && key[0] === 0 && rangeEnd.length === 1 && rangeEnd[0] === 0;
    const toEnd = rangeEnd.length === 1 && rangeEnd[0] === 0;
    return {
      ...request,
      key: allKeys ? this.prefix : this.key(key),
      rangeEnd: rangeEnd.length === 0 ? rangeEnd : toEnd ? this.end : this.key(rangeEnd),
    };
  }

  /** Rewrites a range request. */
  rangeRequest(request: RangeRequest): RangeRequest {
    return this.range(request);
  }

  /** Rewrites a delete request. */
  deleteRequest(request: DeleteRangeRequest): DeleteRangeRequest {
    return this.range(request);
  }

  /** Rewrites a put request. */
  putRequest(request: PutRequest): PutRequest {
    return this.strip === 0 ? request : { ...request, key: this.key(request.key) };
  }

  /** Rewrites a comparison. */
  compare(compare: Compare): Compare {
    return this.range(compare);
  }

  /** Rewrites a transaction, nested ones included. */
  txnRequest(request: TxnRequest): TxnRequest {
    if (this.strip === 0) return request;
    return {
      compare: request.compare.map((compare) => this.compare(compare)),
      success: request.success.map((op) => this.requestOp(op)),
      failure: request.failure.map((op) => this.requestOp(op)),
    };
  }

  private requestOp(op: RequestOp): RequestOp {
    const request = op.request;
    switch (request?.$case) {
      case 'requestRange':
        return { request: { $case: 'requestRange', requestRange: this.rangeRequest(request.requestRange) } };
      case 'requestPut':
        return { request: { $case: 'requestPut', requestPut: this.putRequest(request.requestPut) } };
      case 'requestDeleteRange':
        return {
          request: { $case: 'requestDeleteRange', requestDeleteRange: this.deleteRequest(request.requestDeleteRange) },
        };
      case 'requestTxn':
        return { request: { $case: 'requestTxn', requestTxn: this.txnRequest(request.requestTxn) } };
      default:
        return op;
    }
  }
}
