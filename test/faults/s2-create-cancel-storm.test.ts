/**
 * S2 (RELIABILITY 8.E; TestWatchStressResumeClose, TestWatchCancelDisconnected): 2000 watchers
 * created and cancelled at random during a storm of cuts and refused periods.
 *
 * Watchers end in six ways: `cancel()` after a random delay, an abort signal, leaving a
 * for-await loop, `cancel()` at once (before the create is even answered), and the iterator's
 * `return()` called by another task while a `next()` waits, or before any `next()`.
 * Five control watchers run through the whole storm under a writer.
 *
 * → Every promise settles (`created`, `ended`, `cancel()`); a cancel while disconnected
 * completes within 1 s; no unhandled rejection; the server gauges return to the baseline; the
 * control watchers lose and repeat nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Watch, type Watcher } from 'etcdkit';
import { FaultRecord, now, percentile, round, sleep, tally, useProxiedEtcd } from './support.js';
import {
  compareAll,
  counts,
  isExact,
  prefixEnd,
  prng,
  readEventLog,
  startSubjects,
  type Subject,
  waitCaughtUp,
  waitForGauges,
  waitUntil,
  Writer,
} from './watch-support.js';

const WATCHERS = 2_000;
const STORM_MS = 8_000;
const SEED = Number(process.env['S2_SEED'] ?? 2);
const CTL = 's2/ctl/';
const CTL_KEYS = Array.from({ length: 5 }, (_, i) => `${CTL}k${i}`);
const record = new FaultRecord('S2', 'create/cancel storm under cuts');

type Ending = 'cancel' | 'abort' | 'return' | 'cancel-at-once' | 'return-while-next-pending' | 'return-before-next';
const ENDINGS: Ending[] = ['cancel', 'abort', 'return', 'cancel-at-once', 'return-while-next-pending', 'return-before-next'];

interface Tracked {
  watcher: Watcher;
  ending: Ending;
  created: 'pending' | 'resolved' | 'rejected';
  createdError?: string;
  /** 'pending', 'cancelled' or the ending error's name. */
  ended: string;
  cancelStartedAt?: number;
  cancelDoneAt?: number;
  disconnectedAtCancel?: boolean;
}

