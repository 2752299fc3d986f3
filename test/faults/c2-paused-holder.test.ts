/**
 * C2 (RELIABILITY 8.D, Jepsen lock-set): the lock holder's client process is stopped (SIGSTOP)
 * for 2×TTL. Its lease expires, a contender in this process acquires the lock, then the holder
 * resumes (SIGCONT) in the middle of its critical section: it had read both counters and was
 * about to write them. (a) Its plain put of the unfenced counter goes through: lost updates
 * there are expected, and reported to document the caveat. (b) Its write of the fenced counter
 * goes through the lock's guarded transaction: it must be refused, 0 lost updates. Its `lost`
 * signal must fire before its next guarded operation is sent: no transaction leaves the holder
 * after its lease's deadline. Figures: unfenced lost updates, fenced violations, time from
 * SIGCONT to the lost signal.
 */
import { describe, expect, it } from 'vitest';
import { Op } from 'etcdkit';
import { useLeaseScenario } from './lease-probe.js';
import { Worker, type WorkerEvent } from './coordination-support.js';
import { FaultRecord, round, sleep } from './support.js';

const TTL = 2;
const GAP_MS = 100;
const NAME = 'c2/lock';
const UNFENCED = 'c2/unfenced';
const FENCED = 'c2/fenced';

const record = new FaultRecord('C2', `holder paused past its TTL (SIGSTOP of its client process for 2×TTL, TTL ${TTL} s)`);
const scenario = useLeaseScenario(record, { ttl: TTL, pauseMs: 2 * TTL * 1000, criticalSectionGapMs: GAP_MS }, () => {
  const f = record.figures;
  return `fenced violations ${JSON.stringify(f['fencedViolations'])}, unfenced lost updates ${JSON.stringify(f['unfencedLostUpdates'])}, SIGCONT→lost ${JSON.stringify(f['sigcontToLostMs'])} ms`;
});

const epoch = (): number => performance.timeOrigin + performance.now();
const num = (text: string | undefined): number => Number(text ?? '0');

describe('C2: holder paused past its TTL', () => {
  it('0 fenced violations; the resumed holder is told it lost the lock before its next guarded op', async () => {
    record.begin('pause');
    const client = scenario.client();
    const holder = new Worker({ mode: 'holder', endpoints: scenario.server.endpoints, name: NAME, counter: UNFENCED, fenced: FENCED, ttl: TTL, gapMs: GAP_MS });
    try {
      const acquired = await holder.next('acquired', 20_000);
      record.mark('holder acquired', { token: acquired['token'] });
      await sleep(3.5 * GAP_MS);
      holder.signal('SIGSTOP');
      const stoppedAt = epoch();
      record.mark('SIGSTOP holder');

      const lock = await client.lock.acquire(NAME, { ttl: 5, timeoutMs: 10_000 });
      const acquiredAfterStopMs = round(epoch() - stoppedAt);
      record.mark('contender acquired', { token: lock.fencingToken, afterStopMs: acquiredAfterStopMs });
      let stop = false;
      const contender = { fenced: 0, unfenced: 0, fencedRevisions: [] as bigint[] };
      const loop = (async () => {
        while (!stop) {
          const unfenced = num((await client.get(UNFENCED))?.text());
          const fenced = num((await client.get(FENCED))?.text());
          await sleep(GAP_MS);
          await client.put(UNFENCED, String(unfenced + 1));
          contender.unfenced++;
          const [written] = await lock.guarded([Op.put(FENCED, String(fenced + 1))]);
          contender.fenced++;
          contender.fencedRevisions.push(written.header.revision);
        }
      })();
      await sleep(Math.max(0, stoppedAt + 2 * TTL * 1000 - epoch()));
      holder.signal('SIGCONT');
      const continuedAt = epoch();
      record.mark('SIGCONT holder');
      await holder.next('refused', 10_000);
      await holder.exited;
      await sleep(3 * GAP_MS);
      stop = true;
      await loop;
      await lock.release();

      const events = holder.events;
      const lost = events.find((e) => e.event === 'lost');
      const refused = events.find((e) => e.event === 'refused')!;
      const holderFenced = events.filter((e) => e.event === 'fenced');
      const holderUnfenced = events.filter((e) => e.event === 'unfenced');
      const sentTxns = refused['sentTxns'] as number[];
      const revision = (e: WorkerEvent): bigint => BigInt(e['revision'] as string);
      const fencedFinal = num((await client.get(FENCED))?.text());
      const unfencedFinal = num((await client.get(UNFENCED))?.text());
      const fencedLostUpdates = holderFenced.length + contender.fenced - fencedFinal;
      const unfencedLostUpdates = holderUnfenced.length + contender.unfenced - unfencedFinal;
      const lateFenced = holderFenced.filter((e) => revision(e) > lock.fencingToken).length;
      const unfencedAfterResume = holderUnfenced.filter((e) => e.at > continuedAt).length;
      const txnsAfterLost = lost === undefined ? sentTxns.length : sentTxns.filter((at) => at > lost.at).length;
      Object.assign(record.figures, {
        fencedViolations: fencedLostUpdates + lateFenced,
        fencedLostUpdates,
        holderFencedWritesAfterContenderToken: lateFenced,
        unfencedLostUpdates,
        holderUnfencedWritesAfterResume: unfencedAfterResume,
        contenderAcquiredAfterStopMs: acquiredAfterStopMs,
        sigcontToLostMs: lost === undefined ? null : round(lost.at - continuedAt),
        sigcontToRefusalMs: round(refused.at - continuedAt),
        lostReason: lost?.['reason'],
        refusal: refused['error'],
        holderTxnsSentAfterLost: txnsAfterLost,
        writes: { holderFenced: holderFenced.length, holderUnfenced: holderUnfenced.length, contenderFenced: contender.fenced, contenderUnfenced: contender.unfenced },
        finals: { fenced: fencedFinal, unfenced: unfencedFinal },
      });
      if (unfencedLostUpdates > 0) {
        record.notes.push(`unfenced: the resumed holder overwrote ${unfencedLostUpdates} increment(s) of the new holder: the documented caveat of a lock without fencing`);
      }
      record.check('the contender acquired only after the holder was stopped (its lease expired)', acquiredAfterStopMs >= 0);
      record.check('fenced counter: 0 lost updates', fencedLostUpdates === 0, fencedLostUpdates);
      record.check('no fenced write of the old holder after the new fencing token', lateFenced === 0, lateFenced);
      record.check('the resumed holder reported the loss', lost !== undefined && lost['reason'] === 'session-lost', lost?.['reason']);
      record.check('its next guarded op was refused as a lost lock', refused['error'] === 'session-lost', refused['error']);
      record.check('lost fired before the refusal, and no transaction left the holder after it', lost !== undefined && lost.at <= refused.at && txnsAfterLost === 0, {
        lostAt: lost?.at,
        refusedAt: refused.at,
        txnsAfterLost,
      });
      record.check('the new holder kept its lock throughout', !lock.isHeld && (await lock.lost).reason === 'released');
    } finally {
      await holder.stop();
    }
    record.end('pause');
    expect(record.failed()).toEqual([]);
  }, 60_000);
});
