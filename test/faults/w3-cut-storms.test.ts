/**
 * W3 (RELIABILITY 8.A): cut storms. The fault proxy destroys every live connection pair of the
 * SDK client; the server and an independent writer (direct endpoint) stay up.
 *
 * (a) Cut every 5 ms for 2 s while 100 watchers are being created (ReconnRequest).
 * (b) Cut right after `created`, before any event (ReconnInit), 20 times.
 * (c) 10 cuts at seeded random times during 14 s of writes at 500/s, under 20 watchers.
 *
 * Every watcher's log must equal the oracle (JSON gateway watch) filtered by that watcher:
 * 0 missing, 0 duplicate, 0 out of order, every revision in one batch.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Watch } from 'etcdkit';
import { FaultRecord, now, percentile, round, sleep, useProxiedEtcd } from './support.js';
import {
  Collector,
  compareAll,
  compareDelivered,
  counts,
  isExact,
  json,
  prefixEnd,
  prng,
  readEventLog,
  type Running,
  standardSubjects,
  startSubjects,
  type Subject,
  waitCaughtUp,
  waitForGauges,
  waitUntil,
  Writer,
} from './watch-support.js';

const SEED = Number(process.env['W3_SEED'] ?? 3);
const record = new FaultRecord('W3', 'cut storms: while creating, right after created, and random cuts under load');

describe('W3: cut storms', () => {
  const etcd = useProxiedEtcd(record, {
    summary: () => {
      const f = record.figures as Record<string, { events?: unknown; resumeLatencyMs?: unknown } | undefined>;
      return `a: ${json(f['a']?.events)}; b: ${json(f['b']?.events)}; c: ${json(f['c']?.events)}, resume ${json(f['c']?.resumeLatencyMs)}`;
    },
  });

  beforeAll(() => {
    record.seed = SEED;
    record.config = {
      watchClient: 'etcdkit through the fault proxy (a new client per part)',
      writer: 'etcdkit on the direct endpoint',
      oracle: 'JSON gateway /v3/watch of each part prefix with prev_kv',
      a: { cutEveryMs: 5, stormMs: 2_000, watchers: 100, writeRatePerSec: 200 },
      b: { repetitions: 20 },
      c: { cuts: 10, writeMs: 14_000, writeRatePerSec: 500, watchers: 20, minCutSpacingMs: 1_000 },
    };
  });

  it('(a) cut every 5 ms for 2 s while creating 100 watchers', async () => {
    record.begin('a');
    const s = etcd.server;
    const p = etcd.proxy;
    const prefix = 'w3a/';
    const keys = Array.from({ length: 10 }, (_, i) => `${prefix}k${i}`);
    const watchClient = etcd.client();
    const direct = etcd.directClient();
    const start = (await direct.put(`${prefix}start`, 'x')).header.revision + 1n;
    const writer = new Writer({ client: direct, keys, ratePerSec: 200, durationMs: 3_500, txnEvery: 20, deleteEvery: 9, seed: SEED }).start();
    // Subjects cycle through the standard 20 kinds; every fifth kind-cycle is "from now".
    const kinds = standardSubjects(prefix, keys);
    const running: Running[] = [];
    let stop = false;
    let cuts = 0;
    let cutErrors = 0;
    const stormStart = now();
    record.mark('a: storm start');
    const storm = (async () => {
      while (!stop && now() - stormStart < 2_000 && cuts < 1_000) {
        try {
          await p.cut();
          cuts++;
        } catch {
          cutErrors++;
        }
        await sleep(5);
      }
    })();
    for (let i = 0; i < 100 && now() - stormStart < 2_000; i++) {
      const subject = kinds[i % kinds.length]!;
      const watcher = watchClient.watch(subject.build(subject.fromNow ? undefined : start));
      const entry: Running = { subject, watcher, collector: new Collector(watcher, `${subject.name} #${i}`), from: start };
      if (subject.fromNow) void watcher.created.then(() => (entry.from = watcher.resumeRevision!), () => undefined);
      running.push(entry);
      await sleep(18);
    }
    await storm;
    stop = true;
    const stormEnd = now();
    record.mark('a: storm end', { cuts, cutErrors, watchersCreated: running.length });
    const created = await Promise.race([
      Promise.allSettled(running.map((r) => r.watcher.created)),
      sleep(15_000).then(() => 'timeout' as const),
    ]);
    const createdAt = now();
    const onServer = await waitForGauges(s, (g) => g.watchers === running.length && g.streams === 1, 10_000);
    await writer.done;
    const until = writer.lastRevision;
    const oracle = await readEventLog({ clientUrl: s.clientUrl, key: prefix, rangeEnd: prefixEnd(prefix), startRevision: start, untilRevision: until });
    const caughtUp = await waitCaughtUp(running, oracle, until);
    const { total, per } = compareAll(running, oracle, until);
    const ended = running.filter((r) => !r.watcher.active).map((r) => `${r.collector.label}: ${String(r.collector.error)}`);
    const stats = running.map((r) => r.watcher.stats);
    record.figures['a'] = {
      events: counts(total),
      cuts,
      stormMs: round(stormEnd - stormStart),
      watchers: running.length,
      stormEndToAllCreatedMs: round(createdAt - stormEnd),
      allOnServer: onServer.gauges,
      writer: writer.summary(),
      staleEventsDropped: stats.reduce((sum, x) => sum + x.staleEventsDropped, 0),
      perWatcherSample: Object.fromEntries(Object.entries(per).slice(0, 5)),
    };
    record.check('a: the cut loop ran', cuts > 100 && cutErrors === 0, { cuts, cutErrors });
    record.check(
      'a: every created promise resolved',
      created !== 'timeout' && created.every((c) => c.status === 'fulfilled'),
      created === 'timeout' ? 'timeout' : created.filter((c) => c.status === 'rejected').map((c) => String((c).reason)),
    );
    record.check('a: every watcher is on the server after the storm (one stream)', onServer.ms !== undefined, onServer.gauges);
    record.check('a: all watchers caught up', caughtUp);
    record.check('a: 0 missing, 0 duplicate, 0 out of order, every revision in one batch', isExact(total), total);
    record.check('a: no watcher ended', ended.length === 0, ended);
    await Promise.all(running.map((r) => r.watcher.cancel()));
    record.end('a');
    expect(record.failed()).toEqual([]);
  }, 60_000);

  it('(b) cut right after created, before any event, 20 times', async () => {
    record.begin('b');
    const p = etcd.proxy;
    const prefix = 'w3b/';
    const watchClient = etcd.client();
    const direct = etcd.directClient();
    const results: Array<{ fromNow: boolean; from: bigint; delivered: number; ok: boolean; cutToEventMs: number; c: ReturnType<typeof compareDelivered> }> = [];
    for (let i = 0; i < 20; i++) {
      const key = `${prefix}r${i}`;
      const fromNow = i % 2 === 0;
      // Outside the watched key: the first put to it comes at this revision or later.
      const next = (await direct.put(`${prefix}tick`, String(i))).header.revision + 1n;
      const watcher = watchClient.watch(fromNow ? Watch.key(key) : Watch.key(key).withStartRevision(next));
      const collector = new Collector(watcher, key);
      await watcher.created;
      const from = watcher.resumeRevision!;
      await p.cut();
      const cutAt = now();
      const first = await direct.put(key, 'one');
      const second = await direct.put(key, 'two');
      const got = await waitUntil(() => collector.lastRevision >= second.header.revision, 10_000);
      const cutToEventMs = (collector.batches[0]?.at ?? Infinity) - cutAt;
      await sleep(50);
      await watcher.cancel();
      await collector.done;
      const oracle = [
        { key, type: 'put' as const, revision: first.header.revision, value: Buffer.from('one').toString('base64'), prev: undefined },
        { key, type: 'put' as const, revision: second.header.revision, value: Buffer.from('two').toString('base64'), prev: undefined },
      ];
      const c = compareDelivered({ key, rangeEnd: '', from }, collector.batches, oracle, second.header.revision);
      results.push({ fromNow, from, delivered: collector.events, ok: got && isExact(c) && c.expected === 2, cutToEventMs, c });
    }
    const total = results.reduce(
      (sum, r) => ({ expected: sum.expected + r.c.expected, delivered: sum.delivered + r.c.delivered, missing: sum.missing + r.c.missing, duplicate: sum.duplicate + r.c.duplicate, outOfOrder: sum.outOfOrder + r.c.outOfOrder }),
      { expected: 0, delivered: 0, missing: 0, duplicate: 0, outOfOrder: 0 },
    );
    const latencies = results.map((r) => r.cutToEventMs);
    record.figures['b'] = {
      events: total,
      repetitions: results.length,
      cutToFirstEventMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(Math.max(...latencies)) },
    };
    const bad = results.filter((r) => !r.ok);
    record.check('b: every repetition delivered both events exactly once, in order', bad.length === 0, bad.map((r) => ({ fromNow: r.fromNow, from: r.from, c: r.c })));
    record.end('b');
    expect(record.failed()).toEqual([]);
  }, 60_000);

  it('(c) 10 cuts at random times during 14 s at 500 writes/s', async () => {
    record.begin('c');
    const s = etcd.server;
    const p = etcd.proxy;
    const prefix = 'w3c/';
    const keys = Array.from({ length: 10 }, (_, i) => `${prefix}k${i}`);
    const subjects: Subject[] = standardSubjects(prefix, keys);
    const watchClient = etcd.client();
    const direct = etcd.directClient();
    const start = (await direct.put(`${prefix}start`, 'x')).header.revision + 1n;
    const running = await startSubjects(watchClient, subjects, start);
    await waitForGauges(s, (g) => g.watchers === subjects.length, 2_000);

    // 10 cut times in [0.5 s, 13 s], at least 1 s apart, from the seed.
    const random = prng(SEED);
    const times: number[] = [];
    for (let attempt = 0; times.length < 10 && attempt < 10_000; attempt++) {
      const t = 500 + Math.floor(random() * 12_500);
      if (times.every((x) => Math.abs(x - t) >= 1_000)) times.push(t);
    }
    times.sort((a, b) => a - b);
    record.config['cTimesMs'] = times;

    const writer = new Writer({ client: direct, keys, ratePerSec: 500, durationMs: 14_000, maxInFlight: 16, txnEvery: 25, deleteEvery: 10, seed: SEED }).start();
    const began = now();
    const resumes: Array<{ atMs: number; resumeMs: number | null }> = [];
    for (const t of times) {
      const wait = began + t - now();
      if (wait > 0) await sleep(wait);
      const before = await waitForGauges(s, () => true, 1_000);
      const startedBefore = before.gauges?.watchStreamsStarted ?? 0;
      await p.cut();
      const cutAt = now();
      // Resumed = a new Watch stream started on the server, the old one gone, and all 20 watchers on it.
      const resumed = await waitForGauges(s, (g) => g.watchStreamsStarted > startedBefore && g.streams === 1 && g.watchers === subjects.length, 3_000);
      const resumeMs = resumed.ms === undefined ? null : round(resumed.ms);
      resumes.push({ atMs: round(cutAt - began), resumeMs });
      record.mark('c: cut', { atMs: round(cutAt - began), resumeMs });
    }
    await writer.done;
    const until = writer.lastRevision;
    const oracle = await readEventLog({ clientUrl: s.clientUrl, key: prefix, rangeEnd: prefixEnd(prefix), startRevision: start, untilRevision: until });
    const caughtUp = await waitCaughtUp(running, oracle, until);
    const { total, per } = compareAll(running, oracle, until);
    const ended = running.filter((r) => !r.watcher.active).map((r) => `${r.subject.name}: ${String(r.collector.error)}`);
    const stats = running.map((r) => r.watcher.stats);
    const latencies = resumes.map((r) => r.resumeMs ?? Infinity);
    record.figures['c'] = {
      events: counts(total),
      perWatcher: per,
      oracleEvents: oracle.length,
      writer: writer.summary(),
      resumeLatencyMs: {
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(Math.max(...latencies)),
        all: resumes.map((r) => r.resumeMs),
        note: 'cut -> a new Watch stream started on the server with all 20 watchers (gauges polled every 10 ms)',
      },
      eventsReplayedOnResume: stats.reduce((sum, x) => sum + x.staleEventsDropped, 0),
      resumesPerWatcher: stats.map((x) => x.resumes),
    };
    record.check('c: exactly one resume per watcher per cut (stats.resumes = 10)', stats.every((x) => x.resumes === times.length), stats.map((x) => x.resumes));
    record.check('c: every cut was followed by a resume', resumes.every((r) => r.resumeMs !== null), resumes);
    record.check('c: all watchers caught up', caughtUp);
    record.check('c: 0 missing, 0 duplicate, 0 out of order, every revision in one batch', isExact(total), total);
    record.check('c: no watcher ended', ended.length === 0, ended);
    await Promise.all(running.map((r) => r.watcher.cancel()));
    record.end('c');
    expect(record.failed()).toEqual([]);
  }, 90_000);
});