describe('S2: create/cancel storm under cuts', () => {
  const etcd = useProxiedEtcd(record);

  beforeAll(() => {
    record.seed = SEED;
  });

  it('settles every promise, cancels fast while disconnected and leaves nothing on the server', async () => {
    record.begin('run');
    const s = etcd.server;
    const p = etcd.proxy;
    record.config = {
      watchers: WATCHERS,
      stormMs: STORM_MS,
      faults: 'cycles of 150 ms normal (one cut in the middle) then 150 ms refuse',
      endings: ENDINGS,
      quietKeys: 'the return-while-next-pending / return-before-next watchers watch keys nobody writes',
      lifetimeMs: 'random 0-300 ms (cancel-at-once: 0; return: the first batch after it)',
      stormWatchers: 'single keys s2/w/0..49; the "return" ones the prefix s2/w/ (100 writes/s)',
      control: '5 watchers on s2/ctl/ (prefix, prefix+prevKv, 3 keys) under a 100/s writer',
    };
    const random = prng(SEED);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    const client = etcd.client();
    const direct = etcd.directClient();
    const baseline = (await waitForGauges(s, () => true, 1_000)).gauges!;

    const start = (await direct.put(`${CTL}start`, 'x')).header.revision + 1n;
    const controlSubjects: Subject[] = [
      { name: 'ctl prefix', build: (r) => Watch.key(CTL).withPrefix().withStartRevision(r!), spec: { key: CTL, rangeEnd: prefixEnd(CTL) }, fromNow: false },
      { name: 'ctl prefix+prevKv', build: (r) => Watch.key(CTL).withPrefix().withPrevKv().withStartRevision(r!), spec: { key: CTL, rangeEnd: prefixEnd(CTL), prevKv: true }, fromNow: false },
      ...CTL_KEYS.slice(0, 3).map((key): Subject => ({ name: `ctl ${key}`, build: (r) => Watch.key(key).withStartRevision(r!), spec: { key, rangeEnd: '' }, fromNow: false })),
    ];
    const control = await startSubjects(client, controlSubjects, start);
    const writer = new Writer({ client: direct, keys: CTL_KEYS, ratePerSec: 100, durationMs: STORM_MS + 1_000, deleteEvery: 8, txnEvery: 15, seed: SEED }).start();
    // Events for the storm watchers, so those that leave a for-await loop get batches to leave on.
    const stormKeys = Array.from({ length: 50 }, (_, i) => `s2/w/${i}`);
    const stormWriter = new Writer({ client: direct, keys: stormKeys, ratePerSec: 100, durationMs: STORM_MS + 2_000, seed: SEED + 1 }).start();

    let disconnected = false;
    let stop = false;
    const faults = { cuts: 0, refusals: 0, errors: 0 };
    const stormStart = now();
    record.mark('storm start');
    const faultLoop = (async () => {
      while (!stop && now() - stormStart < STORM_MS) {
        try {
          await sleep(75);
          await p.cut();
          faults.cuts++;
          await sleep(75);
          await p.refuse();
          disconnected = true;
          faults.refusals++;
          await sleep(150);
          await p.heal();
          disconnected = false;
        } catch {
          faults.errors++;
        }
      }
      await p.heal();
      disconnected = false;
    })();

    const tracked: Tracked[] = [];
    const lifetimes: Array<Promise<void>> = [];
    const endIt = async (t: Tracked, controller: AbortController, iterator?: AsyncIterator<unknown>): Promise<void> => {
      t.cancelStartedAt = now();
      t.disconnectedAtCancel = disconnected;
      if (iterator !== undefined) {
        await iterator.return?.(undefined);
      } else if (t.ending === 'abort') {
        controller.abort(new Error('storm'));
        await t.watcher.ended;
      } else {
        await t.watcher.cancel();
      }
      t.cancelDoneAt = now();
    };
    // Leaving a for-await loop: the loop breaks on the first batch after its lifetime.
    const iterate = async (t: Tracked, lifetime: number): Promise<void> => {
      const deadline = now() + lifetime;
      try {
        for await (const _ of t.watcher) {
          if (now() >= deadline) {
            t.cancelStartedAt = now();
            t.disconnectedAtCancel = disconnected;
            break;
          }
        }
      } catch {
        // Ended by the client close at worst; counted through `ended`.
      }
      t.cancelDoneAt = now();
    };
    for (let i = 0; i < WATCHERS && now() - stormStart < STORM_MS; i++) {
      const ending = ENDINGS[Math.floor(random() * ENDINGS.length)]!;
      const controller = new AbortController();
      const target =
        ending === 'return' ? Watch.key('s2/w/').withPrefix() : ending.startsWith('return-') ? Watch.key(`s2/quiet/${i}`) : Watch.key(`s2/w/${i % 50}`);
      const watcher = client.watch(target, ending === 'abort' ? { signal: controller.signal } : undefined);
      const t: Tracked = { watcher, ending, created: 'pending', ended: 'pending' };
      tracked.push(t);
      void watcher.created.then(
        () => (t.created = 'resolved'),
        (error: unknown) => {
          t.created = 'rejected';
          t.createdError = error instanceof Error ? error.name : String(error);
        },
      );
      void watcher.ended.then((error) => (t.ended = error === undefined ? 'cancelled' : error.name));
      const lifetime = ending === 'cancel-at-once' ? 0 : Math.floor(random() * 300);
      let iterator: AsyncIterator<unknown> | undefined;
      if (ending === 'return-while-next-pending' || ending === 'return-before-next') {
        iterator = watcher[Symbol.asyncIterator]();
        // No event comes to this key: the read waits until the iterator is returned.
        if (ending === 'return-while-next-pending') void iterator.next().catch(() => undefined);
      }
      if (ending === 'return') lifetimes.push(iterate(t, lifetime));
      else lifetimes.push(lifetime === 0 ? endIt(t, controller, iterator) : sleep(lifetime).then(() => endIt(t, controller, iterator)));
      if (i % 5 === 4) await sleep(9);
    }
    const createdCount = tracked.length;
    stop = true;
    await faultLoop;
    const stormEnd = now();
    record.mark('storm end', { faults, watchers: createdCount });
    const allCancelled = await Promise.race([Promise.all(lifetimes).then(() => true), sleep(10_000).then(() => false)]);
    const settled = await waitUntil(() => tracked.every((t) => t.created !== 'pending' && t.ended !== 'pending'), 5_000);
    const stormGone = await waitForGauges(s, (g) => g.watchers === baseline.watchers + control.length && g.streams === baseline.streams + 1, 2_000);

    await Promise.all([writer.done, stormWriter.done]);
    const until = writer.lastRevision;
    const oracle = await readEventLog({ clientUrl: s.clientUrl, key: CTL, rangeEnd: prefixEnd(CTL), startRevision: start, untilRevision: until });
    const caughtUp = await waitCaughtUp(control, oracle, until);
    const { total } = compareAll(control, oracle, until);
    // A link that is down but not known to be (frozen): the cancel cannot be acknowledged and
    // waits for the SDK's cancel-ack timeout. Reported, not checked against the 1 s bound,
    // which is about a known disconnection (TestWatchCancelDisconnected closes the connection).
    const frozenVictim = client.watch('s2/frozen');
    await frozenVictim.created;
    await p.freeze();
    const frozenCancelStart = now();
    await frozenVictim.cancel();
    const frozenCancelMs = now() - frozenCancelStart;
    await p.heal();
    await Promise.all(control.map((r) => r.watcher.cancel()));
    const allGone = await waitForGauges(s, (g) => g.watchers === baseline.watchers && g.streams === baseline.streams, 2_000);
    process.off('unhandledRejection', onUnhandled);

    const durations = tracked.filter((t) => t.cancelDoneAt !== undefined).map((t) => t.cancelDoneAt! - t.cancelStartedAt!);
    const disconnectedDurations = tracked.filter((t) => t.disconnectedAtCancel && t.cancelDoneAt !== undefined).map((t) => t.cancelDoneAt! - t.cancelStartedAt!);
    const slowDisconnected = tracked.filter((t) => t.disconnectedAtCancel && t.cancelDoneAt !== undefined && t.cancelDoneAt - t.cancelStartedAt! >= 1_000);
    const pendingCreated = tracked.filter((t) => t.created === 'pending');
    const pendingEnded = tracked.filter((t) => t.ended === 'pending');
    record.figures['watchers'] = createdCount;
    record.figures['faults'] = { ...faults, stormMs: round(stormEnd - stormStart) };
    record.figures['endings'] = tally(tracked.map((t) => t.ending));
    record.figures['createdOutcomes'] = tally(tracked.map((t) => `${t.ending}: ${t.created}${t.createdError ? ` ${t.createdError}` : ''}`));
    record.figures['endedOutcomes'] = tally(tracked.map((t) => `${t.ending}: ${t.ended}`));
    record.figures['cancelMs'] = { p50: round(percentile(durations, 50)), p99: round(percentile(durations, 99)), max: round(Math.max(0, ...durations)) };
    record.figures['cancelWhileDisconnectedMs'] = {
      count: disconnectedDurations.length,
      p50: round(percentile(disconnectedDurations, 50)),
      p99: round(percentile(disconnectedDurations, 99)),
      max: round(Math.max(0, ...disconnectedDurations)),
    };
    record.figures['cancelOnFrozenLinkMs'] = round(frozenCancelMs);
    record.figures['gauges'] = { baseline, afterStormWatchers: stormGone.gauges, afterAll: allGone.gauges, stormWatchersGoneMs: stormGone.ms === undefined ? null : round(stormGone.ms) };
    record.figures['control'] = counts(total);
    record.figures['unhandledRejections'] = unhandled.length;

    record.check('the storm ran (cuts and refusals)', faults.cuts > 5 && faults.refusals > 5 && faults.errors === 0, faults);
    record.check(`all ${WATCHERS} watchers were created during the storm`, createdCount === WATCHERS, createdCount);
    record.check('every cancel / abort / return completed', allCancelled);
    record.check('every created promise settled', settled && pendingCreated.length === 0, tally(pendingCreated.map((t) => t.ending)));
    record.check('every ended promise settled', pendingEnded.length === 0, tally(pendingEnded.map((t) => t.ending)));
    record.check('a cancel while disconnected completes within 1 s', slowDisconnected.length === 0 && disconnectedDurations.length > 0, {
      slow: slowDisconnected.length,
      count: disconnectedDurations.length,
    });
    record.check('no unhandled rejection', unhandled.length === 0, unhandled.slice(0, 3).map(String));
    record.check('the storm watchers are gone from the server within 2 s', stormGone.ms !== undefined, stormGone.gauges);
    record.check('server gauges back to baseline after the control watchers are cancelled', allGone.ms !== undefined, allGone.gauges);
    record.check('control watchers caught up', caughtUp);
    record.check('control watchers: 0 missing, 0 duplicate, 0 out of order', isExact(total), total);
    record.end('run');
    await record.write(
      `${createdCount} watchers, ${faults.cuts} cuts, ${faults.refusals} refusals; created ${JSON.stringify(tally(tracked.map((t) => t.created)))}; ` +
        `cancel while disconnected ${JSON.stringify(record.figures['cancelWhileDisconnectedMs'])}; control ${JSON.stringify(counts(total))}`,
    );
    expect(record.failed()).toEqual([]);
  }, 90_000);
});
