/**
 * Hand-written codecs for the messages on the hot paths (put, range, delete, txn, watch events,
 * keep-alives), used instead of the generated ones by {@link fastRpcMethod}.
 *
 * The generated ts-proto code writes every int64 through `Long.toString()` and reads it back
 * through a string (`Long.fromString(reader.int64().toString())`), and encodes through a
 * `BinaryWriter` that grows chunk lists; on a put that was most of the client's own CPU time.
 * These codecs work on the bits instead, and must stay interchangeable with the generated ones:
 *
 * - an encoder produces exactly the bytes of the generated encoder for every message
 *   (test/unit/fast-codec.test.ts compares them on many random messages);
 * - a decoder produces an object deep-equal to the generated decoder's (same fields, same
 *   `Long` signedness, fresh `Buffer` copies for bytes). Anything off the common path (a
 *   malformed or truncated message, a group, an over-long varint, a string field, a nested
 *   transaction) abandons the fast path, and the generated decoder decodes the message
 *   instead, so even its errors are the generated ones.
 *
 * @internal
 */
import Long from 'long';
import {
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  DeleteRangeResponse as DeleteRangeResponseCodec,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  LeaseKeepAliveResponse as LeaseKeepAliveResponseCodec,
  type PutRequest,
  type PutResponse,
  PutResponse as PutResponseCodec,
  type RangeRequest,
  type RangeResponse,
  RangeResponse as RangeResponseCodec,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
  TxnResponse as TxnResponseCodec,
  type WatchResponse,
  WatchResponse as WatchResponseCodec,
} from '../generated/etcdserverpb/rpc.js';
import type { Event, KeyValue } from '../generated/mvccpb/kv.js';

// --- encoding ------------------------------------------------------------------------------------

/** Bytes of `value` (0 ≤ value < 2^32) as a varint. */
function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Bytes of the 64 bits of `value` as a varint (what `int64`/`uint64` fields take). */
function longSize(value: Long): number {
  const high = value.high >>> 0;
  if (high === 0) return varintSize(value.low >>> 0);
  return high < 0x8 ? 5 : high < 0x400 ? 6 : high < 0x20000 ? 7 : high < 0x1000000 ? 8 : high < 0x80000000 ? 9 : 10;
}

/** Bytes of an `int32` field's value: negative values take ten bytes (sign-extended to 64 bits). */
function int32Size(value: number): number {
  return value >= 0 ? varintSize(value) : 10;
}

function isZero(value: Long): boolean {
  return value.low === 0 && value.high === 0;
}

function bytesSize(length: number): number {
  return varintSize(length) + length;
}

function writeVarint(out: Buffer, pos: number, value: number): number {
  let v = value >>> 0;
  while (v > 0x7f) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}

