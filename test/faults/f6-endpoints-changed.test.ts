/**
 * F6 (RELIABILITY 8.F): the endpoint list changes at runtime (`etcd.setEndpoints`, which
 * `autoSyncIntervalMs` also uses) while calls are in flight.
 *
 * (a) The pinned endpoint is dropped while 40 calls are in flight on it (a proxy delays every
 *     chunk so they are): each call settles exactly once, resolved or rejected with a typed
 *     error, no acknowledged write is lost, and later calls go to the new endpoints only.
 * (b) The list changes but keeps the pinned endpoint: nothing in flight is disturbed and the
 *     pin stays.
 *
 * Watchers moving with their cursor belong to the watch part's fault tests.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type Etcd, EtcdError, Range } from 'etcdkit';
import { FailoverRig } from './failover-support.js';
import { errorName, FaultRecord, SettlementTracker, sleep, tally } from './support.js';

const IN_FLIGHT = 40;
const DELAY_MS = 300;
const CALL_TIMEOUT_MS = 5_000;
const SETTLE_GUARD_MS = CALL_TIMEOUT_MS + 1_000;

const record = new FaultRecord('F6', 'endpoint list changed at runtime with calls in flight');

/** Starts IN_FLIGHT calls, half puts of unique keys and half gets, and tracks them. */
function startCalls(etcd: Etcd, tracker: SettlementTracker, prefix: string): Array<Promise<unknown>> {
  return Array.from({ length: IN_FLIGHT }, (_, i) =>
    i % 2 === 0
      ? tracker.track(`put ${prefix}${i}`, () => etcd.put(`${prefix}${i}`, String(i), { timeoutMs: CALL_TIMEOUT_MS })).promise
      : tracker.track(`get ${prefix}${i - 1}`, () => etcd.get(`${prefix}${i - 1}`, { timeoutMs: CALL_TIMEOUT_MS })).promise,
  );
}

async function settleWithin(promises: Array<Promise<unknown>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(promises), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

describe('F6: endpoint list changed at runtime', () => {
  const rig = new FailoverRig();

  afterAll(async () => {
    await rig.close();
    record.config = {
      inFlight: IN_FLIGHT,
      proxyDelayMs: DELAY_MS,
      callTimeoutMs: CALL_TIMEOUT_MS,
      a: 'client on [delayed proxy → m1]; setEndpoints([m2, m3]) ~100 ms after starting the calls',
      b: 'client on [delayed proxy → m2, m3]; setEndpoints([m3, delayed proxy → m2, m1]) ~100 ms after starting the calls',
      notCovered: 'watchers moving with their cursor (watch fault tests)',
    };
    await record.write(
      `(a) ${JSON.stringify(record.figures['aOutcomes'])}, (b) ${JSON.stringify(record.figures['bOutcomes'])}, lost acked writes ${JSON.stringify(record.figures['aLostAckedWrites'])}`,
    );
  });

  it('(a) dropping the pinned endpoint lets in-flight calls finish or fail typed', async () => {
    record.begin('a');
    const cluster = await rig.start(false);
    record.etcdVersion = (await cluster.members[0]!.status()).version;
    const [m1, m2, m3] = cluster.members;
    const slow = await rig.proxy({ target: m1!.endpoint, delayMs: DELAY_MS });
    const etcd = rig.client({ endpoints: [slow.endpoint] });
    await etcd.put('f6/warm', '1');

    const tracker = new SettlementTracker();
    const calls = startCalls(etcd, tracker, 'f6/a/');
    await sleep(100);
    etcd.setEndpoints([m2!.endpoint, m3!.endpoint]);
    record.mark('a: endpoints replaced', { from: [slow.endpoint], to: [m2!.endpoint, m3!.endpoint] });
    const acceptedAtChange = (await slow.stats()).accepted;
    await settleWithin(calls, SETTLE_GUARD_MS);

    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => etcd.get(`f6/a/${2 * i}`)));
    const acked = tracker.all.filter((s) => s.label.startsWith('put') && s.outcome === 'resolved').map((s) => s.label.slice(4));
    const stored = new Set((await etcd.range(Range.key('f6/a/').withPrefix())).kvs.map((kv) => kv.keyText()));
    const lost = acked.filter((key) => !stored.has(key));
    const deadline = Date.now() + 3_000;
    while ((await slow.stats()).live > 0 && Date.now() < deadline) await sleep(50);
    const slowStats = await slow.stats();
    const outcomes = tally(tracker.all.map((s) => (s.outcome === 'rejected' ? errorName(s.error) : s.outcome)));

    record.figures['aOutcomes'] = outcomes;
    record.figures['aLostAckedWrites'] = lost.length;
    record.figures['aRejectedMaybeApplied'] = tracker.all.filter((s) => s.error instanceof EtcdError && s.error.maybeApplied).length;
    record.figures['aInfoAfter'] = etcd.info().map((e) => ({ endpoint: e.endpoint, pinned: e.pinned, state: e.state.status }));
    record.figures['aDroppedProxy'] = { acceptedAtChange, acceptedAfter: slowStats.accepted, liveAfter: slowStats.live };
    record.check('(a) nothing left pending', tracker.pending().length === 0, tracker.pending().map((s) => s.label));
    record.check('(a) nothing settled twice', tracker.settledMoreThanOnce().length === 0);
    record.check(
      '(a) every rejection is a typed EtcdError',
      tracker.all.every((s) => s.outcome !== 'rejected' || s.error instanceof EtcdError),
      outcomes,
    );
    record.check('(a) no acknowledged write lost', lost.length === 0, lost);
    record.check('(a) calls after the change succeed', after.every((kv) => kv === undefined || kv.keyText().startsWith('f6/a/')));
    record.check(
      '(a) the client now lists only the new endpoints',
      JSON.stringify(etcd.info().map((e) => e.endpoint)) === JSON.stringify([m2!.endpoint, m3!.endpoint]),
    );
    record.check('(a) no new connection to the dropped endpoint, and none left open', slowStats.accepted === acceptedAtChange && slowStats.live === 0, slowStats);
    record.end('a');
    expect(record.failed()).toEqual([]);
  }, 60_000);

  it('(b) a change that keeps the pinned endpoint disturbs nothing', async () => {
    record.begin('b');
    const [m1, m2, m3] = rig.cluster.members;
    const slow = await rig.proxy({ target: m2!.endpoint, delayMs: DELAY_MS });
    const etcd = rig.client({ endpoints: [slow.endpoint, m3!.endpoint] });
    await etcd.put('f6/warm', '2');
    const tracker = new SettlementTracker();
    const calls = startCalls(etcd, tracker, 'f6/b/');
    await sleep(100);
    etcd.setEndpoints([m3!.endpoint, slow.endpoint, m1!.endpoint]);
    record.mark('b: endpoints reordered and extended');
    await settleWithin(calls, SETTLE_GUARD_MS);
    const outcomes = tally(tracker.all.map((s) => (s.outcome === 'rejected' ? errorName(s.error) : s.outcome)));
    const pinned = etcd.info().find((e) => e.pinned)?.endpoint;
    record.figures['bOutcomes'] = outcomes;
    record.figures['bPinnedAfter'] = pinned === slow.endpoint ? 'unchanged' : pinned;
    record.check('(b) every in-flight call succeeded', tracker.all.every((s) => s.outcome === 'resolved'), outcomes);
    record.check('(b) the pin stayed on its endpoint', pinned === slow.endpoint, pinned);
    record.check('(b) the connection was kept (one connection through the proxy)', (await slow.stats()).accepted === 1);
    record.end('b');
    expect(record.failed()).toEqual([]);
  }, 30_000);
});
