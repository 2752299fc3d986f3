/**
 * W2 (RELIABILITY 8.A): compaction past a watcher's cursor while it is disconnected.
 *
 * The watcher has delivered up to revision R. The proxy refuses connections; 100 revisions
 * are written and compacted to the latest; the proxy heals. The watcher must end with exactly
 * one `CompactedError` carrying the server's compact revision, soon after the heal (no silent
 * retry, no hang), and deliver nothing below the compaction. Resyncing (a read at the compact
 * revision, then a watch from the next one) works.
 *
 * W2b: a watcher whose cursor is already past the compaction (or exactly at it) when it
 * reconnects gets no error and every event once (TestWatchResumeCompacted's either/or rule).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CompactedError, type Etcd, Range, Watch } from 'etcdkit';
import { FaultRecord, now, round, useProxiedEtcd } from './support.js';
import {
  type AckedWrite,
  Collector,
  compareDelivered,
  counts,
  isExact,
  json,
  prefixEnd,
  readEventLog,
  valueId,
  waitUntil,
  writerEventLog,
} from './watch-support.js';

const record = new FaultRecord('W2', 'compaction past the cursor while disconnected (and W2b: synced past it)');

describe('W2: compaction while disconnected', () => {
  const etcd = useProxiedEtcd(record, {
    summary: () => {
      const f = record.figures;
      return (
        `W2: heal -> CompactedError ${String(f['healToErrorMs'])} ms, reported compactRevision ${String(f['reportedCompactRevision'])} ` +
        `(actual ${String(f['actualCompactRevision'])}); W2b: ${json(f['w2b'] ?? 'not run')}`
      );
    },
  });
  let watchClient: Etcd;
  let direct: Etcd;

  beforeAll(() => {
    watchClient = etcd.client();
    direct = etcd.directClient();
    record.config = {
      watchClient: 'etcdkit through the fault proxy',
      writer: 'etcdkit on the direct endpoint, sequential puts',
      compactedRevisions: 100,
      oracle: 'JSON gateway /v3/watch (from the compact revision on) and the writer log',
    };
  });

  it('W2: ends the watcher with exactly one CompactedError(compactRevision) soon after the heal', async () => {
    record.begin('W2');
    const p = etcd.proxy;
    const prefix = 'w2/';
    const first = await direct.put(`${prefix}k0`, 'before-0');
    for (let i = 1; i < 5; i++) await direct.put(`${prefix}k${i % 3}`, `before-${i}`);
    const watcher = watchClient.watch(Watch.key(prefix).withPrefix().withStartRevision(first.header.revision));
    const collector = new Collector(watcher, 'W2');
    await watcher.created;
    const delivered = await waitUntil(() => collector.events >= 5, 5_000);
    const cursorBefore = watcher.resumeRevision!;
    record.mark('watcher synced', { cursor: cursorBefore, events: collector.events });

    await p.refuse();
    const refusedAt = now();
    const batchesBeforeRefuse = collector.batches.length;
    record.mark('proxy refuses');
    let last = 0n;
    for (let i = 0; i < 100; i++) last = (await direct.put(`${prefix}k${i % 7}`, `during-${i}`)).header.revision;
    const compacted = await direct.compact(last, { physical: true });
    record.mark('wrote 100 revisions and compacted', { compactRevision: last, header: compacted.header.revision });

    await p.heal();
    const healedAt = now();
    record.mark('proxy healed');
    const ended = await Promise.race([watcher.ended, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000))]);
    const endedAt = now();
    await collector.done;
    record.mark('watcher ended', { error: ended === 'timeout' ? 'timeout' : String(ended) });

    const afterRefuse = collector.batches.slice(batchesBeforeRefuse).flatMap((b) => b.events);
    record.figures['refusedMs'] = round(healedAt - refusedAt);
    record.figures['healToErrorMs'] = ended === 'timeout' ? null : round(endedAt - healedAt);
    record.figures['actualCompactRevision'] = last;
    record.figures['reportedCompactRevision'] = ended instanceof CompactedError ? ended.compactRevision : null;
    record.figures['cursorBefore'] = cursorBefore;
    record.figures['eventsDeliveredAfterRefuse'] = afterRefuse.length;
    record.figures['watcherStats'] = watcher.stats;

    record.check('the watcher delivered the events before the cut', delivered);
    record.check('ended with CompactedError', ended instanceof CompactedError, String(ended));
    record.check('compactRevision is the server compact revision', ended instanceof CompactedError && ended.compactRevision === last, {
      reported: ended instanceof CompactedError ? ended.compactRevision : null,
      actual: last,
    });
    record.check('the iteration threw that same error, once', collector.error === ended);
    record.check('no event delivered after the refuse (nothing below the compaction, nothing after the error)', afterRefuse.length === 0, afterRefuse.slice(0, 5));
    record.check('the watcher is no longer active', !watcher.active);
    record.check('heal -> error within 1 s', ended !== 'timeout' && endedAt - healedAt < 1_000, round(endedAt - healedAt));

    // Resync: read the prefix at the compact revision, then watch from the next revision.
    const snapshot = await watchClient.range(Range.key(prefix).withPrefix().withRevision(last));
    const resync = watchClient.watch(Watch.key(prefix).withPrefix().withStartRevision(last + 1n));
    const resyncCollector = new Collector(resync, 'resync');
    await resync.created;
    const afterPuts = [];
    for (let i = 0; i < 3; i++) afterPuts.push(await direct.put(`${prefix}k${i}`, `after-${i}`));
    const until = afterPuts.at(-1)!.header.revision;
    const resynced = await waitUntil(() => resyncCollector.lastRevision >= until, 5_000);
    await resync.cancel();
    await resyncCollector.done;
    const oracle = await readEventLog({ clientUrl: etcd.server.clientUrl, key: prefix, rangeEnd: prefixEnd(prefix), startRevision: last, untilRevision: until });
    const resyncComparison = compareDelivered({ key: prefix, rangeEnd: prefixEnd(prefix), from: last + 1n }, resyncCollector.batches, oracle, until);
    const expectedSnapshot = new Map<string, string>();
    for (let i = 0; i < 100; i++) expectedSnapshot.set(`${prefix}k${i % 7}`, `during-${i}`);
    const snapshotOk =
      snapshot.header.revision >= last &&
      snapshot.kvs.length === expectedSnapshot.size &&
      snapshot.kvs.every((kv) => expectedSnapshot.get(kv.keyText()) === kv.text() && kv.modRevision <= last);
    record.figures['resync'] = { snapshotKeys: snapshot.kvs.length, events: counts(resyncComparison) };
    record.check('resync: the read at the compact revision is the state at that revision', snapshotOk);
    record.check('resync: the watch from compactRevision + 1 delivers exactly the later events', resynced && isExact(resyncComparison) && resyncComparison.expected === 3, resyncComparison);
    record.end('W2');
    expect(record.failed()).toEqual([]);
  }, 60_000);

  it('W2b: a watcher already past the compaction (or exactly at it) resumes without an error', async () => {
    record.begin('W2b');
    const p = etcd.proxy;
    const prefix = 'w2b/';
    const log: AckedWrite[] = [];
    const put = async (key: string, value: string): Promise<bigint> => {
      const revision = (await direct.put(key, value)).header.revision;
      log.push({ seq: log.length, revision, events: [{ key, type: 'put', value: valueId(Buffer.from(value)) }], ackedAt: now() });
      return revision;
    };
    for (let i = 0; i < 10; i++) await put(`${prefix}k${i % 4}`, `a-${i}`);
    const start = log[0]!.revision;
    const watcher = watchClient.watch(Watch.key(prefix).withPrefix().withStartRevision(start));
    const collector = new Collector(watcher, 'W2b');
    await watcher.created;
    let last = log.at(-1)!.revision;
    const synced = await waitUntil(() => collector.lastRevision >= last, 5_000);

    // Phase 1: compacted below the cursor (cursor = last + 1 > compact revision = last).
    await p.refuse();
    await direct.compact(last, { physical: true });
    const phase1Compact = last;
    for (let i = 0; i < 5; i++) last = await put(`${prefix}k${i % 4}`, `b-${i}`);
    await p.heal();
    const phase1 = await waitUntil(() => collector.lastRevision >= last, 10_000);
    const cursorAfterPhase1 = watcher.resumeRevision!;
    record.mark('W2b phase 1 (compacted below the cursor) done', { compactRevision: phase1Compact, cursor: cursorAfterPhase1 });

    // Phase 2: compacted exactly at the cursor: the first revision written while disconnected.
    await p.refuse();
    const phase2Compact = await put(`${prefix}k0`, 'c-0');
    for (let i = 1; i < 5; i++) last = await put(`${prefix}k${i % 4}`, `c-${i}`);
    await direct.compact(phase2Compact, { physical: true });
    await p.heal();
    const phase2 = await waitUntil(() => collector.lastRevision >= last, 10_000);
    record.mark('W2b phase 2 (compacted exactly at the cursor) done', { compactRevision: phase2Compact, cursorBefore: cursorAfterPhase1 });

    const active = watcher.active;
    const stats = watcher.stats;
    await watcher.cancel();
    await collector.done;
    const oracle = writerEventLog(log);
    const comparison = compareDelivered({ key: prefix, rangeEnd: prefixEnd(prefix), from: start }, collector.batches, oracle, last);
    record.figures['w2b'] = {
      phase1CompactRevision: phase1Compact,
      phase2CompactRevision: phase2Compact,
      cursorBeforePhase2: cursorAfterPhase1,
      events: counts(comparison),
      resumes: stats.resumes,
      staleEventsDropped: stats.staleEventsDropped,
    };
    record.check('W2b: synced before the cut', synced);
    record.check('W2b: compacted below the cursor -> resumed, no error', phase1 && collector.error === undefined);
    record.check('W2b: compacted exactly at the cursor -> resumed, no error', phase2 && collector.error === undefined && cursorAfterPhase1 === phase2Compact, {
      cursor: cursorAfterPhase1,
      compact: phase2Compact,
    });
    record.check('W2b: still active before the cancel', active);
    record.check('W2b: exactly one resume per outage (2)', stats.resumes === 2, stats.resumes);
    record.check('W2b: every event exactly once, in order', isExact(comparison) && comparison.expected === 20, comparison);
    record.end('W2b');
    expect(record.failed()).toEqual([]);
  }, 60_000);
});
