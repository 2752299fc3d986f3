/**
 * S1 (RELIABILITY 8.E; microsoft/etcd3 #62, jetcd #1510): 10,000 watchers on one stream.
 *
 * Distinct keys `/s/00000`…`/s/09999`, one SDK client through the fault proxy. Every create is
 * pipelined (client-chosen watch IDs). One put per key: each watcher gets exactly its own event.
 * Then the proxy refuses, one more put per key is written during the outage, and it heals: all
 * 10k watchers resume and each gets exactly that event. Half are cancelled, then the client is
 * closed: the server's watcher and watch-stream gauges return to the baseline within 2 s each
 * time (the stream is cancelled, not half-closed).
 *
 * Figures: creation rate (serial and pipelined), heap per watcher, event-burst latency,
 * 10k resume time, gauges.
 */
import { describe, expect, it } from 'vitest';
import { type Etcd, Watch, type Watcher } from 'etcdkit';
import { collectGarbage, FaultRecord, now, percentile, round, sleep, useProxiedEtcd } from './support.js';
import { Collector, waitForGauges, waitUntil, type WatchGauges } from './watch-support.js';

const N = 10_000;
const SERIAL = 500;
const WRITE_CONCURRENCY = 64;
const keyOf = (i: number): string => `/s/${String(i).padStart(5, '0')}`;
const record = new FaultRecord('S1', '10,000 concurrent watchers on one stream');

/** Puts `value` to every key, `WRITE_CONCURRENCY` at a time; returns per-key issue/ack time and revision. */
async function putAll(client: Etcd, value: string): Promise<Array<{ issuedAt: number; ackedAt: number; revision: bigint }>> {
  const out = new Array<{ issuedAt: number; ackedAt: number; revision: bigint }>(N);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < N) {
      const i = next++;
      const issuedAt = now();
      const put = await client.put(keyOf(i), value, { timeoutMs: 10_000 });
      out[i] = { issuedAt, ackedAt: now(), revision: put.header.revision };
    }
  };
  await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, lane));
  return out;
}

