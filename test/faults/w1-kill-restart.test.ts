/**
 * W1 (RELIABILITY 8.A): kill -9 the single server mid-watch and restart it after 2 s.
 *
 * One SDK client (through a fault proxy that stays up, so reconnect attempts can be counted)
 * runs 20 watchers on one stream: prefix, single keys, ranges, from-key, prev_kv, no-put,
 * no-delete, fragment, started at a revision or "from now". An independent writer (a second
 * client, direct endpoint) puts ~200/s to 10 keys (with deletes and 3-key txns) for 12 s; the
 * server is killed at ~4 s and restarted 2 s later. Each watcher's log must equal the oracle
 * (the JSON gateway's watch after the run) filtered by that watcher: 0 missing, 0 duplicate,
 * 0 out of order, every revision in one batch, and no watcher ends.
 */
import { describe, expect, it } from 'vitest';
import { CpuMeter } from './cpu-meter.js';
import { FaultRecord, now, percentile, round, sleep, useProxiedEtcd } from './support.js';
import {
  compareAll,
  counts,
  cpuMs,
  isExact,
  prefixEnd,
  readEventLog,
  standardSubjects,
  startSubjects,
  waitCaughtUp,
  waitForGauges,
  Writer,
} from './watch-support.js';

const PREFIX = 'w1/';
const KEYS = Array.from({ length: 10 }, (_, i) => `${PREFIX}k${i}`);
const RATE = 200;
const WRITE_MS = 12_000;
const KILL_AT_MS = 4_000;
const OUTAGE_MS = 2_000;

const record = new FaultRecord('W1', 'kill -9 the single server mid-watch and restart it');

const SUBJECTS = standardSubjects(PREFIX, KEYS);

