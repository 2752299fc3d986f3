/**
 * W11 (RELIABILITY 8.A; jetcd #946, etcd #20221): a watch from a future start revision.
 *
 * Watchers start at the current revision + 100, with progress notifications every second. The
 * connection is refused and healed twice before that revision is reached, while a writer
 * (direct endpoint) advances the store at ~20 revisions/s.
 *
 * → No event below the requested start. Progress notifications for revisions below the start
 * (which 3.4.23 sends to such watchers, #20221) are ignored and counted, never shown. From the
 * start on, every event arrives once, in order.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Watch } from 'etcdkit';
import { FaultRecord, now, round, sleep, useProxiedEtcd } from './support.js';
import {
  compareAll,
  counts,
  isExact,
  prefixEnd,
  readEventLog,
  type Running,
  spyWatchResponses,
  startSubjects,
  type Subject,
  waitCaughtUp,
  watchIdOf,
  Writer,
} from './watch-support.js';

const PREFIX = 'w11/';
const KEYS = Array.from({ length: 4 }, (_, i) => `${PREFIX}k${i}`);
const AHEAD = 100n;
const record = new FaultRecord('W11', 'watch from a future start revision across two disconnections');

const SUBJECTS: Subject[] = [
  { name: 'prefix +progress', build: (s) => Watch.key(PREFIX).withPrefix().withProgressNotify().withStartRevision(s!), spec: { key: PREFIX, rangeEnd: prefixEnd(PREFIX) }, fromNow: false },
  { name: 'key k1 +progress +prevKv', build: (s) => Watch.key(KEYS[1]!).withProgressNotify().withPrevKv().withStartRevision(s!), spec: { key: KEYS[1]!, rangeEnd: '', prevKv: true }, fromNow: false },
  { name: 'prefix, no progress', build: (s) => Watch.key(PREFIX).withPrefix().withStartRevision(s!), spec: { key: PREFIX, rangeEnd: prefixEnd(PREFIX) }, fromNow: false },
];

describe('W11: future start revision', () => {
  const etcd = useProxiedEtcd(record, { extraArgs: ['--experimental-watch-progress-notify-interval', '1s'] });
  let restoreSpy = (): void => undefined;

  // Registered after the fixture's, so it runs before the clients are closed (after hooks run in reverse).
  afterAll(() => restoreSpy());

  it('delivers nothing below the start and ignores progress below it, across two disconnections', async () => {
    record.begin('run');
    const s = etcd.server;
    const p = etcd.proxy;
    const watchClient = etcd.client();
    const direct = etcd.directClient();
    const current = (await direct.put(`${PREFIX}k0`, 'first')).header.revision;
    const start = current + AHEAD;
    record.config = {
      serverFlags: ['--experimental-watch-progress-notify-interval', '1s'],
      currentRevision: current,
      startRevision: start,
      writeRatePerSec: 20,
      writeMs: 7_500,
      faults: 'refuse 400 ms at ~1.5 s and at ~3 s (both before the start revision is reached)',
    };
    const byId = new Map<number, Running>();
    const spy = spyWatchResponses((id) => {
      const r = byId.get(id);
      return r === undefined ? undefined : { watcher: r.subject.name, cursor: r.watcher.resumeRevision };
    });
    restoreSpy = () => spy.restore();
    const running = await startSubjects(watchClient, SUBJECTS, start);
    for (const r of running) byId.set(watchIdOf(r.watcher), r);

    const writer = new Writer({ client: direct, keys: KEYS, ratePerSec: 20, durationMs: 7_500, maxInFlight: 1, deleteEvery: 6 }).start();
    const began = now();
    const revisionsAtFaults: bigint[] = [];
    for (const at of [1_500, 3_000]) {
      const wait = began + at - now();
      if (wait > 0) await sleep(wait);
      revisionsAtFaults.push(writer.lastRevision);
      await p.refuse();
      record.mark('refuse', { lastAckedRevision: writer.lastRevision });
      await sleep(400);
      await p.heal();
      record.mark('heal');
    }
    await writer.done;
    const until = writer.lastRevision;
    const oracle = await readEventLog({ clientUrl: s.clientUrl, key: PREFIX, rangeEnd: prefixEnd(PREFIX), startRevision: start, untilRevision: until });
    const caughtUp = await waitCaughtUp(running, oracle, until);
    spy.restore();

    const { total, per } = compareAll(running, oracle, until);
    const eventsBelowStart = running.flatMap((r) => r.collector.allEvents().filter((e) => e.revision < start).map((e) => `${r.subject.name}: ${e.revision}`));
    const progressShownBelowStart = running.flatMap((r) =>
      r.collector.batches.filter((b) => b.progress && b.headerRevision < start - 1n).map((b) => `${r.subject.name}: ${b.headerRevision}`),
    );
    const rawProgress = spy.responses.filter((m) => m.events === 0 && !m.created && !m.canceled && m.watchId >= 0);
    const rawProgressBelowStart = rawProgress.filter((m) => m.headerRevision < start - 1n);
    const rawEventsBelowStart = spy.responses.filter((m) => m.minRevision !== undefined && m.minRevision < start);
    const stats = Object.fromEntries(running.map((r) => [r.subject.name, r.watcher.stats]));
    const staleProgressIgnored = running.reduce((sum, r) => sum + r.watcher.stats.staleProgressIgnored, 0);

    record.figures['events'] = counts(total);
    record.figures['perWatcher'] = per;
    record.figures['violations'] = { eventsBelowStart: eventsBelowStart.length, progressShownBelowStart: progressShownBelowStart.length };
    record.figures['serverSent'] = {
      progressNotifications: rawProgress.length,
      progressBelowStart: rawProgressBelowStart.length,
      progressBelowStartRevisions: rawProgressBelowStart.slice(0, 10).map((m) => m.headerRevision),
      eventsBelowStart: rawEventsBelowStart.length,
    };
    record.figures['staleProgressIgnored'] = staleProgressIgnored;
    record.figures['progressShown'] = running.reduce((sum, r) => sum + r.collector.batches.filter((b) => b.progress).length, 0);
    record.figures['revisionsAtFaults'] = revisionsAtFaults;
    record.figures['watcherStats'] = stats;
    record.figures['writer'] = writer.summary();
    record.figures['runtimeMs'] = round(now() - began);

    record.check('both disconnections happened before the start revision was reached', revisionsAtFaults.every((r) => r + 1n < start), revisionsAtFaults);
    record.check('the writer went past the start revision', until >= start + 20n, { until, start });
    record.check('violations = 0: no event below the start', eventsBelowStart.length === 0, eventsBelowStart.slice(0, 5));
    record.check('violations = 0: no progress below the start shown', progressShownBelowStart.length === 0, progressShownBelowStart.slice(0, 5));
    record.check('every progress below the start the server sent was ignored and counted', staleProgressIgnored >= rawProgressBelowStart.length, {
      staleProgressIgnored,
      rawProgressBelowStart: rawProgressBelowStart.length,
    });
    record.check('all watchers caught up', caughtUp);
    record.check('from the start on: 0 missing, 0 duplicate, 0 out of order, every revision in one batch', isExact(total), total);
    record.check('exactly one resume per watcher per outage (2)', running.every((r) => r.watcher.stats.resumes === 2), running.map((r) => r.watcher.stats.resumes));
    record.check('no watcher ended', running.every((r) => r.watcher.active));
    await Promise.all(running.map((r) => r.watcher.cancel()));
    record.end('run');
    await record.write(
      `violations ${JSON.stringify(record.figures['violations'])}; server sent ${rawProgressBelowStart.length} progress below the start (ignored ${staleProgressIgnored}); events ${JSON.stringify(counts(total))}`,
    );
    expect(record.failed()).toEqual([]);
  }, 60_000);
});
