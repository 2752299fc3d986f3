/**
 * The hand-written codecs (src/encoding/fast-codec.ts) against the generated ones: the same
 * bytes for every request, deep-equal objects (or the same error) for every response, on many
 * random messages, with unknown fields, padded varints, truncation and the rare shapes that
 * fall back to the generated decoder.
 */
import Long from 'long';
import { describe, expect, it } from 'vitest';
import {
  decodeDeleteRangeResponseMessage,
  decodeLeaseKeepAliveResponseMessage,
  decodePutResponseMessage,
  decodeRangeResponseMessage,
  decodeTxnResponseMessage,
  decodeWatchResponseMessage,
  encodeDeleteRangeRequest,
  encodeLeaseKeepAliveRequest,
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnRequest,
} from '../../src/encoding/fast-codec.js';
import {
  type Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  TxnRequest,
  TxnResponse,
  WatchResponse,
} from '../../src/generated/etcdserverpb/rpc.js';
import type { Event, KeyValue } from '../../src/generated/mvccpb/kv.js';

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 0x5eed;
const CASES = 1_000;

class Gen {
  constructor(readonly next: () => number) {}

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  u32(): number {
    return this.int(2 ** 32);
  }

  /** Empty, short, or long enough to need a multi-byte length. */
  bytes(): Buffer {
    const pick = this.int(100);
    const length = pick < 20 ? 0 : pick < 85 ? this.int(80) : pick < 99 ? 100 + this.int(300) : 16_000 + this.int(2_000);
    // Random head and tail; the middle of a long value is filler (its content is copied, never parsed).
    const out = Buffer.alloc(length, 0x61);
    for (let i = 0; i < Math.min(length, 16); i++) out[i] = this.int(256);
    for (let i = Math.max(16, length - 16); i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** Zero, small, large, negative (signed only) or any 64 bits. */
  long(unsigned = false): Long {
    switch (this.int(7)) {
      case 0:
        return unsigned ? Long.UZERO : Long.ZERO;
      case 1:
        return Long.fromBits(this.int(128), 0, unsigned);
      case 2:
        return Long.fromBits(this.u32(), 0, unsigned);
      case 3:
        return Long.fromBits(this.u32(), this.int(2 ** (1 + this.int(31))), unsigned);
      case 4:
        return Long.fromBits(-1 - this.int(1000), -1, unsigned);
      case 5:
        return Long.fromBits(this.u32(), this.u32(), unsigned);
      default:
        return Long.fromBits(-1, 0x7fffffff, unsigned);
    }
  }

  enumValue(max: number): number {
    return this.chance(0.05) ? -1 : this.int(max + 1);
  }

  putRequest(): PutRequest {
    return {
      key: this.bytes(),
      value: this.bytes(),
      lease: this.long(),
      prevKv: this.chance(0.5),
      ignoreValue: this.chance(0.3),
      ignoreLease: this.chance(0.3),
    };
  }

  rangeRequest(): RangeRequest {
    return {
      key: this.bytes(),
      rangeEnd: this.bytes(),
      limit: this.long(),
      revision: this.long(),
      sortOrder: this.enumValue(2),
      sortTarget: this.enumValue(4),
      serializable: this.chance(0.5),
      keysOnly: this.chance(0.5),
      countOnly: this.chance(0.5),
      minModRevision: this.long(),
      maxModRevision: this.long(),
      minCreateRevision: this.long(),
      maxCreateRevision: this.long(),
    };
  }

  deleteRangeRequest(): DeleteRangeRequest {
    return { key: this.bytes(), rangeEnd: this.bytes(), prevKv: this.chance(0.5) };
  }

  compare(): Compare {
    const unions: Compare['targetUnion'][] = [
      undefined,
      { $case: 'version', version: this.long() },
      { $case: 'createRevision', createRevision: this.long() },
      { $case: 'modRevision', modRevision: this.long() },
      { $case: 'value', value: this.bytes() },
      { $case: 'lease', lease: this.long() },
    ];
    return {
      result: this.enumValue(3),
      target: this.enumValue(4),
      key: this.bytes(),
      targetUnion: unions[this.int(unions.length)],
      rangeEnd: this.bytes(),
    };
  }

  requestOp(depth: number): RequestOp {
    switch (this.int(depth > 0 ? 5 : 4)) {
      case 0:
        return { request: undefined };
      case 1:
        return { request: { $case: 'requestRange', requestRange: this.rangeRequest() } };
      case 2:
        return { request: { $case: 'requestPut', requestPut: this.putRequest() } };
      case 3:
        return { request: { $case: 'requestDeleteRange', requestDeleteRange: this.deleteRangeRequest() } };
      default:
        return { request: { $case: 'requestTxn', requestTxn: this.txnRequest(depth - 1) } };
    }
  }

  txnRequest(depth = 2): TxnRequest {
    const list = <T>(make: () => T): T[] => Array.from({ length: this.int(4) }, make);
    return { compare: list(() => this.compare()), success: list(() => this.requestOp(depth)), failure: list(() => this.requestOp(depth)) };
  }

  header(): ResponseHeader | undefined {
    if (this.chance(0.1)) return undefined;
    return { clusterId: this.long(true), memberId: this.long(true), revision: this.long(), raftTerm: this.long(true) };
  }

  keyValue(): KeyValue {
    return {
      key: this.bytes(),
      createRevision: this.long(),
      modRevision: this.long(),
      version: this.long(),
      value: this.bytes(),
      lease: this.long(),
    };
  }

  kvs(): KeyValue[] {
    return Array.from({ length: this.chance(0.1) ? 50 : this.int(4) }, () => this.keyValue());
  }

  rangeResponse(): RangeResponse {
    return { header: this.header(), kvs: this.kvs(), more: this.chance(0.5), count: this.long() };
  }

  putResponse(): PutResponse {
    return { header: this.header(), prevKv: this.chance(0.5) ? this.keyValue() : undefined };
  }

  deleteRangeResponse(): DeleteRangeResponse {
    return { header: this.header(), deleted: this.long(), prevKvs: this.kvs() };
  }

  responseOp(nested: boolean): ResponseOp {
    switch (this.int(nested ? 5 : 4)) {
      case 0:
        return { response: undefined };
      case 1:
        return { response: { $case: 'responseRange', responseRange: this.rangeResponse() } };
      case 2:
        return { response: { $case: 'responsePut', responsePut: this.putResponse() } };
      case 3:
        return { response: { $case: 'responseDeleteRange', responseDeleteRange: this.deleteRangeResponse() } };
      default:
        return { response: { $case: 'responseTxn', responseTxn: this.txnResponse(false) } };
    }
  }

  txnResponse(nested = this.chance(0.2)): TxnResponse {
    return {
      header: this.header(),
      succeeded: this.chance(0.5),
      responses: Array.from({ length: this.int(4) }, () => this.responseOp(nested)),
    };
  }

  event(): Event {
    return { type: this.int(2), kv: this.chance(0.95) ? this.keyValue() : undefined, prevKv: this.chance(0.3) ? this.keyValue() : undefined };
  }

  watchResponse(): WatchResponse {
    return {
      header: this.header(),
      watchId: this.long(),
      created: this.chance(0.2),
      canceled: this.chance(0.1),
      compactRevision: this.long(),
      cancelReason: this.chance(0.1) ? 'etcdserver: mvcc: required revision has been compacted' : '',
      fragment: this.chance(0.2),
      events: Array.from({ length: this.int(6) }, () => this.event()),
    };
  }

  keepAliveResponse(): LeaseKeepAliveResponse {
    return { header: this.header(), ID: this.long(), TTL: this.long() };
  }

  /** An unknown field of a plain wire type (0, 1, 2 or 5) with a field number no message here uses. */
  unknownField(): Buffer {
    const field = 200 + this.int(1000);
    const wireType = [0, 1, 2, 5][this.int(4)]!;
    const tag = varint((field << 3) | wireType);
    switch (wireType) {
      case 0:
        return Buffer.concat([tag, varint(this.u32())]);
      case 1:
        return Buffer.concat([tag, Buffer.alloc(8, 7)]);
      case 2: {
        const body = this.bytes();
        return Buffer.concat([tag, varint(body.length), body]);
      }
      default:
        return Buffer.concat([tag, Buffer.alloc(4, 9)]);
    }
  }
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

const generatedBytes = <T>(codec: Codec<T>, message: T): Buffer => Buffer.from(codec.encode(message).finish());

/**
 * A decoded message as a string that keeps every detail a deep comparison would (Buffer bytes,
 * Long bits and signedness, which keys are present), and is quick to compare.
 */
function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key) {
    const raw = this[key];
    if (Buffer.isBuffer(raw)) return `Buffer:${raw.toString('hex')}`;
    if (raw instanceof Long) return `Long:${raw.low}:${raw.high}:${raw.unsigned}`;
    if (raw === undefined) return 'undefined';
    return raw;
  });
}

