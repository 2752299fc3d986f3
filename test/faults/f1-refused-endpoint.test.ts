/**
 * F1 (RELIABILITY 8.F): one or more of three endpoints refuse at startup, listed first. The
 * first call succeeds quickly on a live endpoint (target < 2 s, far below the 30 s default
 * deadline), later calls never try a refused endpoint again while the live one works, and
 * `info()` shows each refused endpoint with failures > 0 and not pinned.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Etcd, type EndpointInfo } from 'etcdkit';
import { startEtcd, startEtcdCluster, startFaultProxy, type EtcdCluster, type EtcdServer, type FaultProxy } from 'etcdkit/testing';
import { FaultRecord, now, percentile, round } from './support.js';

const FIRST_CALL_BOUND_MS = 2_000;
const LATER_CALLS = 20;

const record = new FaultRecord('F1', 'endpoints that refuse at startup, listed first');

function snapshot(info: EndpointInfo[]) {
  return info.map((e) => ({
    endpoint: e.endpoint,
    state: e.state,
    pinned: e.pinned,
    failures: e.failures,
    inFlight: e.inFlight,
    lastError: e.lastError ? `${e.lastError.name}: ${e.lastError.serverMessage ?? e.lastError.message}`.slice(0, 160) : undefined,
  }));
}

/**
 * The common body of both variants: the first call is a put (a mutation, which may only be
 * retried on another endpoint because the refused attempt provably never left the client),
 * then a series of gets and puts.
 */
async function exercise(variant: string, endpoints: string[], refused: string[], live: string[]): Promise<void> {
  const firstCheck = record.checks.length;
  const client = new Etcd({ endpoints });
  try {
    const t0 = now();
    const first = await client.put(`f1/${variant}/first`, 'v').then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const firstCallMs = now() - t0;
    record.mark(`${variant}: first call settled`, { ok: first.ok, ms: round(firstCallMs) });
    const afterFirst = snapshot(client.info());
    const failuresAfterFirst = Object.fromEntries(afterFirst.map((e) => [e.endpoint, e.failures]));

    const latencies: number[] = [];
    let laterFailures = 0;
    for (let i = 0; i < LATER_CALLS; i++) {
      const t = now();
      try {
        if (i % 2 === 0) await client.put(`f1/${variant}/k${i}`, String(i));
        else await client.get(`f1/${variant}/k${i - 1}`);
      } catch {
        laterFailures++;
      }
      latencies.push(now() - t);
    }
    const after = snapshot(client.info());
    record.figures[variant] = {
      endpoints,
      refused,
      firstCallMs: round(firstCallMs),
      firstCallOk: first.ok,
      firstCallError: first.ok ? undefined : String(first.error),
      infoAfterFirstCall: afterFirst,
      laterCalls: LATER_CALLS,
      laterFailures,
      laterLatencyMs: { p50: round(percentile(latencies, 50), 2), max: round(Math.max(...latencies), 2) },
      infoAfterLaterCalls: after,
    };

    record.check(`${variant}: first call succeeds`, first.ok, first.ok ? undefined : String(first.error));
    record.check(`${variant}: first call within ${FIRST_CALL_BOUND_MS} ms`, firstCallMs < FIRST_CALL_BOUND_MS, round(firstCallMs));
    record.check(`${variant}: later calls all succeed`, laterFailures === 0, laterFailures);
    // A call that tried a refused endpoint would have counted a failure against it.
    record.check(
      `${variant}: later calls never tried a refused endpoint`,
      after.every((e) => e.failures === failuresAfterFirst[e.endpoint]),
      { failuresAfterFirst, after: after.map((e) => ({ endpoint: e.endpoint, failures: e.failures })) },
    );
    for (const endpoint of refused) {
      const entry = after.find((e) => e.endpoint === endpoint);
      record.check(`${variant}: info() shows refused ${endpoint} with failures > 0`, (entry?.failures ?? 0) > 0, entry);
      record.check(`${variant}: refused ${endpoint} is not pinned`, entry?.pinned === false, entry);
    }
    const pinned = after.find((e) => e.pinned);
    record.check(`${variant}: a live endpoint is pinned`, pinned !== undefined && live.includes(pinned.endpoint), pinned);
  } finally {
    await client.close();
  }
  expect(record.checks.slice(firstCheck).filter((c) => !c.ok)).toEqual([]);
}

describe('F1: endpoints refusing at startup', () => {
  let cluster: EtcdCluster | undefined;
  let server: EtcdServer | undefined;
  const proxies: FaultProxy[] = [];

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await cluster?.close();
    await server?.close();
    record.config = {
      firstCallBoundMs: FIRST_CALL_BOUND_MS,
      laterCalls: LATER_CALLS,
      variants: {
        a: '3-node cluster, m1 stopped (SIGTERM) before the client is created, endpoints [m1, m2, m3]',
        b: 'single node plus two fault proxies in refuse mode, endpoints [proxy1, proxy2, node]',
      },
      client: 'default options (timeoutMs 30000, retry maxAttempts 5, initialBackoffMs 50)',
    };
    const a = record.figures['a'] as { firstCallMs: number } | undefined;
    const b = record.figures['b'] as { firstCallMs: number } | undefined;
    await record.write(`first call ${a?.firstCallMs ?? '?'} ms (a: dead member first), ${b?.firstCallMs ?? '?'} ms (b: two refusing proxies first)`);
  });

  it('(a) a stopped cluster member listed first', async () => {
    record.begin('a');
    cluster = await startEtcdCluster({ size: 3 });
    record.etcdVersion = (await cluster.members[0]!.status()).version;
    const dead = cluster.members[0]!;
    await dead.stop();
    record.mark('a: m1 stopped', { endpoint: dead.endpoint });
    await exercise('a', cluster.endpoints, [dead.endpoint], cluster.endpoints.slice(1));
    record.end('a');
  }, 60_000);

  it('(b) two refusing proxies listed before a single node', async () => {
    record.begin('b');
    server = await startEtcd();
    for (let i = 0; i < 2; i++) {
      const proxy = await startFaultProxy({ target: server.endpoint });
      proxies.push(proxy);
      await proxy.refuse();
    }
    record.mark('b: proxies refusing', { endpoints: proxies.map((p) => p.endpoint) });
    const refused = proxies.map((p) => p.endpoint);
    await exercise('b', [...refused, server.endpoint], refused, [server.endpoint]);
    record.figures['bProxyStats'] = await Promise.all(proxies.map((p) => p.stats()));
    record.end('b');
  }, 60_000);
});
