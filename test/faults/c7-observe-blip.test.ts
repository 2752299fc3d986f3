/**
 * C7 (RELIABILITY 8.D; etcd #18163): an observer's connection is cut (and refused) while the
 * leader changes twice and proclaims, then healed. `observe()` must end on the true current
 * leader, checked against a read of the oldest candidate key (key, term, value and revision),
 * without reporting any leader value twice or going back to an older term; then a period with
 * no leader, across another cut, is not reported, and the next leader is. Both the election
 * service's Observe stream and the recipe's watch.
 * Figures: time from the heal to the true leader being reported; what was reported.
 */
import { describe, expect, it } from 'vitest';
import { type KeyValue, Range } from 'etcdkit';
import { startFaultProxy } from 'etcdkit/testing';
import { until } from '../admin/support.js';
import { useLeaseScenario } from './lease-probe.js';
import { FaultRecord, round, sleep } from './support.js';

const record = new FaultRecord('C7', 'observe across a cut during a leader change');
const scenario = useLeaseScenario(record, { modes: ['service', 'recipe'], cutMs: 1_000 }, () => {
  const f = record.figures;
  return `heal → true leader: service ${JSON.stringify(f['service healToTrueLeaderMs'])} ms, recipe ${JSON.stringify(f['recipe healToTrueLeaderMs'])} ms`;
});

const same = (a: KeyValue | undefined, b: KeyValue | undefined): boolean =>
  a !== undefined && b !== undefined && a.key.equals(b.key) && a.createRevision === b.createRevision && a.modRevision === b.modRevision && a.value.equals(b.value);

describe('C7: observe across a blip', () => {
  it.each(['service', 'recipe'] as const)('%s: ends on the true current leader', async (mode) => {
    record.begin(mode);
    const direct = scenario.client();
    const proxy = await startFaultProxy({ target: scenario.server.endpoint });
    scenario.track(proxy);
    const watching = scenario.client({ endpoints: [proxy.endpoint], grpcOptions: { 'grpc.max_reconnect_backoff_ms': 500 } });
    const name = `c7/${mode}`;
    const election = direct.election(name, { mode });
    const seen: KeyValue[] = [];
    const observer = watching.election(name, { mode }).observe();
    const observing = (async () => {
      for await (const leader of observer) seen.push(leader);
    })();

    const a = await election.campaign('A', { ttl: 10 });
    await until(() => seen.length, (n) => n >= 1, 5_000);
    const candidates = (): Promise<number> => direct.range(Range.key(`${name}/`).withPrefix().withCountOnly()).then((r) => Number(r.count));
    const b = election.campaign('B', { ttl: 10 });
    await until(candidates, (n) => n === 2, 5_000);
    const c = election.campaign('C', { ttl: 10 });
    await until(candidates, (n) => n === 3, 5_000);
    await proxy.refuse();
    record.mark(`${mode}: observer cut`);
    await a.resign();
    const leaderB = await b;
    await leaderB.proclaim('B2');
    await leaderB.resign();
    const leaderC = await c;
    await leaderC.proclaim('C2');
    await sleep(1_000);
    await proxy.heal();
    const healedAt = performance.now();
    record.mark(`${mode}: healed`);
    const truth = await election.leader();
    await until(() => same(seen.at(-1), truth), (ok) => ok, 10_000);
    const healToTrueLeaderMs = round(performance.now() - healedAt);

    // No leader across another cut: nothing is reported; the next leader is.
    const reportedBefore = seen.length;
    await proxy.refuse();
    await leaderC.resign();
    await sleep(500);
    await proxy.heal();
    await sleep(1_500);
    const reportedWithoutLeader = seen.length - reportedBefore;
    const d = await election.campaign('D', { ttl: 10 });
    await until(() => seen.at(-1)?.text(), (text) => text === 'D', 10_000);
    await observer.close();
    await observing;
    await d.resign();

    let repeated = 0;
    let backwards = 0;
    for (let i = 1; i < seen.length; i++) {
      const previous = seen[i - 1]!;
      const next = seen[i]!;
      if (same(previous, next)) repeated++;
      if (next.createRevision < previous.createRevision || (next.createRevision === previous.createRevision && next.modRevision <= previous.modRevision)) {
        backwards++;
      }
    }
    const texts = seen.map((kv) => kv.text());
    Object.assign(record.figures, {
      [`${mode} reported`]: texts,
      [`${mode} healToTrueLeaderMs`]: healToTrueLeaderMs,
      [`${mode} reportedWhileNoLeader`]: reportedWithoutLeader,
    });
    record.check(`${mode}: after the heal, the last report is the true leader (${truth?.text()})`, truth?.text() === 'C2');
    record.check(`${mode}: no leader value reported twice`, repeated === 0, repeated);
    record.check(`${mode}: never back to an older term or value`, backwards === 0, backwards);
    record.check(`${mode}: no report while there was no leader`, reportedWithoutLeader === 0, reportedWithoutLeader);
    record.check(`${mode}: the next leader is reported`, texts.at(-1) === 'D', texts.at(-1));
    record.end(mode);
    expect(record.failed()).toEqual([]);
  });
});