function writeVarint64(out: Buffer, pos: number, low: number, high: number): number {
  let lo = low >>> 0;
  let hi = high >>> 0;
  while (hi !== 0 || lo > 0x7f) {
    out[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[pos++] = lo;
  return pos;
}

function writeLong(out: Buffer, pos: number, value: Long): number {
  return writeVarint64(out, pos, value.low, value.high);
}

function writeInt32(out: Buffer, pos: number, value: number): number {
  return value >= 0 ? writeVarint(out, pos, value) : writeVarint64(out, pos, value, -1);
}

function writeBytes(out: Buffer, pos: number, bytes: Uint8Array): number {
  pos = writeVarint(out, pos, bytes.length);
  out.set(bytes, pos);
  return pos + bytes.length;
}

/** Sizes and writers of each message, field by field in the generated encoders' order. */
function putRequestSize(m: PutRequest): number {
  let size = 0;
  if (m.key.length !== 0) size += 1 + bytesSize(m.key.length);
  if (m.value.length !== 0) size += 1 + bytesSize(m.value.length);
  if (!isZero(m.lease)) size += 1 + longSize(m.lease);
  if (m.prevKv) size += 2;
  if (m.ignoreValue) size += 2;
  if (m.ignoreLease) size += 2;
  return size;
}

function writePutRequest(out: Buffer, pos: number, m: PutRequest): number {
  if (m.key.length !== 0) {
    out[pos++] = 10;
    pos = writeBytes(out, pos, m.key);
  }
  if (m.value.length !== 0) {
    out[pos++] = 18;
    pos = writeBytes(out, pos, m.value);
  }
  if (!isZero(m.lease)) {
    out[pos++] = 24;
    pos = writeLong(out, pos, m.lease);
  }
  if (m.prevKv) {
    out[pos++] = 32;
    out[pos++] = 1;
  }
  if (m.ignoreValue) {
    out[pos++] = 40;
    out[pos++] = 1;
  }
  if (m.ignoreLease) {
    out[pos++] = 48;
    out[pos++] = 1;
  }
  return pos;
}

function rangeRequestSize(m: RangeRequest): number {
  let size = 0;
  if (m.key.length !== 0) size += 1 + bytesSize(m.key.length);
  if (m.rangeEnd.length !== 0) size += 1 + bytesSize(m.rangeEnd.length);
  if (!isZero(m.limit)) size += 1 + longSize(m.limit);
  if (!isZero(m.revision)) size += 1 + longSize(m.revision);
  if ((m.sortOrder as number) !== 0) size += 1 + int32Size(m.sortOrder);
  if ((m.sortTarget as number) !== 0) size += 1 + int32Size(m.sortTarget);
  if (m.serializable) size += 2;
  if (m.keysOnly) size += 2;
  if (m.countOnly) size += 2;
  if (!isZero(m.minModRevision)) size += 1 + longSize(m.minModRevision);
  if (!isZero(m.maxModRevision)) size += 1 + longSize(m.maxModRevision);
  if (!isZero(m.minCreateRevision)) size += 1 + longSize(m.minCreateRevision);
  if (!isZero(m.maxCreateRevision)) size += 1 + longSize(m.maxCreateRevision);
  return size;
}

function writeRangeRequest(out: Buffer, pos: number, m: RangeRequest): number {
  if (m.key.length !== 0) {
    out[pos++] = 10;
    pos = writeBytes(out, pos, m.key);
  }
  if (m.rangeEnd.length !== 0) {
    out[pos++] = 18;
    pos = writeBytes(out, pos, m.rangeEnd);
  }
  if (!isZero(m.limit)) {
    out[pos++] = 24;
    pos = writeLong(out, pos, m.limit);
  }
  if (!isZero(m.revision)) {
    out[pos++] = 32;
    pos = writeLong(out, pos, m.revision);
  }
  if ((m.sortOrder as number) !== 0) {
    out[pos++] = 40;
    pos = writeInt32(out, pos, m.sortOrder);
  }
  if ((m.sortTarget as number) !== 0) {
    out[pos++] = 48;
    pos = writeInt32(out, pos, m.sortTarget);
  }
  if (m.serializable) {
    out[pos++] = 56;
    out[pos++] = 1;
  }
  if (m.keysOnly) {
    out[pos++] = 64;
    out[pos++] = 1;
  }
  if (m.countOnly) {
    out[pos++] = 72;
    out[pos++] = 1;
  }
  if (!isZero(m.minModRevision)) {
    out[pos++] = 80;
    pos = writeLong(out, pos, m.minModRevision);
  }
  if (!isZero(m.maxModRevision)) {
    out[pos++] = 88;
    pos = writeLong(out, pos, m.maxModRevision);
  }
  if (!isZero(m.minCreateRevision)) {
    out[pos++] = 96;
    pos = writeLong(out, pos, m.minCreateRevision);
  }
  if (!isZero(m.maxCreateRevision)) {
    out[pos++] = 104;
    pos = writeLong(out, pos, m.maxCreateRevision);
  }
  return pos;
}

function deleteRangeRequestSize(m: DeleteRangeRequest): number {
  let size = 0;
  if (m.key.length !== 0) size += 1 + bytesSize(m.key.length);
  if (m.rangeEnd.length !== 0) size += 1 + bytesSize(m.rangeEnd.length);
  if (m.prevKv) size += 2;
  return size;
}

function writeDeleteRangeRequest(out: Buffer, pos: number, m: DeleteRangeRequest): number {
  if (m.key.length !== 0) {
    out[pos++] = 10;
    pos = writeBytes(out, pos, m.key);
  }
  if (m.rangeEnd.length !== 0) {
    out[pos++] = 18;
    pos = writeBytes(out, pos, m.rangeEnd);
  }
  if (m.prevKv) {
    out[pos++] = 24;
    out[pos++] = 1;
  }
  return pos;
}

function compareSize(m: Compare): number {
  let size = 0;
  if ((m.result as number) !== 0) size += 1 + int32Size(m.result);
  if ((m.target as number) !== 0) size += 1 + int32Size(m.target);
  if (m.key.length !== 0) size += 1 + bytesSize(m.key.length);
  const union = m.targetUnion;
  switch (union?.$case) {
    case 'version':
      size += 1 + longSize(union.version);
      break;
    case 'createRevision':
      size += 1 + longSize(union.createRevision);
      break;
    case 'modRevision':
      size += 1 + longSize(union.modRevision);
      break;
    case 'value':
      size += 1 + bytesSize(union.value.length);
      break;
    case 'lease':
      size += 1 + longSize(union.lease);
      break;
  }
  // range_end is field 64: a two-byte tag.
  if (m.rangeEnd.length !== 0) size += 2 + bytesSize(m.rangeEnd.length);
  return size;
}

function writeCompare(out: Buffer, pos: number, m: Compare): number {
  if ((m.result as number) !== 0) {
    out[pos++] = 8;
    pos = writeInt32(out, pos, m.result);
  }
  if ((m.target as number) !== 0) {
    out[pos++] = 16;
    pos = writeInt32(out, pos, m.target);
  }
  if (m.key.length !== 0) {
    out[pos++] = 26;
    pos = writeBytes(out, pos, m.key);
  }
  const union = m.targetUnion;
  switch (union?.$case) {
    case 'version':
      out[pos++] = 32;
      pos = writeLong(out, pos, union.version);
      break;
    case 'createRevision':
      out[pos++] = 40;
      pos = writeLong(out, pos, union.createRevision);
      break;
    case 'modRevision':
      out[pos++] = 48;
      pos = writeLong(out, pos, union.modRevision);
      break;
    case 'value':
      out[pos++] = 58;
      pos = writeBytes(out, pos, union.value);
      break;
    case 'lease':
      out[pos++] = 64;
      pos = writeLong(out, pos, union.lease);
      break;
  }
  if (m.rangeEnd.length !== 0) {
    out[pos++] = 0x82;
    out[pos++] = 0x04;
    pos = writeBytes(out, pos, m.rangeEnd);
  }
  return pos;
}

function requestOpSize(m: RequestOp): number {
  const request = m.request;
  switch (request?.$case) {
    case 'requestRange':
      return 1 + bytesSize(rangeRequestSize(request.requestRange));
    case 'requestPut':
      return 1 + bytesSize(putRequestSize(request.requestPut));
    case 'requestDeleteRange':
      return 1 + bytesSize(deleteRangeRequestSize(request.requestDeleteRange));
    case 'requestTxn':
      return 1 + bytesSize(txnRequestSize(request.requestTxn));
    default:
      return 0;
  }
}

function writeRequestOp(out: Buffer, pos: number, m: RequestOp): number {
  const request = m.request;
  switch (request?.$case) {
    case 'requestRange':
      out[pos++] = 10;
      pos = writeVarint(out, pos, rangeRequestSize(request.requestRange));
      return writeRangeRequest(out, pos, request.requestRange);
    case 'requestPut':
      out[pos++] = 18;
      pos = writeVarint(out, pos, putRequestSize(request.requestPut));
      return writePutRequest(out, pos, request.requestPut);
    case 'requestDeleteRange':
      out[pos++] = 26;
      pos = writeVarint(out, pos, deleteRangeRequestSize(request.requestDeleteRange));
      return writeDeleteRangeRequest(out, pos, request.requestDeleteRange);
    case 'requestTxn':
      out[pos++] = 34;
      pos = writeVarint(out, pos, txnRequestSize(request.requestTxn));
      return writeTxnRequest(out, pos, request.requestTxn);
    default:
      return pos;
  }
}

function txnRequestSize(m: TxnRequest): number {
  let size = 0;
  for (const compare of m.compare) size += 1 + bytesSize(compareSize(compare));
  for (const op of m.success) size += 1 + bytesSize(requestOpSize(op));
  for (const op of m.failure) size += 1 + bytesSize(requestOpSize(op));
  return size;
}

function writeTxnRequest(out: Buffer, pos: number, m: TxnRequest): number {
  for (const compare of m.compare) {
    out[pos++] = 10;
    pos = writeVarint(out, pos, compareSize(compare));
    pos = writeCompare(out, pos, compare);
  }
  for (const op of m.success) {
    out[pos++] = 18;
    pos = writeVarint(out, pos, requestOpSize(op));
    pos = writeRequestOp(out, pos, op);
  }
  for (const op of m.failure) {
    out[pos++] = 26;
    pos = writeVarint(out, pos, requestOpSize(op));
    pos = writeRequestOp(out, pos, op);
  }
  return pos;
}

function leaseKeepAliveRequestSize(m: LeaseKeepAliveRequest): number {
  return isZero(m.ID) ? 0 : 1 + longSize(m.ID);
}

function writeLeaseKeepAliveRequest(out: Buffer, pos: number, m: LeaseKeepAliveRequest): number {
  if (isZero(m.ID)) return pos;
  out[pos++] = 8;
  return writeLong(out, pos, m.ID);
}

function encoder<T>(size: (message: T) => number, write: (out: Buffer, pos: number, message: T) => number): (message: T) => Buffer {
  return (message) => {
    const out = Buffer.allocUnsafe(size(message));
    write(out, 0, message);
    return out;
  };
}

/** Encoders that produce the generated encoders' bytes. */
export const encodePutRequest: (message: PutRequest) => Buffer = encoder(putRequestSize, writePutRequest);
export const encodeRangeRequest: (message: RangeRequest) => Buffer = encoder(rangeRequestSize, writeRangeRequest);
export const encodeDeleteRangeRequest: (message: DeleteRangeRequest) => Buffer = encoder(deleteRangeRequestSize, writeDeleteRangeRequest);
export const encodeTxnRequest: (message: TxnRequest) => Buffer = encoder(txnRequestSize, writeTxnRequest);
export const encodeLeaseKeepAliveRequest: (message: LeaseKeepAliveRequest) => Buffer = encoder(
  leaseKeepAliveRequestSize,
  writeLeaseKeepAliveRequest,
);

// --- decoding ------------------------------------------------------------------------------------

/** Thrown (never escapes) to hand a message to the generated decoder; made once, so throwing it is cheap. */
const FALLBACK = new Error('etcdkit: message left to the generated decoder');
const NO_BYTES = new Uint8Array(0);

// The message being decoded and the read position: decoding is synchronous and not re-entrant.
let buf: Uint8Array = NO_BYTES;
let pos = 0;
// The last int64 read, as the generated reader keeps it: two signed 32-bit halves.
let lo = 0;
let hi = 0;

/** A varint of up to 4 bytes (tags, lengths, enums); anything longer goes to the generated decoder. */
function readVarint32(end: number): number {
  if (pos >= end) throw FALLBACK;
  let b = buf[pos++]!;
  if (b < 0x80) return b;
  let result = b & 0x7f;
  for (let shift = 7; shift < 28; shift += 7) {
    if (pos >= end) throw FALLBACK;
    b = buf[pos++]!;
    result |= (b & 0x7f) << shift;
    if (b < 0x80) return result;
  }
  throw FALLBACK;
}

/** A 64-bit varint into `lo`/`hi`, exactly as @bufbuild/protobuf's `varint64read` splits it. */
function readVarint64(end: number): void {
  let b: number;
  lo = 0;
  hi = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw FALLBACK;
    b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) return;
  }
  if (pos >= end) throw FALLBACK;
  b = buf[pos++]!;
  lo |= (b & 0x0f) << 28;
  hi = (b & 0x70) >> 4;
  if (b < 0x80) return;
  for (let shift = 3; shift <= 31; shift += 7) {
    if (pos >= end) throw FALLBACK;
    b = buf[pos++]!;
    hi |= (b & 0x7f) << shift;
    if (b < 0x80) return;
  }
  throw FALLBACK;
}

