/**
 * W6 (RELIABILITY 8.A; dotnet-etcd #313, Go PR #4564): a watcher started at "now" and
 * disconnected before its first event.
 *
 * 100 repetitions: create a watcher without a start revision, wait for `created`, make the
 * proxy refuse (live connections are cut), put the key once while disconnected, heal. The
 * event must be delivered (once): the watcher resumes at its creation revision + 1, not at
 * "now again". Also: `created` resolves only after the server's ack (not while the request is
 * stuck behind a frozen link).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Watch } from 'etcdkit';
import { FaultRecord, now, percentile, round, sleep, useProxiedEtcd } from './support.js';
import { Collector, waitForGauges, waitUntil } from './watch-support.js';

const REPETITIONS = 100;
const record = new FaultRecord('W6', 'a watcher started at "now" disconnected before its first event');

describe('W6: "from now" watcher cut before its first event', () => {
  const etcd = useProxiedEtcd(record, {
    summary: () => {
      const f = record.figures;
      return `lost ${String(f['eventsLost'])} of ${String(f['repetitions'])}, duplicates ${String(f['duplicates'])}; heal -> event ${JSON.stringify(f['healToEventMs'])}`;
    },
  });

  beforeAll(() => {
    record.config = {
      repetitions: REPETITIONS,
      fault: 'proxy refuse (cuts live connections, resets new ones) -> one put on the direct endpoint -> heal',
      oracle: 'the put acknowledged by the direct client (nothing else writes the key)',
    };
  });

  it('created resolves only after the server acknowledged the watcher', async () => {
    record.begin('created-after-ack');
    const p = etcd.proxy;
    const s = etcd.server;
    const client = etcd.client();
    // Open the stream first, so the create below goes out on a live (then frozen) connection.
    const first = client.watch('w6/ack/first');
    await first.created;
    const base = (await waitForGauges(s, () => true, 1_000)).gauges!.watchers;
    await p.freeze();
    const watcher = client.watch('w6/ack/second');
    let resolvedAt: number | undefined;
    void watcher.created.then(() => (resolvedAt = now()));
    await sleep(500);
    const whileFrozen = resolvedAt;
    const gaugeWhileFrozen = (await waitForGauges(s, () => true, 1_000)).gauges!.watchers;
    const healedAt = now();
    await p.heal();
    await watcher.created;
    const gaugeAfter = (await waitForGauges(s, () => true, 1_000)).gauges!.watchers;
    record.figures['createdAfterAck'] = {
      resolvedWhileFrozen: whileFrozen !== undefined,
      serverWatchersWhileFrozen: gaugeWhileFrozen - base,
      healToCreatedMs: resolvedAt === undefined ? null : round(resolvedAt - healedAt),
      serverWatchersAfter: gaugeAfter - base,
    };
    record.check('created did not resolve while the create could not reach the server', whileFrozen === undefined && gaugeWhileFrozen === base);
    record.check('created resolved after the heal, with the watcher on the server', resolvedAt !== undefined && gaugeAfter === base + 1);
    await Promise.all([first.cancel(), watcher.cancel()]);
    record.end('created-after-ack');
    expect(record.failed()).toEqual([]);
  });

  it(`delivers the event put while disconnected, ${REPETITIONS} times out of ${REPETITIONS}`, async () => {
    record.begin('repetitions');
    const p = etcd.proxy;
    const client = etcd.client();
    const direct = etcd.directClient();
    const failures: unknown[] = [];
    const healToEvent: number[] = [];
    let lost = 0;
    let duplicates = 0;
    let wrongCursor = 0;
    const began = now();
    for (let i = 0; i < REPETITIONS; i++) {
      const key = `w6/r${String(i).padStart(3, '0')}`;
      const watcher = client.watch(Watch.key(key));
      const collector = new Collector(watcher, key);
      await watcher.created;
      const cursor = watcher.resumeRevision!;
      await p.refuse();
      const put = await direct.put(key, `v${i}`);
      await p.heal();
      const healedAt = now();
      const got = await waitUntil(() => collector.events >= 1, 10_000, 2);
      if (got) healToEvent.push(collector.batches[0]!.at - healedAt);
      // Would a second copy arrive? Give it a moment.
      await sleep(20);
      await watcher.cancel();
      await collector.done;
      const events = collector.allEvents();
      const ok = watcher.stats.resumes === 1 && events.length === 1 && events[0]!.revision === put.header.revision && events[0]!.value === Buffer.from(`v${i}`).toString('base64');
      if (!got) lost++;
      if (events.length > 1) duplicates += events.length - 1;
      if (!(cursor <= put.header.revision)) wrongCursor++;
      if (!ok) failures.push({ i, cursor, putRevision: put.header.revision, events, stats: watcher.stats, error: String(collector.error) });
    }
    record.figures['repetitions'] = REPETITIONS;
    record.figures['eventsLost'] = lost;
    record.figures['duplicates'] = duplicates;
    record.figures['healToEventMs'] = {
      p50: round(percentile(healToEvent, 50)),
      p99: round(percentile(healToEvent, 99)),
      max: round(Math.max(...healToEvent)),
    };
    record.figures['runtimeMs'] = round(now() - began);
    record.check('events lost = 0', lost === 0, lost);
    record.check('no duplicate', duplicates === 0, duplicates);
    record.check('cursor after created = creation revision + 1 (at or below the put)', wrongCursor === 0, wrongCursor);
    record.check('every repetition delivered exactly its one event, after exactly one resume', failures.length === 0, failures.slice(0, 5));
    record.end('repetitions');
    expect(record.failed()).toEqual([]);
  }, 90_000);
});
