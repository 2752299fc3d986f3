import Long from 'long';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'etcdkit';
import { longToBigInt, toLong, toUnsignedLong } from '../../src/encoding/int64.js';
import { parseEndpoint, parseEndpoints } from '../../src/connection/endpoints.js';
import { toHeader } from '../../src/kv/key-value.js';

describe('int64 conversion', () => {
  it('round-trips values across the whole int64 range without losing precision', () => {
    for (const value of [0n, 1n, -1n, 2n ** 53n + 1n, 0x41f2a1fe77587105n, 2n ** 63n - 1n, -(2n ** 63n)]) {
      expect(longToBigInt(toLong(value, 'v', 't'))).toBe(value);
    }
  });
  it('reads unsigned Longs (member IDs above 2^63) as positive', () => {
    const id = 0xd14d5961bc9bdeean;
    const long = toUnsignedLong(id, 'id', 't');
    expect(long.unsigned).toBe(true);
    expect(longToBigInt(long)).toBe(id);
    expect(longToBigInt(Long.fromString('d14d5961bc9bdeea', true, 16))).toBe(id);
  });
  it('rejects unsafe numbers, fractions and out-of-range bigints', () => {
    expect(() => toLong(2 ** 60, 'v', 't')).toThrow(InvalidArgumentError);
    expect(() => toLong(0.5, 'v', 't')).toThrow(InvalidArgumentError);
    expect(() => toLong(2n ** 63n, 'v', 't')).toThrow(/int64 range/);
    expect(() => toUnsignedLong(-1n, 'v', 't')).toThrow(/uint64 range/);
  });
});

describe('response headers', () => {
  it("converts the IDs right when a transaction's zero-ID operation headers alternate with a member's headers", () => {
    const member = {
      clusterId: Long.fromString('14841639068965178418', true),
      memberId: Long.fromString('10276657743932975437', true),
      revision: Long.fromNumber(7),
      raftTerm: Long.fromNumber(2, true),
    };
    const operation = { clusterId: Long.UZERO, memberId: Long.UZERO, revision: Long.fromNumber(7), raftTerm: Long.UZERO };
    const other = { ...member, clusterId: Long.fromString('1', true), memberId: Long.fromString('18446744073709551615', true) };
    for (let round = 0; round < 3; round++) {
      expect(toHeader(member)).toEqual({ clusterId: 14841639068965178418n, memberId: 10276657743932975437n, revision: 7n, raftTerm: 2n });
      expect(toHeader(operation)).toEqual({ clusterId: 0n, memberId: 0n, revision: 7n, raftTerm: 0n });
    }
    expect(toHeader(other)).toMatchObject({ clusterId: 1n, memberId: 18446744073709551615n });
    expect(toHeader(undefined)).toEqual({ clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n });
  });
});

describe('endpoint parsing', () => {
  it('accepts host:port and http(s) URLs', () => {
    expect(parseEndpoint('127.0.0.1:2379', 0)).toEqual({ address: '127.0.0.1:2379', secure: false });
    expect(parseEndpoint('http://localhost:2379/', 0)).toEqual({ address: 'localhost:2379', secure: false });
    expect(parseEndpoint('https://etcd.example:2379', 0)).toEqual({ address: 'etcd.example:2379', secure: true });
    expect(parseEndpoint('[::1]:2379', 0)).toEqual({ address: '[::1]:2379', secure: false });
  });
  it('de-duplicates and defaults to 127.0.0.1:2379', () => {
    expect(parseEndpoints(['a:1', 'http://a:1'])).toHaveLength(1);
    expect(parseEndpoints(undefined)).toEqual([{ address: '127.0.0.1:2379', secure: false }]);
  });
  it('rejects malformed endpoints, naming the index', () => {
    const cases = ['', 'no-port', 'a:0', 'a:70000', 'unix://x:1', 42];
    for (const value of cases) {
      expect(() => parseEndpoint(value, 3)).toThrow(/options\.endpoints\[3\]/);
    }
    expect(() => parseEndpoints([])).toThrow(InvalidArgumentError);
  });
});