function readLong(end: number, unsigned: boolean): Long {
  readVarint64(end);
  return Long.fromBits(lo, hi, unsigned);
}

function readBool(end: number): boolean {
  readVarint64(end);
  return lo !== 0 || hi !== 0;
}

/**
 * A bytes field, copied out of the message (as the generated decoder does) into a Buffer of its
 * own, so that a kept key or value does not keep the whole message alive.
 */
function readBytes(end: number): Buffer {
  const length = readVarint32(end);
  const start = pos;
  pos += length;
  if (pos > end) throw FALLBACK;
  if (length === 0) return EMPTY;
  const copy = Buffer.allocUnsafe(length);
  // A short field (most keys) is copied byte by byte: twice as fast as a native copy through
  // a view of the message, which costs more to set up than the copy itself.
  if (length <= SHORT_FIELD) {
    for (let i = 0; i < length; i++) copy[i] = buf[start + i]!;
  } else {
    copy.set(buf.subarray(start, pos));
  }
  return copy;
}

/** The longest field copied byte by byte; see {@link readBytes}. */
const SHORT_FIELD = 64;

/** The end of an embedded message that starts here (after its length). */
function readEnd(end: number): number {
  const length = readVarint32(end);
  const subEnd = pos + length;
  if (subEnd > end) throw FALLBACK;
  return subEnd;
}

