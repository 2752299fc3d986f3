/**
 * F3 (RELIABILITY 8.F, TestBalancerUnderBlackholeKeepAliveWatch for KV calls): the pinned
 * endpoint is blackholed (the proxy keeps the sockets up and drops every byte), so only HTTP/2
 * keepalive can tell the link is dead.
 *
 * (a) keepalive alone: a read in flight on the blackholed endpoint fails over and succeeds
 *     within keepAliveTimeMs + keepAliveTimeoutMs + 1 s; the endpoint is avoided afterwards.
 * (b) with health probes (`healthIntervalMs`): new calls stop going to the blackholed endpoint
 *     within the probe interval + the probe deadline + 1 s, without waiting for keepalive.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FailoverRig } from './failover-support.js';
import { errorName, FaultRecord, now, round, sleep } from './support.js';

const KEEPALIVE_TIME_MS = 5_000;
const KEEPALIVE_TIMEOUT_MS = 2_000;
const KEEPALIVE_BOUND_MS = KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + 1_000;
const HEALTH_INTERVAL_MS = 500;
/** The probe deadline is the interval (at most 2 s). */
const HEALTH_BOUND_MS = HEALTH_INTERVAL_MS + HEALTH_INTERVAL_MS + 1_000;

const record = new FaultRecord('F3', 'pinned endpoint blackholed');

describe('F3: the pinned endpoint is blackholed', () => {
  const rig = new FailoverRig();
  const proxies = rig.proxies;

  afterAll(async () => {
    await rig.close();
    record.config = {
      topology: '3-node cluster, one fault proxy per member; the client knows only the proxies and is pinned to the first',
      fault: 'blackhole the pinned proxy: sockets stay open, bytes are dropped both ways',
      a: { keepAliveTimeMs: KEEPALIVE_TIME_MS, keepAliveTimeoutMs: KEEPALIVE_TIMEOUT_MS, boundMs: KEEPALIVE_BOUND_MS },
      b: { healthIntervalMs: HEALTH_INTERVAL_MS, keepAlive: 'defaults (10 s / 5 s)', boundMs: HEALTH_BOUND_MS },
    };
    await record.write(
      `(a) keepalive: in-flight read recovered after ${JSON.stringify(record.figures['aInFlightReadRecoveredMs'])} ms (bound ${KEEPALIVE_BOUND_MS}); ` +
        `(b) health probes: new calls moved after ${JSON.stringify(record.figures['bNewCallsMovedMs'])} ms (bound ${HEALTH_BOUND_MS})`,
    );
  });

  it('(a) keepalive detects the dead link and the in-flight read fails over', async () => {
    record.begin('a');
    const cluster = await rig.start(true);
    record.etcdVersion = (await cluster.members[0]!.status()).version;
    const etcd = rig.client({
      endpoints: proxies.map((p) => p.endpoint),
      keepAliveTimeMs: KEEPALIVE_TIME_MS,
      keepAliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
    });
    await etcd.put('f3/k', 'v');
    expect(etcd.info()[0]?.pinned).toBe(true);

    await proxies[0]!.blackhole();
    const t0 = now();
    record.mark('a: pinned proxy blackholed', { endpoint: proxies[0]!.endpoint });
    let readError: unknown;
    const value = await etcd.get('f3/k', { timeoutMs: 20_000 }).then(
      (kv) => kv?.text(),
      (error: unknown) => {
        readError = error;
        return undefined;
      },
    );
    const recoveredMs = now() - t0;
    record.mark('a: in-flight read settled', { ms: round(recoveredMs), ok: value === 'v' });
    const putStarted = now();
    await etcd.put('f3/after-a', 'ok', { timeoutMs: 5_000 });
    const putMs = now() - putStarted;
    const dead = etcd.info()[0]!;
    record.figures['aInFlightReadRecoveredMs'] = round(recoveredMs);
    record.figures['aNextPutMs'] = round(putMs, 2);
    record.figures['aBlackholedEndpointAfter'] = { state: dead.state.status, pinned: dead.pinned, failures: dead.failures, lastError: dead.lastError?.name };
    record.check('(a) the in-flight read succeeded on another endpoint', value === 'v', readError === undefined ? value : errorName(readError));
    record.check(`(a) within keepAliveTimeMs + keepAliveTimeoutMs + 1 s (${KEEPALIVE_BOUND_MS} ms)`, recoveredMs <= KEEPALIVE_BOUND_MS, round(recoveredMs));
    record.check('(a) the blackholed endpoint is no longer pinned', !dead.pinned, dead);
    record.check('(a) the next write goes straight to a live endpoint (< 1 s)', putMs < 1_000, round(putMs, 2));
    await proxies[0]!.heal();
    record.end('a');
    expect(record.failed()).toEqual([]);
  }, 60_000);

  it('(b) health probes move new calls away before keepalive would', async () => {
    record.begin('b');
    const etcd = rig.client({ endpoints: proxies.map((p) => p.endpoint), healthIntervalMs: HEALTH_INTERVAL_MS });
    await etcd.put('f3/k', 'v2');
    // Wait for the first probe round so every endpoint starts healthy.
    const ready = now();
    while (etcd.info().some((e) => e.health.status !== 'healthy') && now() - ready < 5_000) await sleep(50);
    expect(etcd.info()[0]?.pinned).toBe(true);

    await proxies[0]!.blackhole();
    const t0 = now();
    record.mark('b: pinned proxy blackholed');
    let movedMs: number | undefined;
    let failedCalls = 0;
    const firstErrors: string[] = [];
    // Short reads, one after another: those sent to the blackholed endpoint time out, until the
    // probes mark it unhealthy and calls go elsewhere.
    while (movedMs === undefined && now() - t0 < 10_000) {
      try {
        await etcd.get('f3/k', { timeoutMs: 300 });
        movedMs = now() - t0;
      } catch (error) {
        failedCalls++;
        if (firstErrors.length < 3) firstErrors.push(errorName(error));
      }
    }
    const dead = etcd.info()[0]!;
    record.figures['bNewCallsMovedMs'] = movedMs === undefined ? null : round(movedMs);
    record.figures['bFailedCallsBeforeMove'] = failedCalls;
    record.figures['bFirstErrors'] = firstErrors;
    record.figures['bBlackholedEndpointAfter'] = { state: dead.state.status, health: dead.health.status, pinned: dead.pinned };
    record.check(`(b) new calls succeed elsewhere within ${HEALTH_BOUND_MS} ms`, movedMs !== undefined && movedMs <= HEALTH_BOUND_MS, movedMs);
    record.check('(b) the blackholed endpoint is reported unhealthy', dead.health.status === 'unhealthy', dead.health);
    record.check('(b) failures before the move are typed timeouts', firstErrors.every((name) => name === 'DeadlineExceededError'), firstErrors);
    await proxies[0]!.heal();
    record.end('b');
    expect(record.failed()).toEqual([]);
  }, 30_000);
});