function tallyResumes(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

describe('S1: 10k watchers on one stream', () => {
  const etcd = useProxiedEtcd(record, {
    summary: () => {
      const f = record.figures;
      return (
        `creation ${JSON.stringify(f['creationRatePerSec'])}/s, heap/watcher ${JSON.stringify(f['heapPerWatcherBytes'])} B, burst ${JSON.stringify(f['eventBurstLatencyMs'])} ms, ` +
        `10k resume ${JSON.stringify(f['resume'])}, gauges ${JSON.stringify(f['gaugesBackToBaselineMs'])}`
      );
    },
  });

  it('creates, feeds, resumes and releases 10,000 watchers on one stream', async () => {
    record.begin('run');
    const s = etcd.server;
    const p = etcd.proxy;
    record.config = {
      watchers: N,
      keys: `${keyOf(0)}..${keyOf(N - 1)}`,
      serialCreations: SERIAL,
      writeConcurrency: WRITE_CONCURRENCY,
      watchClient: 'etcdkit through the fault proxy, all watchers "from now"',
      writer: 'etcdkit on the direct endpoint',
      fault: 'proxy refuse, one put per key, heal',
    };
    const client = etcd.client();
    const direct = etcd.directClient();
    await direct.put('/s/warmup', 'x');
    const baseline = (await waitForGauges(s, () => true, 1_000)).gauges!;
    const gauge = async (condition: (g: WatchGauges) => boolean, timeoutMs = 10_000) => waitForGauges(s, condition, timeoutMs, 20);

    // Serial creation: one create in flight at a time.
    const serialStart = now();
    const serial: Watcher[] = [];
    for (let i = 0; i < SERIAL; i++) {
      const w = client.watch(`/s/serial/${i}`);
      await w.created;
      serial.push(w);
    }
    const serialMs = now() - serialStart;
    await Promise.all(serial.map((w) => w.cancel()));
    const serialGone = await gauge((g) => g.watchers === baseline.watchers && g.streams === baseline.streams, 5_000);
    record.mark('serial creation done', { ms: round(serialMs) });

    // Pipelined creation of 10k, heap measured before any consumer is attached.
    collectGarbage();
    await sleep(200);
    const heapBefore = process.memoryUsage().heapUsed;
    const createStart = now();
    const watchers: Watcher[] = [];
    for (let i = 0; i < N; i++) watchers.push(client.watch(Watch.key(keyOf(i))));
    const sentMs = now() - createStart;
    const createdOutcome = await Promise.allSettled(watchers.map((w) => w.created));
    const createMs = now() - createStart;
    const allCreated = createdOutcome.every((o) => o.status === 'fulfilled');
    const onServer = await gauge((g) => g.watchers === baseline.watchers + N && g.streams === baseline.streams + 1);
    await sleep(500);
    const heapSettled = process.memoryUsage().heapUsed;
    const heapAfterGc = collectGarbage();
    record.mark('10k created', { ms: round(createMs) });

    const collectors = watchers.map((w, i) => new Collector(w, keyOf(i)));

    // Burst: one put per key.
    const burstStart = now();
    const first = await putAll(direct, 'one');
    const burstWriteMs = now() - burstStart;
    const gotFirst = await waitUntil(() => collectors.every((c) => c.events >= 1), 20_000, 50);
    const burstDeliveredMs = now() - burstStart;
    const fromAck = collectors.map((c, i) => (c.batches[0]?.at ?? Infinity) - first[i]!.ackedAt);
    const fromIssue = collectors.map((c, i) => (c.batches[0]?.at ?? Infinity) - first[i]!.issuedAt);
    const wrongFirst = collectors.filter((c, i) => {
      const events = c.allEvents();
      return events.length !== 1 || events[0]!.key !== keyOf(i) || events[0]!.revision !== first[i]!.revision;
    }).length;
    record.mark('burst delivered', { writeMs: round(burstWriteMs), deliveredMs: round(burstDeliveredMs) });

    // Outage: refuse, one put per key, heal.
    await p.refuse();
    const outageStart = now();
    record.mark('proxy refuses');
    const second = await putAll(direct, 'two');
    await p.heal();
    const healedAt = now();
    record.mark('proxy healed', { outageMs: round(healedAt - outageStart) });
    const recreated = await gauge((g) => g.watchers === baseline.watchers + N && g.streams === baseline.streams + 1 && g.watchStreamsStarted > baseline.watchStreamsStarted + 2, 20_000);
    const gotSecond = await waitUntil(() => collectors.every((c) => c.events >= 2), 30_000, 50);
    const resumedAllMs = now() - healedAt;
    await sleep(300);
    const wrongSecond = collectors.filter((c, i) => {
      const events = c.allEvents();
      return events.length !== 2 || events[1]!.key !== keyOf(i) || events[1]!.revision !== second[i]!.revision || events[1]!.value !== Buffer.from('two').toString('base64');
    });
    const stats = watchers.map((w) => w.stats);
    record.mark('10k resumed', { ms: round(resumedAllMs) });

    // Release: cancel half, then close the client.
    const cancelStart = now();
    await Promise.all(watchers.slice(0, N / 2).map((w) => w.cancel()));
    const cancelMs = now() - cancelStart;
    const afterCancel = await gauge((g) => g.watchers === baseline.watchers + N / 2, 2_000);
    const closeStart = now();
    await client.close();
    const afterClose = await gauge((g) => g.watchers === baseline.watchers && g.streams === baseline.streams, 2_000);
    const closeEnded = await waitUntil(() => watchers.slice(N / 2).every((w) => !w.active), 2_000);
    await Promise.all(collectors.map((c) => c.done));
    record.mark('released');

    const heapDelta = heapSettled - heapBefore;
    record.figures['creationRatePerSec'] = { serial: round(SERIAL / (serialMs / 1000)), pipelined: round(N / (createMs / 1000)) };
    record.figures['creationMs'] = { serial500: round(serialMs), pipelined10k: round(createMs), pipelinedRequestsQueuedMs: round(sentMs) };
    record.figures['heapPerWatcherBytes'] = {
      afterSettle: round(heapDelta / N),
      afterForcedGc: round((heapAfterGc - heapBefore) / N),
      note: 'heapUsed delta over 10k created watchers with no consumer attached; "afterForcedGc" uses v8.setFlagsFromString("--expose-gc")',
    };
    record.figures['eventBurstLatencyMs'] = {
      ackToEvent: { p50: round(percentile(fromAck, 50)), p99: round(percentile(fromAck, 99)), max: round(Math.max(...fromAck)) },
      putIssueToEvent: { p50: round(percentile(fromIssue, 50)), p99: round(percentile(fromIssue, 99)), max: round(Math.max(...fromIssue)) },
      burstWriteMs: round(burstWriteMs),
      burstAllDeliveredMs: round(burstDeliveredMs),
    };
    record.figures['resume'] = {
      outageMs: round(healedAt - outageStart),
      healToAllRecreatedOnServerMs: recreated.ms === undefined ? null : round(recreated.ms),
      healToAllEventsDeliveredMs: round(resumedAllMs),
      eventsReplayedOnResume: stats.reduce((sum, x) => sum + x.staleEventsDropped, 0),
    };
    record.figures['gauges'] = { baseline, afterCreate: onServer.gauges, afterCancelHalf: afterCancel.gauges, afterClose: afterClose.gauges };
    record.figures['gaugesBackToBaselineMs'] = {
      serialCancel: serialGone.ms === undefined ? null : round(serialGone.ms),
      cancelHalf: afterCancel.ms === undefined ? null : round(afterCancel.ms),
      close: afterClose.ms === undefined ? null : round(afterClose.ms),
    };
    record.figures['cancel5kMs'] = round(cancelMs);
    record.figures['closeMs'] = round(now() - closeStart);

    record.check('serial watchers removed from the server after cancel', serialGone.ms !== undefined, serialGone.gauges);
    record.check('every created promise resolved', allCreated, createdOutcome.filter((o) => o.status === 'rejected').length);
    record.check('all 10k watchers on the server, on one stream', onServer.ms !== undefined, onServer.gauges);
    record.check('burst: every watcher got exactly its own event', gotFirst && wrongFirst === 0, wrongFirst);
    record.check('outage: all 10k re-created on the server', recreated.ms !== undefined, recreated.gauges);
    record.check('outage: every watcher got exactly the event written during the outage', gotSecond && wrongSecond.length === 0, wrongSecond.slice(0, 3).map((c) => c.allEvents()));
    record.check('outage: exactly one resume per watcher', stats.every((x) => x.resumes === 1), tallyResumes(stats.map((x) => x.resumes)));
    record.check('cancel of 5k: server gauges back to baseline + 5k within 2 s', afterCancel.ms !== undefined, afterCancel.gauges);
    record.check('close(): server gauges back to baseline within 2 s', afterClose.ms !== undefined, afterClose.gauges);
    record.check('close(): the remaining watchers ended', closeEnded);
    record.end('run');
    expect(record.failed()).toEqual([]);
  }, 120_000);
});