/** Skips an unknown field as the generated decoder does; groups and invalid wire types fall back. */
function skip(tag: number, end: number): void {
  switch (tag & 7) {
    case 0:
      readVarint64(end);
      return;
    case 1:
      pos += 8;
      break;
    case 2: {
      // Not `pos += readVarint32(end)`: that adds to the position from before the length was read.
      const length = readVarint32(end);
      pos += length;
      break;
    }
    case 5:
      pos += 4;
      break;
    default:
      throw FALLBACK;
  }
  if (pos > end) throw FALLBACK;
}

/** Reads a tag; a zero tag (which ends the generated decoder's loop) falls back. */
function readTag(end: number): number {
  const tag = readVarint32(end);
  if (tag === 0) throw FALLBACK;
  return tag;
}

/**
 * The cluster and member IDs of the last header read. Every response of a member carries the
 * same two, so the `Long`s (immutable) are shared rather than made anew for each response.
 */
let lastClusterId = Long.UZERO;
let lastMemberId = Long.UZERO;

function readId(end: number, last: Long): Long {
  readVarint64(end);
  return lo === last.low && hi === last.high ? last : Long.fromBits(lo, hi, true);
}

function decodeHeader(end: number): ResponseHeader {
  let clusterId = Long.UZERO;
  let memberId = Long.UZERO;
  let revision = Long.ZERO;
  let raftTerm = Long.UZERO;
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 8:
        clusterId = lastClusterId = readId(end, lastClusterId);
        break;
      case 16:
        memberId = lastMemberId = readId(end, lastMemberId);
        break;
      case 24:
        revision = readLong(end, false);
        break;
      case 32:
        raftTerm = readLong(end, true);
        break;
      default:
        skip(tag, end);
    }
  }
  return { clusterId, memberId, revision, raftTerm };
}

