/**
 * L5 (RELIABILITY 8.C): kill -9 the leader of a 3-node cluster while two clients keep 100 leases
 * each (TTL 5) alive: one client's keep-alive stream runs on the leader (it lists the leader
 * first), the other's on a follower. The cluster elects a new leader within the TTL, so no lease
 * may be reported lost; the first client's stream fails over to a surviving member.
 * Figures: the largest gap between two acknowledged keep-alives of a lease, per client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd, type KeptLease } from 'etcdkit';
import { startEtcdCluster, type EtcdCluster } from 'etcdkit/testing';
import { LeaseProbe } from './lease-probe.js';
import { FaultRecord, now, percentile, round, sleep } from './support.js';

const TTL = 5;
const LEASES = 100;
const WARMUP_MS = 2_000;
/** Observation after the kill: a whole TTL and then some, so any loss would have happened. */
const AFTER_KILL_MS = TTL * 1_000 + 2_000;

const record = new FaultRecord('L5', 'leader kill with 100 kept leases per client (3 nodes, TTL 5)');

describe('L5: leader kill with 100 leases', () => {
  let cluster: EtcdCluster | undefined;
  const clients: Etcd[] = [];

  beforeAll(async () => {
    cluster = await startEtcdCluster({ size: 3, keepDataOnFailure: true });
    const leader = await cluster.leader();
    record.etcdVersion = (await leader.status()).version;
    record.config = { members: 3, ttl: TTL, leasesPerClient: LEASES, warmupMs: WARMUP_MS, afterKillMs: AFTER_KILL_MS };
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    const f = record.figures;
    await record.write(
      `lost ${JSON.stringify(f['lost'])}; max keep-alive gap ${JSON.stringify(f['maxGapMs'])} ms (TTL ${TTL * 1_000} ms)`,
    );
    if (record.verdict !== 'pass') cluster?.recordFailure('L5 failed');
    await cluster?.close();
  });

  it('loses no lease when the leader is killed, and keep-alives move to a surviving member', async () => {
    record.begin('kill');
    const c = cluster!;
    const leader = await c.leader();
    const [follower, other] = await c.followers();
    const variants = [
      { name: 'stream on the leader', endpoints: [leader.endpoint, follower!.endpoint, other!.endpoint] },
      { name: 'stream on a follower', endpoints: [follower!.endpoint, other!.endpoint, leader.endpoint] },
    ];
    const runs = await Promise.all(
      variants.map(async (variant) => {
        const client = new Etcd({ endpoints: variant.endpoints });
        clients.push(client);
        const kept: KeptLease[] = await Promise.all(Array.from({ length: LEASES }, () => client.lease.grantKeptAlive(TTL)));
        return { ...variant, client, probes: kept.map((lease) => new LeaseProbe(client, lease)) };
      }),
    );
    await sleep(WARMUP_MS);
    const killAt = now();
    await leader.kill();
    record.mark(`kill -9 leader ${leader.name}`);
    await sleep(AFTER_KILL_MS);
    const newLeader = await c.leader();
    record.mark(`new leader ${newLeader.name}`);

    const lost: Record<string, number> = {};
    const maxGap: Record<string, number> = {};
    for (const run of runs) {
      const gaps = run.probes.map((probe) => probe.maxGap(killAt - TTL * 1_000));
      const lostProbes = run.probes.filter((probe) => probe.lostAt !== undefined);
      const firstAckAfterKill = run.probes.map((probe) => (probe.acks.find((ack) => ack > killAt) ?? Number.NaN) - killAt);
      lost[run.name] = lostProbes.length;
      maxGap[run.name] = round(Math.max(...gaps));
      record.figures[run.name] = {
        endpoints: run.endpoints,
        lost: lostProbes.length,
        lostMessages: lostProbes.slice(0, 3).map((probe) => probe.lostError?.message),
        maxGapMs: round(Math.max(...gaps)),
        gapP50Ms: round(percentile(gaps, 50)),
        firstAckAfterKillMs: { p50: round(percentile(firstAckAfterKill, 50)), max: round(Math.max(...firstAckAfterKill)) },
        pinnedAfter: run.client.info().find((endpoint) => endpoint.pinned)?.endpoint,
      };
      record.check(`${run.name}: no lease lost`, lostProbes.length === 0, lostProbes.length);
      record.check(`${run.name}: every lease acknowledged after the kill`, firstAckAfterKill.every((ms) => Number.isFinite(ms)));
      record.check(`${run.name}: largest keep-alive gap below the TTL`, Math.max(...gaps) < TTL * 1_000, round(Math.max(...gaps)));
    }
    record.figures['lost'] = lost;
    record.figures['maxGapMs'] = maxGap;
    for (const run of runs) {
      await Promise.all(run.probes.map((probe) => probe.close()));
      await Promise.all(run.probes.map((probe) => probe.kept.revoke()));
    }
    record.end('kill');
    expect(record.failed()).toEqual([]);
  });
});
