/**
 * L2 (RELIABILITY 8.C): the network stops for 2×TTL (TTL 5) without closing the connection, in
 * both ways a proxy can: freeze (nothing read, TCP backpressure) and blackhole (bytes read and
 * dropped), each on its own client and proxy, at the same time. The SDK reports the lease lost
 * (reason `expired`) no later than TTL + 1 s after the last acknowledged keep-alive, never reports
 * it alive again after healing, and the server confirms: TimeToLive says not found and the lease's
 * key is gone.
 */
import { describe, expect, it } from 'vitest';
import { LeaseExpiredError, LeaseNotFoundError } from 'etcdkit';
import { startFaultProxy } from 'etcdkit/testing';
import { LeaseProbe, useLeaseScenario, waitFor } from './lease-probe.js';
import { FaultRecord, now, round, sleep } from './support.js';

const TTL = 5;
const FAULT_MS = 2 * TTL * 1_000;
/** RELIABILITY 10: lost reported ≤ TTL + 1 s after the last ack. */
const LOST_BOUND_MS = TTL * 1_000 + 1_000;
/** Bound on waiting for the first acknowledged refresh before the fault. */
const WARMUP_MS = 3_000;
/** Observation after healing, for any late "alive" report. */
const AFTER_HEAL_MS = 2_000;

const record = new FaultRecord('L2', 'network paused past the TTL (freeze and blackhole)');

const scenario = useLeaseScenario(
  record,
  { ttl: TTL, faultMs: FAULT_MS, lostBoundMs: LOST_BOUND_MS, modes: ['freeze', 'blackhole'], warmupMs: WARMUP_MS },
  () => {
    const lost = (['freeze', 'blackhole'] as const).map((mode) => {
      const figures = record.figures[mode] as { lostAfterLastAckMs?: number } | undefined;
      return `${mode}: lost ${figures?.lostAfterLastAckMs ?? '?'} ms after the last ack`;
    });
    return `${lost.join('; ')} (bound ${LOST_BOUND_MS} ms), false alive ${JSON.stringify(record.figures['falseAlive'])}`;
  },
);

describe('L2: a pause longer than the TTL', () => {
  it('reports the loss within TTL + 1 s of the last ack and never reports the lease alive again', async () => {
    record.begin('pause');
    const modes = ['freeze', 'blackhole'] as const;
    const checker = scenario.client();
    const runs = await Promise.all(
      modes.map(async (mode) => {
        const proxy = await startFaultProxy({ target: scenario.server.endpoint });
        scenario.track(proxy);
        const client = scenario.client({ endpoints: [proxy.endpoint] });
        const kept = await client.lease.grantKeptAlive(TTL);
        const key = `l2/${mode}`;
        await client.put(key, 'owned', { lease: kept.id });
        return { mode, proxy, client, kept, key, probe: new LeaseProbe(client, kept) };
      }),
    );
    await waitFor(() => runs.every((run) => run.probe.acks.length > 0), WARMUP_MS);

    const faultAt = now();
    await Promise.all(runs.map((run) => (run.mode === 'freeze' ? run.proxy.freeze() : run.proxy.blackhole())));
    record.mark('freeze + blackhole');
    await waitFor(() => runs.every((run) => run.probe.lostAt !== undefined), TTL * 1_000 + 3_000);
    const remaining = FAULT_MS - (now() - faultAt);
    if (remaining > 0) await sleep(remaining);
    await Promise.all(runs.map((run) => run.proxy.heal()));
    const healAt = now();
    record.mark('heal');
    await sleep(AFTER_HEAL_MS);

    const falseAlive: Record<string, number> = {};
    for (const run of runs) {
      const { probe, mode } = run;
      const lastAck = probe.lastAckBefore();
      const lostAfterLastAck = probe.lostAt !== undefined && lastAck !== undefined ? probe.lostAt - lastAck : Number.NaN;
      const error = probe.lostError;
      let serverTtl: string;
      try {
        serverTtl = String((await checker.lease.timeToLive(run.kept.id)).ttl);
      } catch (failure) {
        serverTtl = failure instanceof LeaseNotFoundError ? 'not found (TTL -1)' : String(failure);
      }
      const keyAfter = await checker.get(run.key);
      falseAlive[mode] = probe.aliveAfterLost;
      record.figures[mode] = {
        acksBeforeFault: probe.acks.filter((ack) => ack < faultAt).length,
        lastAckBeforeFaultMs: lastAck === undefined ? null : round(faultAt - lastAck),
        lostAfterFaultMs: probe.lostAt === undefined ? null : round(probe.lostAt - faultAt),
        lostAfterLastAckMs: round(lostAfterLastAck),
        reason: error?.reason ?? null,
        message: error?.message ?? null,
        acksAfterLost: probe.aliveAfterLost,
        acksAfterHeal: probe.acks.filter((ack) => ack > healAt).length,
        serverTimeToLive: serverTtl,
        keyAfterHeal: keyAfter === undefined ? 'gone' : keyAfter.text(),
      };
      record.check(`${mode}: lost with reason expired`, error instanceof LeaseExpiredError && error.reason === 'expired', error?.reason);
      record.check(`${mode}: lost ≤ TTL + 1 s after the last ack`, lostAfterLastAck <= LOST_BOUND_MS, round(lostAfterLastAck));
      record.check(`${mode}: not lost before the TTL could have run out`, lostAfterLastAck >= TTL * 1_000 - 250, round(lostAfterLastAck));
      record.check(`${mode}: never reported alive after the loss`, probe.neverAliveAgain(), { acksAfterLost: probe.aliveAfterLost });
      record.check(`${mode}: server says not found after healing`, serverTtl === 'not found (TTL -1)', serverTtl);
      record.check(`${mode}: the lease's key is gone`, keyAfter === undefined);
    }
    record.figures['falseAlive'] = falseAlive;
    record.end('pause');
    expect(record.failed()).toEqual([]);
  });
});