describe('W1: kill -9 and restart of the single server', () => {
  const etcd = useProxiedEtcd(record);

  it('delivers every event exactly once, in order, one batch per revision, across the outage', async () => {
    record.begin('run');
    const s = etcd.server;
    const p = etcd.proxy;
    record.config = {
      watchers: SUBJECTS.length,
      watcherKinds: SUBJECTS.map((x) => x.name),
      keys: KEYS.length,
      writeRatePerSec: RATE,
      writeMs: WRITE_MS,
      killAtMs: KILL_AT_MS,
      outageMs: OUTAGE_MS,
      writer: 'second etcdkit client on the direct endpoint; puts, every 10th a delete, every 25th a 3-key txn; 8 in flight; 1 s deadline; paused from the kill until the server is healthy again (12 s of writing in all)',
      watchClient: 'one etcdkit client through the fault proxy (the proxy stays up while the server is down)',
      oracle: 'JSON gateway /v3/watch of the whole prefix with prev_kv, after the run',
    };
    record.notes.push(
      'The SDK exposes no connection state events for watchers; "one disconnected and one reconnected event per outage" is checked as exactly one resume (server acknowledgement on a new stream) per watcher.',
    );
    const watchClient = etcd.client();
    const writerClient = etcd.directClient();

    const start = (await writerClient.put(`${PREFIX}start`, 'x')).header.revision + 1n;
    const watchers = await startSubjects(watchClient, SUBJECTS, start);
    const baseline = await waitForGauges(s, (g) => g.watchers >= SUBJECTS.length, 2_000);
    record.mark('watchers created', { start, gauges: baseline.gauges });

    const writer = new Writer({ client: writerClient, keys: KEYS, ratePerSec: RATE, durationMs: WRITE_MS, txnEvery: 25, deleteEvery: 10 }).start();
    record.mark('writer started');
    await sleep(KILL_AT_MS);

    const acceptedBefore = (await p.stats()).accepted;
    // While the single server is down no write can succeed: the writer pauses (its writes in
    // flight at the kill still fail or stay in doubt), so the CPU figure is the watch client's
    // (plus the harness's health polling during the restart).
    writer.pause();
    // The process's own floor (vitest, the idle collectors and clients): 1 s with the writer
    // paused and the server up, after the writes in flight settled.
    await sleep(300);
    const floorMeter = await CpuMeter.start();
    await sleep(1_000);
    const floor = await floorMeter.stop();
    const killedAt = now();
    const cpuBefore = cpuMs();
    await s.kill();
    record.mark('server killed (SIGKILL)', { lastAckedRevision: writer.lastRevision });
    // The quiet part of the outage: server dead, harness idle, writer paused.
    const quietMeter = await CpuMeter.start();
    await sleep(OUTAGE_MS);
    const quiet = await quietMeter.stop();
    record.mark('restart');
    await s.restart();
    const healthyAt = now();
    const cpuDuringOutage = cpuMs() - cpuBefore;
    writer.resume();
    const acceptedDuringOutage = (await p.stats()).accepted - acceptedBefore;
    record.mark('server healthy');
    const resumed = await waitForGauges(s, (g) => g.watchers >= SUBJECTS.length && g.streams >= 1, 15_000);
    record.mark('all watchers re-created on the server', { afterHealthyMs: resumed.ms === undefined ? null : round(resumed.ms) });
    const acceptedUntilResumed = (await p.stats()).accepted - acceptedBefore;

    await writer.done;
    const until = writer.lastRevision;
    record.mark('writer done', writer.summary());

    const oracle = await readEventLog({ clientUrl: s.clientUrl, key: PREFIX, rangeEnd: prefixEnd(PREFIX), startRevision: start, untilRevision: until });
    record.mark('oracle read', { events: oracle.length });
    const caughtUp = await waitCaughtUp(watchers, oracle, until);
    const { total, per } = compareAll(watchers, oracle, until);
    const firstEventAfterRestart = Math.min(
      ...watchers.map((w) => w.collector.batches.find((b) => b.at > healthyAt)?.at ?? Infinity),
    );
    const firstEventPerWatcher = watchers.map((w) => (w.collector.batches.find((b) => b.at > healthyAt)?.at ?? Infinity) - healthyAt);
    const endedWatchers = watchers.filter((w) => !w.watcher.active).map((w) => ({ name: w.subject.name, error: String(w.collector.error) }));
    const stats = watchers.map((w) => w.watcher.stats);

    record.figures['events'] = counts(total);
    record.figures['perWatcher'] = per;
    record.figures['oracleEvents'] = oracle.length;
    record.figures['writer'] = writer.summary();
    record.figures['outageMs'] = round(healthyAt - killedAt);
    record.figures['resumeLatencyMs'] = resumed.ms === undefined ? null : round(resumed.ms);
    record.figures['resumeLatencyNote'] = 'server healthy -> all 20 watchers present in etcd_debugging_mvcc_watcher_total (polled every 10 ms)';
    record.figures['firstEventAfterRestartMs'] = round(firstEventAfterRestart - healthyAt);
    record.figures['firstEventAfterRestartPerWatcherMs'] = {
      p50: round(percentile(firstEventPerWatcher, 50)),
      max: round(Math.max(...firstEventPerWatcher)),
    };
    record.figures['reconnectAttempts'] = {
      connectionsAcceptedByProxyDuringOutage: acceptedDuringOutage,
      connectionsAcceptedUntilResumed: acceptedUntilResumed,
    };
    record.figures['clientCpuDuringOutage'] = {
      cpuMs: round(cpuDuringOutage),
      wallMs: round(healthyAt - killedAt),
      percentOfOneCore: round((cpuDuringOutage / (healthyAt - killedAt)) * 100),
      note: 'whole test process (watch client, paused writer, harness restart + health polling)',
      quietPart: { ...quiet, note: 'from the kill to the restart: server dead, harness idle, writer paused' },
      floorBeforeKill: floor,
      quietPartAboveFloorPercent: round(quiet.percent - floor.percent, 2),
    };
    record.figures['watcherStats'] = {
      resumes: stats.map((x) => x.resumes),
      staleEventsDropped: stats.reduce((sum, x) => sum + x.staleEventsDropped, 0),
      staleProgressIgnored: stats.reduce((sum, x) => sum + x.staleProgressIgnored, 0),
    };

    record.check('all watchers caught up with the oracle', caughtUp);
    record.check('0 missing, 0 duplicate, 0 out of order, 0 unexpected, 0 changed, every revision in one batch', isExact(total), total);
    record.check('the run wrote across the outage (acked writes before the kill and after the restart)', writer.acked.some((w) => w.ackedAt < killedAt) && writer.acked.some((w) => w.ackedAt > healthyAt));
    record.check('no watcher ended', endedWatchers.length === 0, endedWatchers);
    record.check('exactly one resume per watcher for the one outage (stats.resumes)', stats.every((x) => x.resumes === 1), stats.map((x) => x.resumes));
    record.check('every watcher was re-created on the restarted server', resumed.ms !== undefined, resumed.gauges);
    record.check('reconnect attempts during the outage follow a backoff (no tight loop: < 40 connections)', acceptedDuringOutage < 40, acceptedDuringOutage);
    record.check('client CPU while the server is down, above the process floor, < 5% of one core (#9578)', quiet.percent - floor.percent < 5, record.figures['clientCpuDuringOutage']);

    await Promise.all(watchers.map((w) => w.watcher.cancel()));
    await Promise.all(watchers.map((w) => w.collector.done));
    record.end('run');
    await record.write(
      `expected ${total.expected}, delivered ${total.delivered}, missing ${total.missing}, duplicate ${total.duplicate}, out of order ${total.outOfOrder}; ` +
        `outage ${record.figures['outageMs'] as number} ms, resume ${String(record.figures['resumeLatencyMs'])} ms after healthy, ` +
        `${acceptedDuringOutage} reconnect attempts, client CPU while down ${(record.figures['clientCpuDuringOutage'] as { quietPartAboveFloorPercent: number }).quietPartAboveFloorPercent}% above the process floor`,
    );
    expect(record.failed()).toEqual([]);
  }, 90_000);
});
