import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Compare,
  CompactedError,
  Delete,
  type EtcdError,
  FutureRevisionError,
  GrpcStatus,
  InvalidArgumentError,
  KeyNotFoundError,
  Op,
  Put,
  Range,
  RequestTooLargeError,
} from 'etcdkit';
import { type FaultProxy, startFaultProxy } from 'etcdkit/testing';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

// RELIABILITY.md 6.2 and G: each row is either a local typed error with nothing sent (the proxy
// in front of the server counts bytes), or the exact typed mapping of the server's refusal.
const etcd = useEtcd();
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await startFaultProxy({ target: etcd.server.endpoint });
});
afterAll(async () => {
  await proxy?.close();
});

async function bytesSent(): Promise<number> {
  return (await proxy.stats()).bytesFromClient;
}

describe('bad input is rejected before anything is sent', () => {
  const rows: Array<[string, (client: ReturnType<typeof etcd.client>) => unknown, string]> = [
    ['empty key on put', (c) => c.put('', 'v'), 'key'],
    ['empty key on get', (c) => c.get(''), 'key'],
    ['empty key on delete', (c) => c.delete(''), 'key'],
    ['empty key in a txn op', (c) => c.txn().then(Op.put('', 'v')).commit(), 'key'],
    ['a value that is an object', (c) => c.put('k', { a: 1 } as never), 'value'],
    ['a value that is a number', (c) => c.put('k', 5 as never), 'value'],
    ['a missing value', (c) => c.put('k', undefined as never), 'value'],
    ['withPrefix on an empty key', () => Range.key('').withPrefix(), 'key'],
    ['negative revision', (c) => c.get('k', { revision: -1 }), 'revision'],
    ['negative limit', () => Range.key('k').withLimit(-1), 'limit'],
    ['fractional revision', () => Range.key('k').withRevision(1.5), 'revision'],
    ['negative compact revision', (c) => c.compact(-3), 'revision'],
    ['value together with ignoreValue', () => Put.key('k').withValue('v').withIgnoreValue(), 'ignoreValue'],
    ['lease together with ignoreLease', (c) => c.put('k', 'v', { ignoreLease: true, lease: 7 }), 'lease'],
    ['a lease ID beyond int64', (c) => c.put('k', 'v', { lease: 2n ** 63n }), 'lease'],
    ['a non-Range to range()', (c) => c.range('k' as never), 'range'],
    ['a non-positive timeoutMs', (c) => c.get('k', { timeoutMs: 0 }), 'options.timeoutMs'],
    ['a timeoutMs beyond what a timer can wait', (c) => c.get('k', { timeoutMs: 2 ** 31 }), 'options.timeoutMs'],
    ['a signal that is not an AbortSignal', (c) => c.get('k', { signal: {} as never }), 'options.signal'],
    ['an empty withRange end', () => Delete.key('k').withRange(''), 'end'],
    ['a Compare with a non-integer operand', () => Compare.modRevision('k').equals('x' as never), 'revision'],
  ];

  it.each(rows)('%s', async (_name, call, argument) => {
    const client = etcd.client({ endpoints: [proxy.endpoint] });
    await client.get('warm-up'); // establish the connection so later bytes would show
    const before = await bytesSent();
    const error = await rejectionOf(() => call(client));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
    expect((error as InvalidArgumentError).message).toContain(argument);
    expect(await bytesSent()).toBe(before);
  });

  it('rejects bad client options at construction, naming them', () => {
    const bad: Array<[unknown, string]> = [
      [{ endpoints: [] }, 'options.endpoints'],
      [{ endpoints: ['nohost'] }, 'options.endpoints[0]'],
      [{ timeoutMs: -1 }, 'options.timeoutMs'],
      [{ healthIntervalMs: 1e12 }, 'options.healthIntervalMs'],
      [{ keepAliveTimeMs: 1000 }, 'options.keepAliveTimeMs'],
      [{ auth: { username: '', password: 'x' } }, 'options.auth.username'],
      [{ authToken: '' }, 'options.authToken'],
      [{ retry: { maxAttempts: 0 } }, 'options.retry.maxAttempts'],
    ];
    for (const [options, argument] of bad) {
      const error = (() => {
        try {
          etcd.client(options as never);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
    }
  });
});

describe('server refusals are mapped to typed errors', () => {
  const MiB = 1024 * 1024;

  it('a value just under the 1.5 MiB request limit is accepted', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}big`;
    await client.put(key, Buffer.alloc(1.5 * MiB - 700, 1));
    expect((await client.get(key))?.value.length).toBe(1.5 * MiB - 700);
  });

  it('a value of 1.5 MiB + 100 B fails with RequestTooLargeError (InvalidArgument), not applied', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}too-big`;
    const error = await rejectionOf(() => client.put(key, Buffer.alloc(1.5 * MiB + 100, 1)));
    expect(error).toBeInstanceOf(RequestTooLargeError);
    expect((error as EtcdError).status).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect((error as EtcdError).maybeApplied).toBe(false);
    expect((error as EtcdError).retryable).toBe(false);
    expect(await client.get(key)).toBeUndefined();
  });

  it('values of 2.6 and 3 MiB fail with RequestTooLargeError from the gRPC layer (ResourceExhausted)', async () => {
    const client = etcd.client();
    for (const size of [2.6 * MiB, 3 * MiB]) {
      const error = await rejectionOf(() => client.put(`${etcd.prefix()}huge`, Buffer.alloc(Math.floor(size), 1)));
      expect(error).toBeInstanceOf(RequestTooLargeError);
      expect((error as EtcdError).status).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    }
  });

  it('a 1.5 MiB key is refused as too large', async () => {
    const client = etcd.client();
    const key = Buffer.alloc(1.5 * MiB + 100, 0x61);
    expect(await rejectionOf(() => client.put(key, 'v'))).toBeInstanceOf(RequestTooLargeError);
  });

  it('ignoreValue on a missing key is KeyNotFoundError', async () => {
    const client = etcd.client();
    expect(await rejectionOf(() => client.put(Put.key(`${etcd.prefix()}none`).withIgnoreValue()))).toBeInstanceOf(KeyNotFoundError);
  });

  it('range and compact at a future revision are FutureRevisionError; below the compaction CompactedError', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}r`;
    const first = (await client.put(key, '1')).header.revision;
    const now = (await client.put(key, '2')).header.revision;
    expect(await rejectionOf(() => client.range(Range.key(key).withRevision(now + 100n)))).toBeInstanceOf(FutureRevisionError);
    expect(await rejectionOf(() => client.compact(now + 100n))).toBeInstanceOf(FutureRevisionError);
    await client.compact(now);
    expect(await rejectionOf(() => client.get(key, { revision: first }))).toBeInstanceOf(CompactedError);
    expect(await rejectionOf(() => client.compact(first))).toBeInstanceOf(CompactedError);
  });
});