/** What a decoder does with `bytes`: its result, or the error it throws. */
function outcome(decode: (bytes: Buffer) => unknown, bytes: Buffer): string {
  try {
    return canonical(decode(bytes));
  } catch (error) {
    return `throws ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  }
}

function expectSameDecoding<T>(codec: Codec<T>, fast: (bytes: Buffer) => T, bytes: Buffer): void {
  expect(outcome(fast, bytes)).toBe(outcome((b) => codec.decode(b), bytes));
}

describe('fast codec: encoders produce the generated bytes', () => {
  const gen = new Gen(prng(SEED));
  const cases: Array<[string, () => void]> = [
    ['PutRequest', () => {
      const m = gen.putRequest();
      expect(encodePutRequest(m).toString('hex')).toBe(generatedBytes(PutRequest, m).toString('hex'));
    }],
    ['RangeRequest', () => {
      const m = gen.rangeRequest();
      expect(encodeRangeRequest(m).toString('hex')).toBe(generatedBytes(RangeRequest, m).toString('hex'));
    }],
    ['DeleteRangeRequest', () => {
      const m = gen.deleteRangeRequest();
      expect(encodeDeleteRangeRequest(m).toString('hex')).toBe(generatedBytes(DeleteRangeRequest, m).toString('hex'));
    }],
    ['TxnRequest (nested, every compare target and op)', () => {
      const m = gen.txnRequest();
      expect(encodeTxnRequest(m).toString('hex')).toBe(generatedBytes(TxnRequest, m).toString('hex'));
    }],
    ['LeaseKeepAliveRequest', () => {
      const m = { ID: gen.long() };
      expect(encodeLeaseKeepAliveRequest(m).toString('hex')).toBe(generatedBytes(LeaseKeepAliveRequest, m).toString('hex'));
    }],
  ];
  for (const [name, check] of cases) {
    it(`${name}: ${CASES} random messages`, () => {
      for (let i = 0; i < CASES; i++) check();
    });
  }

  it('empty and default messages', () => {
    expect(encodePutRequest(PutRequest.fromPartial({}))).toEqual(Buffer.alloc(0));
    expect(encodeRangeRequest(RangeRequest.fromPartial({}))).toEqual(Buffer.alloc(0));
    expect(encodeTxnRequest(TxnRequest.fromPartial({}))).toEqual(Buffer.alloc(0));
    const m = RangeRequest.fromPartial({ key: Buffer.from('k'), limit: Long.fromInt(1) });
    expect(encodeRangeRequest(m).toString('hex')).toBe(generatedBytes(RangeRequest, m).toString('hex'));
  });
});

describe('fast codec: decoders match the generated decoders', () => {
  const gen = new Gen(prng(SEED + 1));
  const messages: Array<[string, () => [Codec<unknown>, (bytes: Buffer) => unknown, Buffer]]> = [
    ['RangeResponse', () => [RangeResponse, decodeRangeResponseMessage, generatedBytes(RangeResponse, gen.rangeResponse())] as never],
    ['PutResponse', () => [PutResponse, decodePutResponseMessage, generatedBytes(PutResponse, gen.putResponse())] as never],
    ['DeleteRangeResponse', () =>
      [DeleteRangeResponse, decodeDeleteRangeResponseMessage, generatedBytes(DeleteRangeResponse, gen.deleteRangeResponse())] as never],
    ['TxnResponse (some nested: generated fallback)', () => [TxnResponse, decodeTxnResponseMessage, generatedBytes(TxnResponse, gen.txnResponse())] as never],
    ['WatchResponse (some with a cancel reason: generated fallback)', () =>
      [WatchResponse, decodeWatchResponseMessage, generatedBytes(WatchResponse, gen.watchResponse())] as never],
    ['LeaseKeepAliveResponse', () =>
      [LeaseKeepAliveResponse, decodeLeaseKeepAliveResponseMessage, generatedBytes(LeaseKeepAliveResponse, gen.keepAliveResponse())] as never],
  ];

  for (const [name, make] of messages) {
    it(`${name}: ${CASES} random messages, as sent and altered`, () => {
      for (let i = 0; i < CASES; i++) {
        const [codec, fast, bytes] = make();
        expectSameDecoding(codec, fast, bytes);
        // Unknown fields before and after (a newer server's additions) are skipped alike.
        expectSameDecoding(codec, fast, Buffer.concat([gen.unknownField(), bytes, gen.unknownField()]));
        // Fields repeated: the last scalar wins, repeated fields append, as in the generated code.
        expectSameDecoding(codec, fast, Buffer.concat([bytes, bytes]));
        // Truncated anywhere: either both decode the same thing or both throw the same error.
        if (bytes.length > 0) expectSameDecoding(codec, fast, bytes.subarray(0, gen.int(bytes.length)));
        // One byte changed: garbage in, the generated decoder's garbage (or error) out.
        if (bytes.length > 0) {
          const corrupt = Buffer.from(bytes);
          corrupt[gen.int(corrupt.length)] = gen.int(256);
          expectSameDecoding(codec, fast, corrupt);
        }
      }
    });
  }

  it('a fast-decoded message is a fresh copy: the wire buffer can be reused', () => {
    const bytes = generatedBytes(RangeResponse, { header: undefined, kvs: [{ ...gen.keyValue(), key: Buffer.from('k'), value: Buffer.from('v') }], more: false, count: Long.ONE });
    const decoded = decodeRangeResponseMessage(bytes);
    bytes.fill(0);
    expect(decoded.kvs[0]!.key.toString()).toEqual('k');
    expect(decoded.kvs[0]!.value.toString()).toEqual('v');
  });

  it('non-minimal varints, groups, zero tags and wrong wire types decode as the generated code does', () => {
    const header = (revision: Buffer) => Buffer.concat([Buffer.from([10, revision.length + 1, 24]), revision]);
    const cases = [
      // revision 5 padded to 3 and to 10 bytes
      header(Buffer.from([0x85, 0x80, 0x00])),
      header(Buffer.from([0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])),
      // an 11-byte varint (invalid)
      header(Buffer.from([0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])),
      // a group (wire types 3 and 4) and a zero tag
      Buffer.from([0x0b, 0x08, 0x01, 0x0c, 0x18, 0x01]),
      Buffer.from([0x00, 0x18, 0x01]),
      // field 1 (header) sent as a varint, field 4 (count) sent length-delimited
      Buffer.from([0x08, 0x01, 0x22, 0x01, 0x05, 0x20, 0x07]),
      // wire types 6 and 7
      Buffer.from([0x0e, 0x01]),
      Buffer.from([0x0f]),
      // a 5-byte length
      Buffer.from([0x12, 0x81, 0x80, 0x80, 0x80, 0x00]),
    ];
    for (const bytes of cases) {
      expectSameDecoding(RangeResponse as Codec<unknown>, decodeRangeResponseMessage, bytes);
      expectSameDecoding(WatchResponse as Codec<unknown>, decodeWatchResponseMessage, bytes);
      expectSameDecoding(LeaseKeepAliveResponse as Codec<unknown>, decodeLeaseKeepAliveResponseMessage, bytes);
    }
  });
});
