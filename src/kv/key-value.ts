import type Long from 'long';
import type { ResponseHeader as RawHeader } from '../generated/etcdserverpb/rpc.js';
import type { KeyValue as RawKeyValue } from '../generated/mvccpb/kv.js';
import { longToBigInt, optionalLongToBigInt } from '../encoding/int64.js';

/** The header of every response: which member answered, and the store revision it answered at. */
export interface ResponseHeader {
  /** ID of the cluster. */
  clusterId: bigint;
  /** ID of the member that answered. */
  memberId: bigint;
  /** The key-value store revision when the request was applied (or read). */
  revision: bigint;
  /** The raft term of the member when it answered. */
  raftTerm: bigint;
}

/** One key and its value, as stored at some revision. */
export class KeyValue {
  /** The key; inside a namespace view, without the namespace prefix. */
  readonly key: Buffer;
  /** The value (empty for keys-only reads). */
  readonly value: Buffer;
  /** Revision of the key's creation (its last creation, after a delete). */
  readonly createRevision: bigint;
  /** Revision of the key's last modification. */
  readonly modRevision: bigint;
  /** Number of modifications since creation; 1 after the first put. */
  readonly version: bigint;
  /** ID of the lease the key is attached to, or `0n`. */
  readonly lease: bigint;

  /** @internal */
  constructor(raw: RawKeyValue, key: Buffer) {
    this.key = key;
    this.value = raw.value;
    this.createRevision = longToBigInt(raw.createRevision);
    this.modRevision = longToBigInt(raw.modRevision);
    this.version = longToBigInt(raw.version);
    this.lease = longToBigInt(raw.lease);
  }

  /** The value decoded as text (UTF-8 unless told otherwise). */
  text(encoding: BufferEncoding = 'utf8'): string {
    return this.value.toString(encoding);
  }

  /** The key decoded as text (UTF-8 unless told otherwise). */
  keyText(encoding: BufferEncoding = 'utf8'): string {
    return this.key.toString(encoding);
  }

  /** The value parsed as JSON; throws the `SyntaxError` of `JSON.parse` if it is not JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.value.toString('utf8')) as T;
  }
}

const EMPTY_HEADER: ResponseHeader = Object.freeze({ clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n });

/**
 * The last ID converted, kept because every response of a member carries the same cluster and
 * member IDs: 64-bit values whose conversion to `bigint` costs several allocations each. A zero
 * ID (the headers of a transaction's operations carry none) leaves it alone, so that a
 * transaction's headers do not take turns replacing it.
 */
class IdCache {
  private low = 0;
  private high = 0;
  private unsigned = true;
  private value = 0n;

  toBigInt(raw: Long): bigint {
    if (raw.low === 0 && raw.high === 0) return 0n;
    if (raw.low !== this.low || raw.high !== this.high || raw.unsigned !== this.unsigned) {
      this.value = longToBigInt(raw);
      this.low = raw.low;
      this.high = raw.high;
      this.unsigned = raw.unsigned;
    }
    return this.value;
  }
}

const clusterIds = new IdCache();
const memberIds = new IdCache();

/** Converts a generated header; a missing one (some 3.4 replies omit it) becomes all zeros. */
export function toHeader(raw: RawHeader | undefined): ResponseHeader {
  if (raw === undefined) return EMPTY_HEADER;
  return {
    clusterId: clusterIds.toBigInt(raw.clusterId),
    memberId: memberIds.toBigInt(raw.memberId),
    revision: longToBigInt(raw.revision),
    raftTerm: optionalLongToBigInt(raw.raftTerm),
  };
}

/**
 * Converts a generated key-value, removing the first `stripPrefix` bytes of the key (the
 * namespace prefix; 0 outside a namespace).
 */
export function toKeyValue(raw: RawKeyValue, stripPrefix: number): KeyValue {
  return new KeyValue(raw, stripPrefix === 0 ? raw.key : raw.key.subarray(stripPrefix));
}

/** Converts an optional generated key-value. */
export function toOptionalKeyValue(raw: RawKeyValue | undefined, stripPrefix: number): KeyValue | undefined {
  return raw === undefined ? undefined : toKeyValue(raw, stripPrefix);
}
