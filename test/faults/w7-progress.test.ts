/**
 * W7 (RELIABILITY 8.A; etcd #15220, #15248): progress notifications and the bookmark cursor.
 *
 * The server sends progress notifications every second (`--experimental-watch-progress-notify-
 * interval 1s`) to watchers created `withProgressNotify()`; the client also calls
 * `etcd.watchProgress()` (RequestProgress) every 300 ms. The watched "quiet" key is idle while
 * other keys advance; the connection is cut twice and refused once for 1.5 s.
 *
 * → Each watcher's resume revision never decreases. No event is delivered twice after a resume.
 * A progress notification is shown only when it is a true bookmark: every event the watcher
 * must deliver up to its revision has been delivered before it; stale ones are ignored and
 * counted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Watch } from 'etcdkit';
import { FaultRecord, now, round, sleep, useProxiedEtcd } from './support.js';
import {
  compareAll,
  counts,
  expectedEvents,
  isExact,
  prefixEnd,
  readEventLog,
  type Running,
  spyWatchResponses,
  startSubjects,
  type Subject,
  waitCaughtUp,
  waitForGauges,
  watchIdOf,
  Writer,
} from './watch-support.js';

const PREFIX = 'w7/';
const QUIET = `${PREFIX}quiet`;
const BUSY = Array.from({ length: 5 }, (_, i) => `${PREFIX}busy/k${i}`);
const record = new FaultRecord('W7', 'progress notifications and the bookmark cursor across cuts');

const SUBJECTS: Subject[] = [
  { name: 'quiet key, from now', build: (s) => start(Watch.key(QUIET).withProgressNotify(), s), spec: { key: QUIET, rangeEnd: '' }, fromNow: true },
  { name: 'quiet key, from start', build: (s) => start(Watch.key(QUIET).withProgressNotify().withPrevKv(), s), spec: { key: QUIET, rangeEnd: '', prevKv: true }, fromNow: false },
  { name: 'whole prefix', build: (s) => start(Watch.key(PREFIX).withPrefix().withProgressNotify(), s), spec: { key: PREFIX, rangeEnd: prefixEnd(PREFIX) }, fromNow: false },
  {
    name: 'busy keys, from now',
    build: (s) => start(Watch.key(`${PREFIX}busy/`).withPrefix().withProgressNotify(), s),
    spec: { key: `${PREFIX}busy/`, rangeEnd: prefixEnd(`${PREFIX}busy/`) },
    fromNow: true,
  },
  {
    name: 'quiet key, deletes only',
    build: (s) => start(Watch.key(QUIET).withProgressNotify().withNoPut(), s),
    spec: { key: QUIET, rangeEnd: '', noPut: true },
    fromNow: false,
  },
];

function start(watch: Watch, revision: bigint | undefined): Watch {
  return revision === undefined ? watch : watch.withStartRevision(revision);
}

describe('W7: progress and bookmark cursor', () => {
  const etcd = useProxiedEtcd(record, { extraArgs: ['--experimental-watch-progress-notify-interval', '1s'] });
  let restoreSpy = (): void => undefined;

  // Registered after the fixture's, so it runs before the clients are closed (after hooks run in reverse).
  afterAll(() => restoreSpy());

  it('never lowers a cursor, repeats nothing after a resume, and shows only true bookmarks', async () => {
    record.begin('run');
    const s = etcd.server;
    const p = etcd.proxy;
    record.config = {
      serverFlags: ['--experimental-watch-progress-notify-interval', '1s'],
      watchers: SUBJECTS.map((x) => x.name),
      busyWriteRatePerSec: 100,
      writeMs: 9_000,
      quietKeyWrites: 'puts at ~2.5 s and ~6 s, a delete at ~8 s',
      requestProgressEveryMs: 300,
      faults: 'cut at ~3.5 s, refuse 1.5 s at ~4.5 s, cut at ~7 s',
    };
    const watchClient = etcd.client();
    const direct = etcd.directClient();
    await direct.put(QUIET, 'initial');
    const startRevision = (await direct.put(`${PREFIX}start`, 'x')).header.revision + 1n;
    // Every raw WatchResponse, with the watcher's cursor just before the SDK handled it.
    const byId = new Map<number, Running>();
    const spy = spyWatchResponses((id) => {
      const r = byId.get(id);
      return r === undefined ? undefined : { watcher: r.subject.name, cursor: r.watcher.resumeRevision, lastEvent: r.collector.lastRevision };
    });
    restoreSpy = () => spy.restore();
    const running = await startSubjects(watchClient, SUBJECTS, startRevision);
    const streamsBefore = (await waitForGauges(s, () => true, 1_000)).gauges!.watchStreamsStarted;
    for (const r of running) byId.set(watchIdOf(r.watcher), r);

    // Sample every cursor every 5 ms, and after each batch.
    const cursorDrops: Array<{ watcher: string; from: bigint; to: bigint }> = [];
    const lastCursor = new Map<Running, bigint>();
    const sample = (): void => {
      for (const r of running) {
        const cursor = r.watcher.resumeRevision;
        if (cursor === undefined) continue;
        const previous = lastCursor.get(r);
        if (previous !== undefined && cursor < previous) cursorDrops.push({ watcher: r.subject.name, from: previous, to: cursor });
        lastCursor.set(r, cursor);
      }
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        sample();
        await sleep(5);
      }
    })();

    // RequestProgress every 300 ms.
    const requestProgress = { ok: 0, failed: 0, revisions: [] as bigint[] };
    let requesting = true;
    const requester = (async () => {
      while (requesting) {
        try {
          const revision = await watchClient.watchProgress();
          if (revision !== undefined) requestProgress.revisions.push(revision);
          requestProgress.ok++;
        } catch {
          requestProgress.failed++;
        }
        await sleep(300);
      }
    })();

    const writer = new Writer({ client: direct, keys: BUSY, ratePerSec: 100, durationMs: 9_000, deleteEvery: 7 }).start();
    const began = now();
    const at = async (ms: number): Promise<void> => {
      const wait = began + ms - now();
      if (wait > 0) await sleep(wait);
    };
    await at(2_500);
    await direct.put(QUIET, 'q1');
    await at(3_500);
    await p.cut();
    record.mark('cut');
    await at(4_500);
    await p.refuse();
    record.mark('refuse');
    await direct.put(QUIET, 'q2 while refused');
    await at(6_000);
    await p.heal();
    record.mark('heal');
    await direct.put(QUIET, 'q3');
    await at(7_000);
    await p.cut();
    record.mark('cut');
    await at(8_000);
    await direct.delete(QUIET);
    await writer.done;
    // One more quiet put marks the end, so every watcher of the quiet key has a last event.
    const until = (await direct.put(QUIET, 'end')).header.revision;
    // Let a progress interval pass while idle, so every watcher gets a last notification.
    await sleep(1_300);
    // Read before the oracle, whose gateway watch is a Watch stream of its own.
    const streamsReopened = (await waitForGauges(s, () => true, 1_000)).gauges!.watchStreamsStarted - streamsBefore;
    const oracle = await readEventLog({ clientUrl: s.clientUrl, key: PREFIX, rangeEnd: prefixEnd(PREFIX), startRevision, untilRevision: until });
    const caughtUp = await waitCaughtUp(running, oracle, until);
    requesting = false;
    sampling = false;
    await Promise.all([requester, sampler]);
    sample();
    spy.restore();

    const { total, per } = compareAll(running, oracle, until);
    // Bookmarks: at each progress batch, every event the watcher must deliver up to its
    // revision has been delivered; and a progress batch never goes below a delivered event.
    const bookmarkViolations: unknown[] = [];
    const progressDelivered: Record<string, number> = {};
    for (const r of running) {
      const expected = expectedEvents({ ...r.subject.spec, from: r.from }, oracle, until);
      const delivered = new Set<string>();
      let lastEvent = 0n;
      let progress = 0;
      for (const batch of r.collector.batches) {
        if (!batch.progress) {
          for (const event of batch.events) {
            delivered.add(`${event.revision}/${event.key}`);
            if (event.revision > lastEvent) lastEvent = event.revision;
          }
          continue;
        }
        progress++;
        const notYet = expected.filter((e) => e.revision <= batch.headerRevision && !delivered.has(`${e.revision}/${e.key}`));
        if (notYet.length > 0 || batch.headerRevision < lastEvent) {
          bookmarkViolations.push({ watcher: r.subject.name, progressRevision: batch.headerRevision, lastEvent, undelivered: notYet.length });
        }
      }
      progressDelivered[r.subject.name] = progress;
    }
    const stats = Object.fromEntries(running.map((r) => [r.subject.name, r.watcher.stats]));
    const sum = (field: 'staleEventsDropped' | 'staleProgressIgnored' | 'resumes'): number =>
      running.reduce((acc, r) => acc + r.watcher.stats[field], 0);
    const progressShown = Object.values(progressDelivered).reduce((a, b) => a + b, 0);
    // Classify the raw per-watcher progress notifications by where they stood against the cursor.
    const rawProgress = { advancing: 0, atCursor: 0, belowCursor: 0, belowLastEvent: 0, samples: [] as unknown[] };
    for (const m of spy.responses) {
      if (m.events > 0 || m.created || m.canceled || m.watchId < 0) continue;
      const c = m.context as { watcher: string; cursor: bigint | undefined; lastEvent: bigint } | undefined;
      if (c?.cursor === undefined) continue;
      const next = m.headerRevision + 1n;
      if (next > c.cursor) rawProgress.advancing++;
      else if (next === c.cursor) rawProgress.atCursor++;
      else rawProgress.belowCursor++;
      if (c.lastEvent > 0n && m.headerRevision < c.lastEvent) rawProgress.belowLastEvent++;
      if (next <= c.cursor && rawProgress.samples.length < 10) {
        rawProgress.samples.push({ watcher: c.watcher, progressRevision: m.headerRevision, cursor: c.cursor, lastEvent: c.lastEvent, atMs: round(m.at - began) });
      }
    }

    record.figures['events'] = counts(total);
    record.figures['perWatcher'] = per;
    record.figures['progressRepliesSeen'] = {
      perWatcherNotificationsShown: progressShown,
      perWatcherNotificationsIgnoredAsStale: sum('staleProgressIgnored'),
      requestProgressReplies: requestProgress.ok,
      requestProgressFailures: requestProgress.failed,
      byWatcher: progressDelivered,
    };
    record.figures['staleProgressIgnored'] = sum('staleProgressIgnored');
    record.figures['rawProgressNotifications'] = rawProgress;
    record.figures['createRepliesAtMs'] = spy.responses.filter((m) => m.created).map((m) => `${round(m.at - began)}:${m.watchId}`);
    record.figures['eventsReplayedOnResume'] = sum('staleEventsDropped');
    record.figures['duplicates'] = total.duplicate;
    record.figures['cursorDecreases'] = cursorDrops.length;
    record.figures['watchStreamsReopened'] = streamsReopened;
    record.figures['watcherStats'] = stats;
    record.figures['writer'] = writer.summary();
    record.figures['runtimeMs'] = round(now() - began);

    record.check('all watchers caught up', caughtUp);
    record.check('the cursor never decreased (sampled every 5 ms)', cursorDrops.length === 0, cursorDrops.slice(0, 5));
    record.check('0 missing, 0 duplicate (also after resume), 0 out of order, every revision in one batch', isExact(total), total);
    record.check('every progress notification shown is a true bookmark', bookmarkViolations.length === 0, bookmarkViolations.slice(0, 5));
    // Progress exactly at the cursor is a heartbeat ("still current") and is shown; only
    // progress below it would move the cursor back, and is dropped.
    record.check('stale progress ignored = raw notifications below the cursor', sum('staleProgressIgnored') === rawProgress.belowCursor, rawProgress);
    record.check('per-watcher progress notifications arrived (validity)', progressShown > 0, progressDelivered);
    record.check('RequestProgress replies arrived (validity)', requestProgress.ok > 0, requestProgress);
    // The refuse and the second cut merge into one outage when grpc-js's reconnect backoff
    // outlasts the refused period, so there are 2 or 3 outages: one resume each, as many as
    // the Watch streams the server saw reopened.
    record.check(
      'exactly one resume per watcher per outage (= Watch streams reopened on the server, 2 or 3)',
      streamsReopened >= 2 && streamsReopened <= 3 && running.every((r) => r.watcher.stats.resumes === streamsReopened),
      { streamsReopened, resumes: running.map((r) => r.watcher.stats.resumes) },
    );
    record.check('no watcher ended', running.every((r) => r.watcher.active));
    await Promise.all(running.map((r) => r.watcher.cancel()));
    record.end('run');
    await record.write(
      `events ${JSON.stringify(counts(total))}; progress shown ${progressShown}, stale ignored ${sum('staleProgressIgnored')}, ` +
        `RequestProgress replies ${requestProgress.ok}; replayed on resume ${sum('staleEventsDropped')}; cursor decreases ${cursorDrops.length}`,
    );
    expect(record.failed()).toEqual([]);
  }, 60_000);
});
