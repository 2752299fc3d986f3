import Long from 'long';
import { describe, expect, it } from 'vitest';
import { Compare, Delete, InvalidArgumentError, Op, Put, Range, Txn, TxnNotCommittedError } from 'etcdkit';
import { Compare_CompareResult, Compare_CompareTarget, RangeRequest_SortOrder, RangeRequest_SortTarget } from '../../src/generated/etcdserverpb/rpc.js';
import { prefixEnd } from '../../src/encoding/bytes.js';

const buf = (s: string) => Buffer.from(s);

function invalid(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('Range builder', () => {
  it('sets every field of the request', () => {
    const request = Range.key('a')
      .withRange('b')
      .withLimit(10)
      .withRevision(7n)
      .withSort('modRevision', 'descend')
      .withSerializable()
      .withKeysOnly()
      .withCountOnly()
      .withMinModRevision(1)
      .withMaxModRevision(2)
      .withMinCreateRevision(3)
      .withMaxCreateRevision(4)
      .toRequest();
    expect(request.key).toEqual(buf('a'));
    expect(request.rangeEnd).toEqual(buf('b'));
    expect(request.limit.toString()).toBe('10');
    expect(request.revision.toString()).toBe('7');
    expect(request.sortTarget).toBe(RangeRequest_SortTarget.MOD);
    expect(request.sortOrder).toBe(RangeRequest_SortOrder.DESCEND);
    expect([request.serializable, request.keysOnly, request.countOnly]).toEqual([true, true, true]);
    expect([request.minModRevision, request.maxModRevision, request.minCreateRevision, request.maxCreateRevision].map(String)).toEqual([
      '1',
      '2',
      '3',
      '4',
    ]);
  });

  it('is immutable: every step returns a new builder and the original is unchanged', () => {
    const base = Range.key('svc/');
    const prefixed = base.withPrefix();
    const limited = prefixed.withLimit(5);
    expect(prefixed).not.toBe(base);
    expect(base.toRequest().rangeEnd.length).toBe(0);
    expect(prefixed.toRequest().limit.isZero()).toBe(true);
    expect(limited.toRequest().limit.toNumber()).toBe(5);
    expect(Object.isFrozen(base.toRequest())).toBe(true);
    // A reused builder gives the same request every time.
    expect(limited.toRequest()).toBe(limited.toRequest());
  });

  it('computes prefix, from-key and all-keys ranges', () => {
    expect(Range.key('svc/').withPrefix().rangeEnd).toEqual(buf('svc0'));
    expect(Range.key('a').withFromKey().rangeEnd).toEqual(Buffer.from([0]));
    const all = Range.all().toRequest();
    expect([all.key, all.rangeEnd]).toEqual([Buffer.from([0]), Buffer.from([0])]);
  });

  it('rejects bad input before anything is sent, naming the argument', () => {
    expect(invalid(() => Range.key('')).argument).toBe('key');
    expect(invalid(() => Range.key(Buffer.alloc(0)).withPrefix()).message).toMatch(/all\(\)/);
    expect(invalid(() => Range.key('a').withLimit(-1)).argument).toBe('limit');
    expect(invalid(() => Range.key('a').withRevision(-5n)).argument).toBe('revision');
    expect(invalid(() => Range.key('a').withRevision(1.5)).argument).toBe('revision');
    expect(invalid(() => Range.key('a').withRange('')).argument).toBe('end');
    expect(invalid(() => Range.key(42 as unknown as string)).message).toMatch(/the number 42/);
    expect(invalid(() => Range.key('a').withSort('size' as never)).argument).toBe('target');
    expect(invalid(() => Range.key('a').withSort('key', 'up' as never)).argument).toBe('order');
  });
});

describe('prefixEnd', () => {
  it('increments the last byte below 0xff and drops what follows', () => {
    expect(prefixEnd(Buffer.from([0x61, 0xff, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixEnd(Buffer.from([0x00]))).toEqual(Buffer.from([0x01]));
  });
  it('reaches the end of the keyspace for a prefix of only 0xff bytes', () => {
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).toEqual(Buffer.from([0]));
  });
});

describe('Put builder', () => {
  it('sets every field', () => {
    const request = Put.key('k').withValue('v').withLease(0x41f2a1fe77587105n).withPrevKv().toRequest();
    expect(request.value).toEqual(buf('v'));
    expect(request.lease.toString(16)).toBe('41f2a1fe77587105');
    expect(request.prevKv).toBe(true);
    const ignore = Put.key('k').withIgnoreValue().withIgnoreLease().toRequest();
    expect([ignore.ignoreValue, ignore.ignoreLease]).toEqual([true, true]);
  });
  it('accepts bytes and Uint8Array values without copying Buffers', () => {
    const value = Buffer.from([0, 1, 2, 0xff]);
    expect(Put.key('k').withValue(value).toRequest().value).toBe(value);
    expect(Put.key('k').withValue(new Uint8Array([1, 2])).toRequest().value).toEqual(Buffer.from([1, 2]));
  });
  it('rejects values that are not strings or bytes, and contradictory options', () => {
    expect(invalid(() => Put.key('k').withValue({ a: 1 } as never)).argument).toBe('value');
    expect(invalid(() => Put.key('k').withValue(7 as never)).argument).toBe('value');
    expect(invalid(() => Put.key('k').withValue('v').withIgnoreValue()).argument).toBe('ignoreValue');
    expect(invalid(() => Put.key('k').withIgnoreLease().withLease(5)).argument).toBe('lease');
    expect(invalid(() => Put.key('k').withLease(2n ** 64n)).message).toMatch(/int64/);
    expect(invalid(() => Put.key('k').withLease(Number.MAX_SAFE_INTEGER + 2)).argument).toBe('lease');
  });
});

describe('Delete builder', () => {
  it('covers the range forms and prevKv', () => {
    expect(Delete.key('a/').withPrefix().withPrevKv().toRequest()).toMatchObject({ rangeEnd: buf('a0'), prevKv: true });
    expect(Delete.all().toRequest().key).toEqual(Buffer.from([0]));
    expect(invalid(() => Delete.key('')).argument).toBe('key');
  });
});

describe('Compare and Op', () => {
  it('builds each target and result', () => {
    const c = Compare.modRevision('k').less(5n).toRequest();
    expect(c.target).toBe(Compare_CompareTarget.MOD);
    expect(c.result).toBe(Compare_CompareResult.LESS);
    expect(c.targetUnion).toEqual({ $case: 'modRevision', modRevision: Long.fromNumber(5) });
    expect(Compare.value('k').notEquals('x').toRequest().targetUnion).toEqual({ $case: 'value', value: buf('x') });
    expect(Compare.version('p/').withPrefix().greater(0).toRequest().rangeEnd).toEqual(buf('p0'));
    expect(Compare.lease('k').equals(9).toRequest().target).toBe(Compare_CompareTarget.LEASE);
    expect(Compare.createRevision('k').equals(1).toRequest().target).toBe(Compare_CompareTarget.CREATE);
    expect(Compare.missing('k').toRequest().result).toBe(Compare_CompareResult.EQUAL);
    expect(Compare.exists('k').toRequest().result).toBe(Compare_CompareResult.GREATER);
  });

  it('rejects bad operands with the argument named', () => {
    expect(invalid(() => Compare.version('k').equals('one' as never)).argument).toBe('version');
    expect(invalid(() => Compare.value('k').equals(1 as never)).argument).toBe('value');
    expect(invalid(() => Compare.value('')).argument).toBe('key');
  });

  it('builds ops of each kind', () => {
    expect(Op.get('k').toRequest().request?.$case).toBe('requestRange');
    expect(Op.put('k', 'v').toRequest().request?.$case).toBe('requestPut');
    expect(Op.delete('k').toRequest().request?.$case).toBe('requestDeleteRange');
    expect(Op.txn(Txn.if(Compare.missing('k')).then(Op.put('k', 'v'))).toRequest().request?.$case).toBe('requestTxn');
    expect(invalid(() => Op.put('k', undefined as never)).argument).toBe('value');
  });
});

describe('Txn builder', () => {
  it('is immutable and reusable', () => {
    const base = Txn.if(Compare.missing('a'));
    const withThen = base.then(Op.put('a', '1'));
    expect(base.toRequest().success).toHaveLength(0);
    expect(withThen.toRequest()).toEqual(withThen.toRequest());
    expect(withThen.else(Op.get('a')).toRequest().failure).toHaveLength(1);
    expect(withThen.toRequest().failure).toHaveLength(0);
  });

  it('rejects an await without commit() instead of hanging', async () => {
    const pending = Txn.if(Compare.missing('a')).then(Op.put('a', '1'));
    await expect(pending as unknown as Promise<unknown>).rejects.toBeInstanceOf(TxnNotCommittedError);
  });

  it('rejects commit() of an unbound transaction and bad branch items', async () => {
    await expect(Txn.if(Compare.missing('a')).commit()).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(invalid(() => Txn.if('x' as never)).message).toMatch(/Compare/);
    expect(invalid(() => Txn.if().then({} as never)).message).toMatch(/Op/);
  });

  it('knows whether it writes', () => {
    expect(Txn.if().then(Op.get('a')).hasWrites).toBe(false);
    expect(Txn.if().then(Op.get('a')).else(Op.txn(Txn.if().then(Op.delete('b')))).hasWrites).toBe(true);
  });
});
