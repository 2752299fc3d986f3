/**
 * S3 (RELIABILITY 8.E; microsoft/etcd3 #30/#114, etcd #11708): failed creates in the middle of a
 * pipeline.
 *
 * Auth is on; the client logs in as a user whose role may read `s3/ok/` only. 90 creates go out
 * without waiting for each other, interleaving valid ones with two kinds of failure: a range
 * the server finds empty ("watcher range is empty"; the local check bypassed) and a key the
 * role may not read (permission denied). A duplicate client watch ID cannot be produced through
 * the SDK, which allocates IDs itself.
 *
 * → Each failure ends its own watcher only, with its typed error; every valid watcher gets
 * exactly its own events, before and after a cut (failed watchers are not re-created).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermissionDeniedError, Watch, WatchCanceledError, type Watcher } from 'etcdkit';
import { FaultRecord, now, percentile, round, tally, useProxiedEtcd } from './support.js';
import { Collector, spyWatchResponses, valueId, waitForGauges, waitUntil } from './watch-support.js';

const ROOT = { username: 'root', password: 'root-pw' };
const ALICE = { username: 'alice', password: 'alice-pw' };
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const COUNT = 90;
const record = new FaultRecord('S3', 'failed creates in the middle of a pipeline (empty range, permission denied)');

type Kind = 'valid' | 'empty-range' | 'denied';
const kindOf = (i: number): Kind => (['valid', 'empty-range', 'valid', 'denied'] as const)[i % 4]!;

describe('S3: failed creates in a pipeline', () => {
  const etcd = useProxiedEtcd(record);
  let restoreSpy = (): void => undefined;

  async function gateway(path: string, body: unknown): Promise<void> {
    const response = await fetch(`${etcd.server.clientUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  }

  beforeAll(async () => {
    await gateway('/v3/auth/role/add', { name: 'root' });
    await gateway('/v3/auth/user/add', { name: ROOT.username, password: ROOT.password });
    await gateway('/v3/auth/user/grant', { user: ROOT.username, role: 'root' });
    await gateway('/v3/auth/role/add', { name: 'ok-reader' });
    await gateway('/v3/auth/role/grant', { name: 'ok-reader', perm: { permType: 'READ', key: b64('s3/ok/'), range_end: b64('s3/ok0') } });
    await gateway('/v3/auth/user/add', { name: ALICE.username, password: ALICE.password });
    await gateway('/v3/auth/user/grant', { user: ALICE.username, role: 'ok-reader' });
    await gateway('/v3/auth/enable', {});
  });

  // Registered after the fixture's, so it runs before the clients are closed (after hooks run in reverse).
  afterAll(() => restoreSpy());

  it('fails each bad create alone, with its typed error, and maps every valid one correctly', async () => {
    record.begin('run');
    const s = etcd.server;
    const p = etcd.proxy;
    record.config = {
      creates: COUNT,
      pattern: 'valid, empty range, valid, permission denied, ...',
      auth: 'alice: READ on [s3/ok/, s3/ok0); writes as root on the direct endpoint',
      fault: 'one cut after the first round of events',
    };
    const client = etcd.client({ auth: ALICE });
    const root = etcd.directClient({ auth: ROOT });
    const spy = spyWatchResponses();
    restoreSpy = () => spy.restore();

    const items: Array<{ i: number; kind: Kind; key: string; watcher: Watcher; collector: Collector; startedAt: number; endedAt?: number; created?: string }> = [];
    for (let i = 0; i < COUNT; i++) {
      const kind = kindOf(i);
      const key = kind === 'denied' ? `s3/secret/k${i}` : `s3/ok/k${String(i).padStart(2, '0')}`;
      let watch = Watch.key(key);
      if (kind === 'empty-range') {
        // A range whose end sorts before its key; the server answers "watcher range is empty".
        const raw = watch as unknown as { derive(fields: object): Watch; fields: object };
        watch = raw.derive({ ...raw.fields, rangeEnd: Buffer.from('s3/ok/a') });
      }
      const watcher = client.watch(watch);
      const item = { i, kind, key, watcher, collector: new Collector(watcher, key), startedAt: now() } as (typeof items)[number];
      void watcher.ended.then(() => (item.endedAt = now()));
      void watcher.created.then(
        () => (item.created = 'resolved'),
        (error: unknown) => (item.created = error instanceof Error ? error.name : String(error)),
      );
      items.push(item);
    }
    const settled = await waitUntil(() => items.every((x) => x.created !== undefined), 10_000);
    const valid = items.filter((x) => x.kind === 'valid');
    const failing = items.filter((x) => x.kind !== 'valid');
    await Promise.all(failing.map((x) => x.watcher.ended));
    const onServer = await waitForGauges(s, (g) => g.watchers === valid.length, 3_000);

    // Round 1: one put per key, valid and denied alike.
    const round1 = new Map<string, bigint>();
    for (const x of items) if (x.kind !== 'empty-range') round1.set(x.key, (await root.put(x.key, `r1-${x.i}`)).header.revision);
    const got1 = await waitUntil(() => valid.every((x) => x.collector.events >= 1), 10_000);
    // A cut: valid watchers are re-created, failed ones are not.
    await p.cut();
    const resumed = await waitForGauges(s, (g) => g.watchers === valid.length && g.watchStreamsStarted >= 2, 10_000);
    const round2 = new Map<string, bigint>();
    for (const x of valid) round2.set(x.key, (await root.put(x.key, `r2-${x.i}`)).header.revision);
    const got2 = await waitUntil(() => valid.every((x) => x.collector.events >= 2), 10_000);
    spy.restore();

    const wrongValid = valid.filter((x) => {
      const events = x.collector.allEvents();
      return (
        x.created !== 'resolved' ||
        x.watcher.stats.resumes !== 1 ||
        !x.watcher.active ||
        events.length !== 2 ||
        events[0]!.key !== x.key ||
        events[0]!.revision !== round1.get(x.key) ||
        events[0]!.value !== valueId(Buffer.from(`r1-${x.i}`)) ||
        events[1]!.revision !== round2.get(x.key) ||
        events[1]!.value !== valueId(Buffer.from(`r2-${x.i}`))
      );
    });
    const expectedError = (x: (typeof items)[number]): boolean =>
      x.kind === 'empty-range' ? x.collector.error instanceof WatchCanceledError : x.collector.error instanceof PermissionDeniedError;
    const wrongFailing = failing.filter((x) => !expectedError(x) || x.created === 'resolved' || x.collector.events !== 0);
    const errorLatency = failing.map((x) => (x.endedAt ?? Infinity) - x.startedAt);
    const rawFailures = spy.responses.filter((m) => m.created && m.canceled);

    record.figures['creates'] = { total: COUNT, valid: valid.length, emptyRange: failing.filter((x) => x.kind === 'empty-range').length, denied: failing.filter((x) => x.kind === 'denied').length };
    record.figures['createdOutcomes'] = tally(items.map((x) => `${x.kind}: ${x.created ?? 'pending'}`));
    record.figures['errors'] = tally(failing.map((x) => `${x.kind}: ${x.collector.error instanceof Error ? `${x.collector.error.name} (${x.collector.error.message})` : String(x.collector.error)}`));
    record.figures['failedCreateRepliesOnTheWire'] = tally(rawFailures.map((m) => `watch_id ${m.watchId < 0 ? '-1' : 'own ID'}`));
    record.figures['errorLatencyMs'] = { p50: round(percentile(errorLatency, 50)), max: round(Math.max(...errorLatency)) };
    record.figures['validEvents'] = { expected: valid.length * 2, delivered: valid.reduce((sum, x) => sum + x.collector.events, 0), wrongWatchers: wrongValid.length };
    record.figures['serverWatchersAfterCut'] = resumed.gauges;

    record.check('every created promise settled', settled);
    record.check('each failure ended its own watcher only, with its typed error (WatchCanceledError / PermissionDeniedError)', wrongFailing.length === 0, wrongFailing.slice(0, 5).map((x) => ({ i: x.i, kind: x.kind, error: String(x.collector.error), created: x.created })));
    record.check('the server holds exactly the valid watchers', onServer.ms !== undefined, onServer.gauges);
    record.check('round 1: every valid watcher got exactly its own event', got1);
    record.check('after a cut only the valid watchers were re-created', resumed.ms !== undefined, resumed.gauges);
    record.check('every valid watcher got exactly its own 2 events, nothing else', got2 && wrongValid.length === 0, wrongValid.slice(0, 5).map((x) => ({ i: x.i, created: x.created, events: x.collector.allEvents(), error: String(x.collector.error) })));
    await Promise.all(valid.map((x) => x.watcher.cancel()));
    record.end('run');
    await record.write(
      `${valid.length} valid, ${failing.length} failing; errors ${JSON.stringify(record.figures['errors'])}; valid events ${JSON.stringify(record.figures['validEvents'])}`,
    );
    expect(record.failed()).toEqual([]);
  }, 60_000);
});
