/**
 * W5 (RELIABILITY 8.A): a network freeze shorter than the keepalive timeout.
 *
 * The fault proxy stops reading both sides of the SDK's connection for 3 s (sockets stay open,
 * TCP backpressure builds up) while an independent writer (direct endpoint) keeps writing. The
 * client's keepalive (ping every 5 s, 5 s to answer) must not declare the link dead: no
 * reconnect. The events written during the freeze arrive after it, exactly once, in order.
 */
import { describe, expect, it } from 'vitest';
import { FaultRecord, now, round, sleep, useProxiedEtcd } from './support.js';
import {
  compareAll,
  counts,
  isExact,
  prefixEnd,
  readEventLog,
  standardSubjects,
  startSubjects,
  waitCaughtUp,
  waitForGauges,
  waitUntil,
  Writer,
} from './watch-support.js';

const PREFIX = 'w5/';
const KEYS = Array.from({ length: 10 }, (_, i) => `${PREFIX}k${i}`);
const FREEZE_MS = 3_000;
const KEEPALIVE = { keepAliveTimeMs: 5_000, keepAliveTimeoutMs: 5_000 };
const record = new FaultRecord('W5', 'freeze shorter than the keepalive timeout');

describe('W5: freeze shorter than the keepalive timeout', () => {
  const etcd = useProxiedEtcd(record);

  it('does not reconnect, and delivers the events buffered during the freeze once', async () => {
    record.begin('run');
    const s = etcd.server;
    const p = etcd.proxy;
    record.config = {
      watchers: 20,
      freezeMs: FREEZE_MS,
      client: KEEPALIVE,
      writeRatePerSec: 200,
      writeMs: 7_000,
      freezeAtMs: 2_000,
      oracle: 'JSON gateway /v3/watch with prev_kv',
    };
    const watchClient = etcd.client(KEEPALIVE);
    const direct = etcd.directClient();
    const start = (await direct.put(`${PREFIX}start`, 'x')).header.revision + 1n;
    const running = await startSubjects(watchClient, standardSubjects(PREFIX, KEYS), start);
    const before = (await waitForGauges(s, (g) => g.watchers === 20, 2_000)).gauges!;
    const acceptedBefore = (await p.stats()).accepted;

    const writer = new Writer({ client: direct, keys: KEYS, ratePerSec: 200, durationMs: 7_000, txnEvery: 25, deleteEvery: 10 }).start();
    await sleep(2_000);
    await p.freeze();
    const frozenAt = now();
    const revisionAtFreeze = writer.lastRevision;
    const batchesAtFreeze = running.map((r) => r.collector.batches.length);
    record.mark('freeze', { lastAckedRevision: revisionAtFreeze });
    await sleep(FREEZE_MS);
    const revisionAtUnfreeze = writer.lastRevision;
    await p.heal();
    const unfrozenAt = now();
    record.mark('unfreeze', { lastAckedRevision: revisionAtUnfreeze });
    // Time until the plain prefix watchers (which see every revision) have the last one written during the freeze.
    const prefixWatchers = running.filter((r) => r.subject.name === 'prefix' || r.subject.name === 'prefix+prevKv');
    const current = await waitUntil(() => prefixWatchers.every((r) => r.collector.lastRevision >= revisionAtUnfreeze), 10_000, 5);
    const caughtUpFreeze = current ? round(now() - unfrozenAt) : null;
    await writer.done;
    const until = writer.lastRevision;
    // Read before the oracle, whose gateway watch is a Watch stream of its own.
    const after = (await waitForGauges(s, () => true, 1_000)).gauges!;
    const oracle = await readEventLog({ clientUrl: s.clientUrl, key: PREFIX, rangeEnd: prefixEnd(PREFIX), startRevision: start, untilRevision: until });
    const caughtUp = await waitCaughtUp(running, oracle, until);
    const { total, per } = compareAll(running, oracle, until);
    const acceptedAfter = (await p.stats()).accepted;
    const stats = running.map((r) => r.watcher.stats);
    // Deliveries during the freeze window (none can cross a frozen link, beyond what was in flight).
    const duringFreeze = running.map((r, i) => r.collector.batches.slice(batchesAtFreeze[i]).filter((b) => b.at < unfrozenAt).length);

    record.figures['events'] = counts(total);
    record.figures['perWatcher'] = per;
    record.figures['writer'] = writer.summary();
    record.figures['freezeMs'] = round(unfrozenAt - frozenAt);
    record.figures['revisionsWrittenDuringFreeze'] = Number(revisionAtUnfreeze - revisionAtFreeze);
    record.figures['unfreezeToPrefixWatchersCurrentMs'] = caughtUpFreeze;
    record.figures['reconnects'] = {
      proxyConnectionsAccepted: acceptedAfter - acceptedBefore,
      serverWatchStreamsStarted: after.watchStreamsStarted - before.watchStreamsStarted,
      watcherResumes: stats.reduce((sum, x) => sum + x.resumes, 0),
    };
    record.figures['batchesDeliveredDuringFreeze'] = duringFreeze.reduce((a, b) => a + b, 0);
    record.figures['slowWatchersAfter'] = after.slowWatchers;
    record.figures['eventsReplayedOnResume'] = stats.reduce((sum, x) => sum + x.staleEventsDropped, 0);

    record.check('events were written during the freeze', revisionAtUnfreeze > revisionAtFreeze);
    record.check('reconnects = 0 (no new connection, no new Watch stream, no watcher re-created)', acceptedAfter === acceptedBefore && after.watchStreamsStarted === before.watchStreamsStarted && stats.every((x) => x.resumes === 0), record.figures['reconnects']);
    record.check('the prefix watchers caught up after the unfreeze', caughtUpFreeze !== null);
    record.check('all watchers caught up', caughtUp);
    record.check('0 missing, 0 duplicate, 0 out of order, every revision in one batch', isExact(total), total);
    record.check('no watcher ended', running.every((r) => r.watcher.active));
    await Promise.all(running.map((r) => r.watcher.cancel()));
    record.end('run');
    await record.write(
      `expected ${total.expected}, delivered ${total.delivered}, missing ${total.missing}, duplicate ${total.duplicate}, out of order ${total.outOfOrder}; ` +
        `${String(record.figures['revisionsWrittenDuringFreeze'])} revisions during the ${round(unfrozenAt - frozenAt)} ms freeze; reconnects ${JSON.stringify(record.figures['reconnects'])}`,
    );
    expect(record.failed()).toEqual([]);
  }, 60_000);
});
