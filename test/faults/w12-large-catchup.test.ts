/**
 * W12 (RELIABILITY 8.A and 0.8): large catch-up responses.
 *
 * 40 revisions of 1 MiB values on one key, and 10 keys of 1 MiB in a range, written before the
 * watchers start. A watcher from revision 1 with prev_kv (its catch-up is one ~80 MiB message,
 * as 3.4 batches up to 1000 revisions per response), the range watcher, and the same two with
 * `withFragment()` (the server splits, the SDK reassembles).
 *
 * → Everything is delivered whole and once (receive limit raised, fragments reassembled), with
 * no RESOURCE_EXHAUSTED reconnect loop (no resume, one Watch stream on the server).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd, Watch } from 'etcdkit';
import { startEtcd, type EtcdServer } from 'etcdkit/testing';
import { FaultRecord, now, round, sleep } from './support.js';
import {
  type AckedWrite,
  Collector,
  compareDelivered,
  counts,
  isExact,
  spyWatchResponses,
  valueId,
  waitForGauges,
  waitUntil,
  writerEventLog,
} from './watch-support.js';

const MIB = 1024 * 1024;
const BIG = 'w12/big';
const RANGE = 'w12/r/';
const record = new FaultRecord('W12', 'large catch-up responses (40 x 1 MiB revisions with prev_kv, 10 x 1 MiB range)');

/** A 1 MiB value unique to `seq`. */
function bigValue(seq: number): Buffer {
  const seed = createHash('sha256').update(`w12-${seq}`).digest();
  const value = Buffer.alloc(MIB);
  for (let offset = 0; offset < MIB; offset += seed.length) seed.copy(value, offset);
  return value;
}

describe('W12: large catch-up responses', () => {
  let server: EtcdServer | undefined;
  const clients: Etcd[] = [];
  const log: AckedWrite[] = [];
  let lastRevision = 0n;

  beforeAll(async () => {
    server = await startEtcd({ keepDataOnFailure: true });
    record.etcdVersion = (await server.status()).version;
    const writer = new Etcd({ endpoints: [server.endpoint] });
    clients.push(writer);
    const started = now();
    for (let i = 0; i < 50; i++) {
      const key = i < 40 ? BIG : `${RANGE}k${i - 40}`;
      const value = bigValue(i);
      const put = await writer.put(key, value, { timeoutMs: 10_000 });
      log.push({ seq: i, revision: put.header.revision, events: [{ key, type: 'put', value: valueId(value) }], ackedAt: now() });
      lastRevision = put.header.revision;
    }
    record.config = {
      writes: '40 x 1 MiB on one key, then 10 keys x 1 MiB',
      writeMs: round(now() - started),
      lastRevision,
      client: 'etcdkit defaults (receive limit 2^31-1)',
      oracle: 'the writer log (nothing compacted, every write acknowledged)',
    };
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    const f = record.figures as Record<string, Record<string, unknown> | undefined>;
    await record.write(
      ['whole', 'fragment']
        .map((v) => `${v}: largest message ${String(f[v]?.['largestMessageMiB'])} MiB, ${String(f[v]?.['messages'])} messages, ${String(f[v]?.['timeMs'])} ms, peak RSS ${String(f[v]?.['peakRssMiB'])} MiB (+${String(f[v]?.['peakRssGrowthMiB'])}), events ${JSON.stringify(f[v]?.['events'])}`)
        .join('; '),
    );
    if (record.verdict !== 'pass') server?.recordFailure('W12 failed');
    await server?.close();
  });

  for (const variant of ['whole', 'fragment'] as const) {
    it(`${variant}: delivers the catch-up whole and once, without a reconnect loop`, async () => {
      record.begin(variant);
      const s = server!;
      const client = new Etcd({ endpoints: [s.endpoint] });
      clients.push(client);
      const fragment = variant === 'fragment';
      const oracle = writerEventLog(log);
      const before = (await waitForGauges(s, () => true, 1_000)).gauges!;
      const spy = spyWatchResponses();
      let peakRss = process.memoryUsage().rss;
      const rssBefore = peakRss;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          await sleep(10);
        }
      })();
      const started = now();
      let big: Collector | undefined;
      let range: Collector | undefined;
      try {
        big = new Collector(client.watch(Watch.key(BIG).withStartRevision(1).withPrevKv().withFragment(fragment)), 'big');
        range = new Collector(client.watch(Watch.key(`${RANGE}k0`).withRange(`${RANGE}k9\0`).withStartRevision(1).withFragment(fragment)), 'range');
        const done = await waitUntil(() => big!.events >= 40 && range!.events >= 10, 60_000, 20);
        const timeMs = now() - started;
        await sleep(200);
        sampling = false;
        await sampler;
        const after = (await waitForGauges(s, () => true, 1_000)).gauges!;
        const cBig = compareDelivered({ key: BIG, rangeEnd: '', prevKv: true, from: 1n }, big.batches, oracle, lastRevision);
        const cRange = compareDelivered({ key: `${RANGE}k0`, rangeEnd: `${RANGE}k9\0`, from: 1n }, range.batches, oracle, lastRevision);
        const messages = spy.responses.filter((m) => m.events > 0);
        const largest = Math.max(...spy.responses.map((m) => m.bytes));
        const stats = [big.watcher.stats, range.watcher.stats];
        record.figures[variant] = {
          events: { big: counts(cBig), range: counts(cRange) },
          timeMs: round(timeMs),
          messages: messages.length,
          fragments: messages.filter((m) => m.fragment).length,
          largestMessageBytes: largest,
          largestMessageMiB: round(largest / MIB, 2),
          batchesDelivered: { big: big.batches.length, range: range.batches.length },
          rssBeforeMiB: round(rssBefore / MIB),
          peakRssMiB: round(peakRss / MIB),
          peakRssGrowthMiB: round((peakRss - rssBefore) / MIB),
          maxRssOfProcessMiB: round((process.resourceUsage().maxRSS * 1024) / MIB),
          watchStreamsStarted: after.watchStreamsStarted - before.watchStreamsStarted,
          resumes: stats.map((x) => x.resumes),
        };
        record.check(`${variant}: everything delivered`, done);
        record.check(`${variant}: 40 revisions with prev_kv, each once, whole and in order`, isExact(cBig) && cBig.expected === 40, cBig);
        record.check(`${variant}: the 10-key range, each once, whole and in order`, isExact(cRange) && cRange.expected === 10, cRange);
        record.check(`${variant}: no reconnect (no resume, one new Watch stream on the server)`, stats.every((x) => x.resumes === 0) && after.watchStreamsStarted - before.watchStreamsStarted === 1, {
          resumes: stats.map((x) => x.resumes),
          streams: after.watchStreamsStarted - before.watchStreamsStarted,
        });
        record.check(`${variant}: no watcher ended`, big.watcher.active && range.watcher.active, [String(big.error), String(range.error)]);
        if (fragment) record.check('fragment: the server did fragment', messages.some((m) => m.fragment));
        else record.check('whole: the catch-up came as one message over 64 MiB (3.4 batches revisions)', largest > 64 * MIB, largest);
      } finally {
        sampling = false;
        spy.restore();
        await Promise.all([big?.watcher.cancel(), range?.watcher.cancel()]);
        await client.close();
      }
      record.end(variant);
      expect(record.failed()).toEqual([]);
    }, 90_000);
  }
});
