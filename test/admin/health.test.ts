/**
 * Health probes and leader awareness on a real 3-node cluster (with peer proxies, so a member
 * can be isolated): `onHealthChange` on transitions only across a kill and a restart and across
 * an isolation, `info()` health and state, a leaderless member avoided by calls that need a
 * leader while it still answers serializable reads, and timers gone after close().
 */
import { describe, expect, it } from 'vitest';
import { Etcd, type EndpointHealth, NoLeaderError } from 'etcdkit';
import { activeResources, rejectionOf, waitForResourcesAtMost } from '../helpers/etcd.js';
import { until, useCluster } from './support.js';

interface HealthEvent {
  healthy: boolean;
  endpoint: string;
  health: EndpointHealth;
  at: number;
}

const env = useCluster({ size: 3, peerProxies: true });

/** A client probing every endpoint every 250 ms, and the health changes it reported. */
function probedClient(): { etcd: Etcd; events: HealthEvent[] } {
  const events: HealthEvent[] = [];
  const etcd = new Etcd({
    endpoints: env.cluster.endpoints,
    healthIntervalMs: 250,
    onHealthChange: (healthy, endpoint, health) => events.push({ healthy, endpoint, health, at: Date.now() }),
  });
  return { etcd, events };
}

describe('healthIntervalMs and onHealthChange', () => {
  it('reports each endpoint once known, then only transitions, across a kill and a restart', async () => {
    const baseline = activeResources();
    const { etcd, events } = probedClient();
    try {
      await until(() => events.length, (n) => n >= 3, 5_000);
      expect(events.map((e) => [e.endpoint, e.healthy]).sort()).toEqual(env.cluster.endpoints.map((e) => [e, true]).sort());
      for (const info of etcd.info()) {
        expect(info.health).toMatchObject({ status: 'healthy' });
        if (info.health.status === 'healthy') expect(info.health.leader).toBeGreaterThan(0n);
      }

      const victim = (await env.cluster.followers())[0]!;
      const killedAt = Date.now();
      await victim.kill();
      const down = await until(() => events.find((e) => e.endpoint === victim.endpoint && !e.healthy), Boolean, 5_000);
      expect(down?.health).toMatchObject({ status: 'unhealthy', reason: 'unreachable' });
      expect(down!.at - killedAt).toBeLessThan(2_000);
      const downInfo = etcd.info().find((e) => e.endpoint === victim.endpoint)!;
      expect(downInfo.state.status === 'avoided' || downInfo.state.status === 'unreachable').toBe(true);
      expect(downInfo.pinned).toBe(false);
      await etcd.put('health/while-down', '1');

      await victim.restart();
      const up = await until(
        () => events.filter((e) => e.endpoint === victim.endpoint),
        (list) => list.at(-1)?.healthy === true && list.length === 3,
        10_000,
      );
      expect(up.map((e) => e.healthy)).toEqual([true, false, true]);
      // Everyone else: one report, no repeats.
      for (const endpoint of env.cluster.endpoints.filter((e) => e !== victim.endpoint)) {
        expect(events.filter((e) => e.endpoint === endpoint)).toHaveLength(1);
      }
    } finally {
      await etcd.close();
    }
    const count = events.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(events.length).toBe(count);
    expect(await waitForResourcesAtMost(baseline)).toEqual({});
  }, 30_000);

  it('reports an isolated member as unhealthy with no leader, and healthy again after heal', async () => {
    const isolated = (await env.cluster.followers())[0]!;
    const { etcd, events } = probedClient();
    try {
      await until(() => events.length, (n) => n >= 3, 5_000);
      await env.cluster.isolate(isolated);
      const down = await until(() => events.find((e) => e.endpoint === isolated.endpoint && !e.healthy), Boolean, 10_000);
      expect(down?.health).toMatchObject({ status: 'unhealthy', reason: 'no-leader' });
      expect(etcd.info().find((e) => e.endpoint === isolated.endpoint)?.pinned).toBe(false);
      await etcd.put('health/isolated', 'ok', { timeoutMs: 3_000 });
      await env.cluster.heal();
      const back = await until(
        () => events.filter((e) => e.endpoint === isolated.endpoint).at(-1),
        (e) => e?.healthy === true && e !== events.find((x) => x.endpoint === isolated.endpoint),
        15_000,
      );
      expect(back?.healthy).toBe(true);
    } finally {
      await env.cluster.heal();
      await etcd.close();
    }
  }, 40_000);
});

describe('a member without a leader', () => {
  it('refuses calls that need a leader at once (NoLeaderError), still serves serializable reads, and calls fail over', async () => {
    // A follower: isolating the leader would leave the others without one for a while too.
    const isolated = (await env.cluster.followers(10_000))[0]!;
    const only = new Etcd({ endpoints: [isolated.endpoint], retry: { maxAttempts: 1 } });
    const all = new Etcd({ endpoints: [isolated.endpoint, ...env.cluster.endpoints.filter((e) => e !== isolated.endpoint)] });
    try {
      await all.put('leaderless/k', 'before');
      await only.get('leaderless/k');
      await env.cluster.isolate(isolated);
      await until(() => isolated.status().then((s) => s.leader, () => '?'), (leader) => leader === '0', 10_000);

      const started = Date.now();
      const error = await rejectionOf(() => only.put('leaderless/k', 'x', { timeoutMs: 5_000 }));
      expect(error).toBeInstanceOf(NoLeaderError);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(await rejectionOf(() => only.get('leaderless/k', { timeoutMs: 5_000 }))).toBeInstanceOf(NoLeaderError);
      expect((await only.get('leaderless/k', { serializable: true }))?.text()).toBe('before');

      // With other endpoints, the same calls go elsewhere within the default retries.
      const put = Date.now();
      await all.put('leaderless/k', 'after');
      expect(Date.now() - put).toBeLessThan(2_000);
      expect((await all.get('leaderless/k'))?.text()).toBe('after');
      expect(all.info().find((e) => e.endpoint === isolated.endpoint)?.pinned).toBe(false);
    } finally {
      await env.cluster.heal();
      await only.close();
      await all.close();
    }
  }, 30_000);
});
