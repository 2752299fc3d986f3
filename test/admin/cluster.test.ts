/**
 * etcd.cluster against a real 3-node cluster: the member list, a learner added, started and
 * promoted, peer URLs updated, the member removed; the endpoint list kept in sync with the
 * members by `autoSyncIntervalMs`, learners left out, another cluster's member rejected.
 */
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { type Etcd, EtcdError, type EtcdOptions, InvalidArgumentError } from 'etcdkit';
import { startEtcd, startFaultProxy, type EtcdMember } from 'etcdkit/testing';
import { Connection } from '../../src/connection/connection.js';
import { EndpointSync } from '../../src/connection/endpoint-sync.js';
import { memberMethods, MEMBER_LIST_SPEC, STATUS_SPEC } from '../../src/connection/member-methods.js';
import { rejectionOf } from '../helpers/etcd.js';
import { until, useCluster } from './support.js';

const env = useCluster();
const client = (options?: EtcdOptions): Etcd => env.client(options);

/**
 * Retries `call` while etcd refuses it for a reason that passes by itself: "unhealthy cluster"
 * (3.4 adds a member only when every member has been connected for 5 s) or a learner not yet
 * in sync with the leader (promote).
 */
async function whenReady<T>(call: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const passing = error instanceof EtcdError && /unhealthy cluster|in sync with leader/.test(error.serverMessage ?? '');
      if (!passing || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const endpointsOf = (etcd: Etcd): string[] => etcd.info().map((e) => e.endpoint).sort();
/** The endpoints of m1..m3 (the harness lists members added later too). */
const original = (): string[] => env.cluster.members.slice(0, 3).map((m) => m.endpoint);

describe('env.cluster.members', () => {
  it('lists every member with a bigint ID, name, peer and client URLs', async () => {
    const members = await client().cluster.members();
    expect(members.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
    for (const member of members) {
      const harness = env.cluster.member(member.name);
      expect(typeof member.id).toBe('bigint');
      expect(member.id.toString()).toBe((await harness.status()).memberId);
      expect(member.peerUrls).toEqual([harness.peerUrl]);
      expect(member.clientUrls).toEqual([harness.clientUrl]);
      expect(member.isLearner).toBe(false);
    }
  });

  it('rejects bad input before sending anything', async () => {
    const etcd = client();
    for (const call of [
      () => etcd.cluster.addMember([]),
      () => etcd.cluster.addMember(['127.0.0.1:2380']),
      () => etcd.cluster.removeMember(-1),
      () => etcd.cluster.updateMember(1n, ['http://ok:1', 'nope']),
      () => etcd.cluster.promoteMember(2n ** 64n),
    ]) {
      expect(await rejectionOf(call)).toBeInstanceOf(InvalidArgumentError);
    }
  });
});

describe('membership changes and endpoint sync', () => {
  it('adds a learner, starts it, promotes it, updates its peer URL and removes it; autoSync follows', async () => {
    const first = env.cluster.members[0]!;
    const syncing = client({ endpoints: [first.endpoint], autoSyncIntervalMs: 200 });
    expect(await until(() => endpointsOf(syncing), (list) => list.length === 3, 5_000)).toEqual(original().sort());

    const etcd = client();
    const joining: EtcdMember = await env.cluster.newMember();
    const added = await whenReady(() => etcd.cluster.addMember([joining.peerUrl], { learner: true }));
    expect(added.member).toMatchObject({ name: '', peerUrls: [joining.peerUrl], clientUrls: [], isLearner: true });
    expect(added.members).toHaveLength(4);
    await joining.start();
    const learner = await until(
      async () => (await etcd.cluster.members()).find((m) => m.id === added.member.id),
      (m) => m?.name === joining.name,
    );
    expect(learner).toMatchObject({ name: 'm4', clientUrls: [joining.clientUrl], isLearner: true });
    expect((await etcd.maintenance.status(joining.endpoint)).isLearner).toBe(true);

    // Learners serve almost nothing: the synced endpoint list leaves them out.
    const whileLearner = await syncing.cluster.syncEndpoints();
    expect(whileLearner.endpoints.sort()).toEqual(original().sort());

    const promoted = await whenReady(() => etcd.cluster.promoteMember(added.member.id));
    expect(promoted.find((m) => m.id === added.member.id)?.isLearner).toBe(false);
    expect(await until(() => endpointsOf(syncing), (list) => list.includes(joining.endpoint), 5_000)).toContain(joining.endpoint);

    // Peer URL update: route the new member's peer traffic through a proxy; the cluster keeps working.
    await using proxy = await startFaultProxy({ target: new URL(joining.peerUrl).host });
    const updated = await etcd.cluster.updateMember(added.member.id, [`http://${proxy.endpoint}`]);
    expect(updated.find((m) => m.id === added.member.id)?.peerUrls).toEqual([`http://${proxy.endpoint}`]);
    const { header } = await etcd.put('cluster/after-update', 'v');
    await until(
      () => etcd.maintenance.status(joining.endpoint),
      (status) => status.raftAppliedIndex > 0n && status.header.revision >= header.revision,
    );
    expect((await syncing.get('cluster/after-update', { serializable: true }))?.text()).toBe('v');

    const remaining = await etcd.cluster.removeMember(added.member.id);
    expect(remaining.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(await until(() => endpointsOf(syncing), (list) => !list.includes(joining.endpoint), 5_000)).not.toContain(
      joining.endpoint,
    );
    await joining.stop();
  }, 60_000);

  it('syncEndpoints leaves out a member URL that answers with another cluster ID', async () => {
    await using other = await startEtcd();
    const connection = new Connection({ endpoints: [env.cluster.members[0]!.endpoint] });
    try {
      const stranger = { ID: Long.fromString('4242', true), name: 'x', peerURLs: [], clientURLs: [other.clientUrl], isLearner: false };
      const sync = new EndpointSync({
        memberList: async (options) => {
          const response = await connection.unary(memberMethods.memberList, {}, MEMBER_LIST_SPEC, options);
          return { ...response, members: [...response.members, stranger] };
        },
        statusOf: (address, options) => connection.unaryOn(address, memberMethods.status, {}, STATUS_SPEC, options),
        addresses: () => connection.endpoints(),
        setEndpoints: (list) => connection.setEndpoints(list),
      });
      const result = await sync.sync(undefined);
      expect(result.rejected).toEqual([other.endpoint]);
      expect(result.endpoints.sort()).toEqual(original().sort());
      expect(result.added.sort()).toEqual(original().slice(1).sort());
      expect(connection.endpoints()).not.toContain(other.endpoint);
    } finally {
      connection.close();
    }
  });
});
