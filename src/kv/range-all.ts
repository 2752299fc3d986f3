import type { CallOptions } from '../connection/call-options.js';
import { InvalidArgumentError } from '../connection/errors.js';
import { type RangeRequest, type RangeResponse, RangeRequest_SortOrder, RangeRequest_SortTarget } from '../generated/etcdserverpb/rpc.js';
import Long from 'long';
import { type KeyValue, toKeyValue } from './key-value.js';

/** Options of `rangeAll`. */
export interface RangeAllOptions extends CallOptions {
  /**
   * Keys fetched per request. Each page is its own call, with its own `timeoutMs`.
   * @defaultValue 1000
   */
  pageSize?: number;
}

const DEFAULT_PAGE_SIZE = 1000;
const NUL = Buffer.from([0]);

/**
 * Checks the paging options and the range before the first page is requested.
 * @internal
 */
export function checkRangeAll(request: RangeRequest, options: RangeAllOptions | undefined): number {
  const source = 'Etcd.rangeAll';
  const pageSize = options?.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw new InvalidArgumentError('options.pageSize', `expected a positive integer, got ${String(pageSize)}`, { source });
  }
  const keyOrder =
    request.sortOrder === RangeRequest_SortOrder.NONE ||
    (request.sortOrder === RangeRequest_SortOrder.ASCEND && request.sortTarget === RangeRequest_SortTarget.KEY);
  if (!keyOrder) {
    throw new InvalidArgumentError('range', 'rangeAll pages in ascending key order; remove withSort', { source });
  }
  if (request.countOnly) {
    throw new InvalidArgumentError('range', 'rangeAll returns keys; use range() for a count', { source });
  }
  return pageSize;
}

/**
 * Iterates every key of a range page by page, all pages read at one revision (the range's own,
 * or the revision of the first page), so the whole iteration is one consistent snapshot. The
 * range's limit, if any, caps the total. Fails with `CompactedError` if that revision is
 * compacted while iterating.
 * @internal
 */
export async function* rangeAll(
  send: (request: RangeRequest, options: CallOptions | undefined) => Promise<RangeResponse>,
  request: RangeRequest,
  pageSize: number,
  options: CallOptions | undefined,
  strip: number,
): AsyncGenerator<KeyValue, void, undefined> {
  let revision = request.revision;
  let key = request.key;
  let remaining = request.limit.isZero() ? Infinity : request.limit.toNumber();
  for (;;) {
    const limit = Math.min(pageSize, remaining);
    const page = await send({ ...request, key, revision, limit: Long.fromNumber(limit) }, options);
    if (revision.isZero() && page.header) revision = page.header.revision;
    for (const kv of page.kvs) yield toKeyValue(kv, strip);
    remaining -= page.kvs.length;
    if (!page.more || page.kvs.length === 0 || remaining <= 0 || request.rangeEnd.length === 0) return;
    key = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, NUL]);
  }
}