const EMPTY: Buffer = Buffer.alloc(0);

function decodeKeyValue(end: number): KeyValue {
  let key: Buffer = EMPTY;
  let createRevision = Long.ZERO;
  let modRevision = Long.ZERO;
  let version = Long.ZERO;
  let value: Buffer = EMPTY;
  let lease = Long.ZERO;
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 10:
        key = readBytes(end);
        break;
      case 16:
        createRevision = readLong(end, false);
        break;
      case 24:
        modRevision = readLong(end, false);
        break;
      case 32:
        version = readLong(end, false);
        break;
      case 42:
        value = readBytes(end);
        break;
      case 48:
        lease = readLong(end, false);
        break;
      default:
        skip(tag, end);
    }
  }
  return { key, createRevision, modRevision, version, value, lease };
}

function decodeRangeResponse(end: number): RangeResponse {
  const message: RangeResponse = { header: undefined, kvs: [], more: false, count: Long.ZERO };
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 10:
        message.header = decodeHeader(readEnd(end));
        break;
      case 18:
        message.kvs.push(decodeKeyValue(readEnd(end)));
        break;
      case 24:
        message.more = readBool(end);
        break;
      case 32:
        message.count = readLong(end, false);
        break;
      default:
        skip(tag, end);
    }
  }
  return message;
}

function decodePutResponse(end: number): PutResponse {
  const message: PutResponse = { header: undefined, prevKv: undefined };
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 10:
        message.header = decodeHeader(readEnd(end));
        break;
      case 18:
        message.prevKv = decodeKeyValue(readEnd(end));
        break;
      default:
        skip(tag, end);
    }
  }
  return message;
}

function decodeDeleteRangeResponse(end: number): DeleteRangeResponse {
  const message: DeleteRangeResponse = { header: undefined, deleted: Long.ZERO, prevKvs: [] };
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 10:
        message.header = decodeHeader(readEnd(end));
        break;
      case 16:
        message.deleted = readLong(end, false);
        break;
      case 26:
        message.prevKvs.push(decodeKeyValue(readEnd(end)));
        break;
      default:
        skip(tag, end);
    }
  }
  return message;
}

