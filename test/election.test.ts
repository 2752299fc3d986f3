import { describe, expect, it } from 'vitest';
import {
  AlreadyConsumedError,
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  type KeyValue,
  Leadership,
  LeadershipLostError,
  Op,
  SessionExpiredError,
} from 'etcdkit';
import { until } from './admin/support.js';
import { interruptQueued, keysUnder, stateAfter, waitForKeys } from './helpers/coordination.js';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

const etcd = useEtcd();

/** Collects what an observer yields, until `stop` aborts. */
function collect(iterable: AsyncIterable<KeyValue>): { seen: string[]; done: Promise<unknown> } {
  const seen: string[] = [];
  const done = (async () => {
    for await (const leader of iterable) seen.push(leader.text());
  })().catch((error: unknown) => error);
  return { seen, done };
}

describe.each(['service', 'recipe'] as const)('etcd.election (%s)', (mode) => {
  it('campaign, leader, proclaim, resign', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}leader`;
    const election = client.election(name, { mode });
    expect(election.mode).toBe(mode);
    expect(await election.leader()).toBeUndefined();
    const leadership = await election.campaign('node-1', { ttl: 10 });
    expect(leadership).toBeInstanceOf(Leadership);
    expect(leadership.key.toString()).toBe(`${name}/${leadership.leaseId.toString(16)}`);
    const kv = await election.leader();
    expect(kv?.text()).toBe('node-1');
    expect(kv?.createRevision).toBe(leadership.revision);
    await leadership.proclaim('node-1 (busy)');
    expect(leadership.value.toString()).toBe('node-1 (busy)');
    expect((await election.leader())?.text()).toBe('node-1 (busy)');
    expect((await client.txn().if(leadership.isLeader()).commit()).succeeded).toBe(true);
    await leadership.resign();
    expect((await leadership.lost).reason).toBe('released');
    expect(await election.leader()).toBeUndefined();
    await leadership.resign(); // idempotent
  });

  it('the next candidate waits and takes over after a resign, with a larger revision', async () => {
    const client = etcd.client();
    const election = client.election(`${etcd.prefix()}next`, { mode });
    const first = await election.campaign('a', { ttl: 10 });
    const second = election.campaign('b', { ttl: 10 });
    expect(await stateAfter(second, 300)).toBe('pending');
    await first.resign();
    const leadership = await second;
    expect(leadership.revision).toBeGreaterThan(first.revision);
    expect((await election.leader())?.text()).toBe('b');
    await leadership.resign();
  });

  it('a candidate waits for every earlier candidate, not only the one just before it', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}all`;
    const election = client.election(name, { mode });
    const leader = await election.campaign('leader', { ttl: 10 });
    const before = await client.session({ ttl: 10 });
    const middle = election.campaign('middle', { session: before });
    await waitForKeys(client, `${name}/`, 2);
    const last = election.campaign('last', { ttl: 10 });
    await waitForKeys(client, `${name}/`, 3);
    // The key just before the last candidate goes away; the leader is still there.
    await client.lease.revoke(before.leaseId);
    expect(await rejectionOf(() => middle)).toBeInstanceOf(SessionExpiredError);
    expect(await stateAfter(last, 500)).toBe('pending');
    expect((await election.leader())?.text()).toBe('leader');
    await leader.resign();
    await (await last).resign();
  });

  it('an aborted or timed-out campaign leaves no key; a lost session rejects it with SessionExpiredError', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}abort`;
    const election = client.election(name, { mode });
    const leader = await election.campaign('leader', { ttl: 10 });
    await expect(election.campaign('late', { ttl: 10, timeoutMs: 300 })).rejects.toBeInstanceOf(DeadlineExceededError);
    const controller = new AbortController();
    const aborted = await interruptQueued(
      client,
      `${name}/`,
      2,
      () => election.campaign('aborted', { ttl: 10, signal: controller.signal }),
      () => controller.abort(),
    );
    expect(aborted.error).toBeInstanceOf(CancelledError);
    expect(aborted.keys).toEqual([leader.key.toString()]);

    const session = await client.session({ ttl: 3 });
    const expired = await interruptQueued(
      client,
      `${name}/`,
      2,
      () => election.campaign('expiring', { session }),
      () => etcd.client().lease.revoke(session.leaseId),
    );
    expect(expired.error).toBeInstanceOf(SessionExpiredError);
    expect(expired.keys).toEqual([leader.key.toString()]);
    await leader.resign();
  });

  it('a leader whose key is deleted is told so by proclaim and guarded ops, after lost resolved', async () => {
    const client = etcd.client();
    const prefix = etcd.prefix();
    const leadership = await client.election(`${prefix}deleted`, { mode }).campaign('me', { ttl: 10 });
    await leadership.guarded([Op.put(`${prefix}owner`, 'me')]);
    await client.delete(leadership.key);
    const error = await rejectionOf(() => leadership.proclaim('still me?'));
    expect(error).toBeInstanceOf(LeadershipLostError);
    expect((error as LeadershipLostError).reason).toBe('deleted');
    expect((await leadership.lost).reason).toBe('deleted');
    await expect(leadership.guarded([Op.put(`${prefix}owner`, 'me again')])).rejects.toBeInstanceOf(LeadershipLostError);
    expect(await client.get(leadership.key)).toBeUndefined();
    await leadership.resign();
  });

  it('re-campaigning with the same session keeps its place and updates the value', async () => {
    const client = etcd.client();
    const election = client.election(`${etcd.prefix()}again`, { mode });
    const session = await client.session({ ttl: 10 });
    const first = await election.campaign('v1', { session });
    const again = election.campaign('v2', { session });
    expect(await stateAfter(again, 200)).toBe('pending'); // takes its turn after the first hold in this process
    await first.resign();
    const second = await again;
    expect((await election.leader())?.text()).toBe('v2');
    await second.resign();
    await session.close();
  });

  it('observe: the current leader, its proclamations, the next leader; ends on close', async () => {
    const client = etcd.client();
    const election = client.election(`${etcd.prefix()}observe`, { mode });
    const first = await election.campaign('one', { ttl: 10 });
    const observer = election.observe();
    const { seen, done } = collect(observer);
    await until(() => seen.length, (n) => n === 1, 3_000);
    const second = election.campaign('two', { ttl: 10 });
    await first.proclaim('one+');
    await until(() => seen.length, (n) => n === 2, 3_000);
    await first.resign();
    const leadership = await second;
    await until(() => seen.length, (n) => n === 3, 3_000);
    expect(seen).toEqual(['one', 'one+', 'two']);
    expect(() => observer[Symbol.asyncIterator]()).toThrow(AlreadyConsumedError);
    await observer.close();
    expect(await done).toBeUndefined();
    await leadership.resign();
  });

  it('observe with a signal ends with CancelledError; a break stops it', async () => {
    const client = etcd.client();
    const election = client.election(`${etcd.prefix()}signal`, { mode });
    const leadership = await election.campaign('x', { ttl: 10 });
    const controller = new AbortController();
    const { seen, done } = collect(election.observe({ signal: controller.signal }));
    await until(() => seen.length, (n) => n === 1, 3_000);
    controller.abort();
    expect(await done).toBeInstanceOf(CancelledError);
    for await (const leader of election.observe()) {
      expect(leader.text()).toBe('x');
      break;
    }
    await leadership.resign();
  });

  it('in a namespace view, names and keys are relative to it', async () => {
    const client = etcd.client();
    const prefix = etcd.prefix();
    const election = client.namespace(prefix).election('e', { mode });
    const leadership = await election.campaign('v', { ttl: 10 });
    expect(leadership.key.toString()).toBe(`e/${leadership.leaseId.toString(16)}`);
    expect((await election.leader())?.keyText()).toBe(leadership.key.toString());
    expect(await keysUnder(client, prefix)).toEqual([`${prefix}${leadership.key.toString()}`]);
    for await (const leader of election.observe()) {
      expect(leader.keyText()).toBe(leadership.key.toString());
      break;
    }
    await leadership.proclaim('w');
    expect((await client.get(`${prefix}${leadership.key.toString()}`))?.text()).toBe('w');
    await leadership.resign();
  });
});

describe('etcd.election across modes', () => {
  it('service and recipe candidates take part in one election', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}mixed`;
    const viaService = await client.election(name).campaign('service', { ttl: 10 });
    const viaRecipe = client.election(name, { mode: 'recipe' }).campaign('recipe', { ttl: 10 });
    expect(await stateAfter(viaRecipe, 300)).toBe('pending');
    await viaService.resign();
    const recipe = await viaRecipe;
    const service = client.election(name).campaign('service again', { ttl: 10 });
    expect(await stateAfter(service, 300)).toBe('pending');
    await recipe.resign();
    await (await service).resign();
  });

  it('bad input fails before anything is sent', async () => {
    const client = etcd.client({ endpoints: ['127.0.0.1:1'] });
    expect(() => client.election('')).toThrow(InvalidArgumentError);
    expect(() => client.election('x', { mode: 'other' as never })).toThrow(InvalidArgumentError);
    const error = await rejectionOf(() => client.election('x').campaign(42 as never));
    expect((error as InvalidArgumentError).argument).toBe('value');
    const both = await rejectionOf(() => client.election('x').campaign('v', { ttl: 5, lease: 1n }));
    expect((both as InvalidArgumentError).argument).toBe('options.lease');
  });
});
