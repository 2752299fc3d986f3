import { longToBigInt } from '../encoding/int64.js';
import type {
  CompactionResponse,
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
} from '../generated/etcdserverpb/rpc.js';
import { type KeyValue, type ResponseHeader, toHeader, toKeyValue, toOptionalKeyValue } from './key-value.js';

/** The result of a range read. */
export interface RangeResult {
  /** The response header; `header.revision` is the revision the read saw. */
  header: ResponseHeader;
  /** The keys read, in the requested order (empty for count-only reads). */
  kvs: KeyValue[];
  /** Whether more keys matched than the limit let through. */
  more: boolean;
  /** How many keys matched in all, regardless of the limit. */
  count: bigint;
}

/** The result of a put. */
export interface PutResult {
  /** The response header; `header.revision` is the revision of this write. */
  header: ResponseHeader;
  /** The previous key-value, when asked for with `withPrevKv` and the key existed. */
  prevKv: KeyValue | undefined;
}

/** The result of a delete. */
export interface DeleteResult {
  /** The response header; `header.revision` is the revision of this write. */
  header: ResponseHeader;
  /** How many keys were deleted. */
  deleted: bigint;
  /** The deleted key-values, when asked for with `withPrevKv`. */
  prevKvs: KeyValue[];
}

/** The result of a compaction. */
export interface CompactResult {
  /** The response header. */
  header: ResponseHeader;
}

/** @internal */
export function toRangeResult(raw: RangeResponse, strip: number): RangeResult {
  const kvs = new Array<KeyValue>(raw.kvs.length);
  for (let i = 0; i < kvs.length; i++) kvs[i] = toKeyValue(raw.kvs[i]!, strip);
  return { header: toHeader(raw.header), kvs, more: raw.more, count: longToBigInt(raw.count) };
}

/** @internal */
export function toPutResult(raw: PutResponse, strip: number): PutResult {
  return { header: toHeader(raw.header), prevKv: toOptionalKeyValue(raw.prevKv, strip) };
}

/** @internal */
export function toDeleteResult(raw: DeleteRangeResponse, strip: number): DeleteResult {
  return {
    header: toHeader(raw.header),
    deleted: longToBigInt(raw.deleted),
    prevKvs: raw.prevKvs.map((kv) => toKeyValue(kv, strip)),
  };
}

/** @internal */
export function toCompactResult(raw: CompactionResponse): CompactResult {
  return { header: toHeader(raw.header) };
}