function decodeResponseOp(end: number): ResponseOp {
  const message: ResponseOp = { response: undefined };
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 10:
        message.response = { $case: 'responseRange', responseRange: decodeRangeResponse(readEnd(end)) };
        break;
      case 18:
        message.response = { $case: 'responsePut', responsePut: decodePutResponse(readEnd(end)) };
        break;
      case 26:
        message.response = { $case: 'responseDeleteRange', responseDeleteRange: decodeDeleteRangeResponse(readEnd(end)) };
        break;
      case 34:
        // A nested transaction: rare, and recursive; the generated decoder takes the whole message.
        throw FALLBACK;
      default:
        skip(tag, end);
    }
  }
  return message;
}

function decodeTxnResponse(end: number): TxnResponse {
  const message: TxnResponse = { header: undefined, succeeded: false, responses: [] };
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 10:
        message.header = decodeHeader(readEnd(end));
        break;
      case 16:
        message.succeeded = readBool(end);
        break;
      case 26:
        message.responses.push(decodeResponseOp(readEnd(end)));
        break;
      default:
        skip(tag, end);
    }
  }
  return message;
}

function decodeEvent(end: number): Event {
  const message: Event = { type: 0, kv: undefined, prevKv: undefined };
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 8:
        message.type = readVarint32(end) | 0;
        break;
      case 18:
        message.kv = decodeKeyValue(readEnd(end));
        break;
      case 26:
        message.prevKv = decodeKeyValue(readEnd(end));
        break;
      default:
        skip(tag, end);
    }
  }
  return message;
}

function decodeWatchResponse(end: number): WatchResponse {
  const message: WatchResponse = {
    header: undefined,
    watchId: Long.ZERO,
    created: false,
    canceled: false,
    compactRevision: Long.ZERO,
    cancelReason: '',
    fragment: false,
    events: [],
  };
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 10:
        message.header = decodeHeader(readEnd(end));
        break;
      case 16:
        message.watchId = readLong(end, false);
        break;
      case 24:
        message.created = readBool(end);
        break;
      case 32:
        message.canceled = readBool(end);
        break;
      case 40:
        message.compactRevision = readLong(end, false);
        break;
      case 50:
        // cancel_reason is a string (UTF-8 decoding rules): left to the generated decoder.
        throw FALLBACK;
      case 56:
        message.fragment = readBool(end);
        break;
      case 90:
        message.events.push(decodeEvent(readEnd(end)));
        break;
      default:
        skip(tag, end);
    }
  }
  return message;
}

function decodeLeaseKeepAliveResponse(end: number): LeaseKeepAliveResponse {
  const message: LeaseKeepAliveResponse = { header: undefined, ID: Long.ZERO, TTL: Long.ZERO };
  while (pos < end) {
    const tag = readTag(end);
    switch (tag) {
      case 10:
        message.header = decodeHeader(readEnd(end));
        break;
      case 16:
        message.ID = readLong(end, false);
        break;
      case 24:
        message.TTL = readLong(end, false);
        break;
      default:
        skip(tag, end);
    }
  }
  return message;
}

function decoder<T>(decode: (end: number) => T, generated: { decode(input: Uint8Array): T }): (bytes: Uint8Array) => T {
  return (bytes) => {
    buf = bytes;
    pos = 0;
    try {
      return decode(bytes.length);
    } catch (error) {
      if (error !== FALLBACK) throw error;
      buf = NO_BYTES;
      return generated.decode(bytes);
    } finally {
      // Do not keep the last message alive.
      buf = NO_BYTES;
    }
  };
}

/** Decoders whose results are deep-equal to the generated decoders'. */
export const decodeRangeResponseMessage: (bytes: Uint8Array) => RangeResponse = decoder(decodeRangeResponse, RangeResponseCodec);
export const decodePutResponseMessage: (bytes: Uint8Array) => PutResponse = decoder(decodePutResponse, PutResponseCodec);
export const decodeDeleteRangeResponseMessage: (bytes: Uint8Array) => DeleteRangeResponse = decoder(
  decodeDeleteRangeResponse,
  DeleteRangeResponseCodec,
);
export const decodeTxnResponseMessage: (bytes: Uint8Array) => TxnResponse = decoder(decodeTxnResponse, TxnResponseCodec);
export const decodeWatchResponseMessage: (bytes: Uint8Array) => WatchResponse = decoder(decodeWatchResponse, WatchResponseCodec);
export const decodeLeaseKeepAliveResponseMessage: (bytes: Uint8Array) => LeaseKeepAliveResponse = decoder(
  decodeLeaseKeepAliveResponse,
  LeaseKeepAliveResponseCodec,
);
