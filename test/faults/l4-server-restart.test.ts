/**
 * L4 (RELIABILITY 8.C): a single node with a TTL-10 lease is killed (-9) and stays down for
 * 12 s. The SDK reports the lease lost (reason `expired`) about 10 s after its last
 * acknowledgement, although the 3.4 server resurrects the lease with a full TTL when it comes
 * back (RELIABILITY 6.1). By policy, once the server is reachable again the SDK revokes the lease
 * it already declared lost, so its key does not outlive the owner's "lost" by a further TTL.
 * Figures: lost latency, and how long the key lived after "lost" and after the restart.
 */
import { describe, expect, it } from 'vitest';
import { LeaseExpiredError, LeaseNotFoundError } from 'etcdkit';
import { LeaseProbe, useLeaseScenario, waitFor } from './lease-probe.js';
import { FaultRecord, now, round, sleep } from './support.js';

const TTL = 10;
const DOWN_MS = 12_000;
/** RELIABILITY 10: lost reported ≤ TTL + 1 s after the last ack. */
const LOST_BOUND_MS = TTL * 1_000 + 1_000;
/** After the restart, a key that lives this long was not revoked but expired by itself (the TTL restarts at 10 s). */
const REVOKED_WITHIN_MS = TTL * 1_000 - 2_000;
const KEY = 'l4/owned';

const record = new FaultRecord('L4', 'server killed for 12 s with a TTL-10 lease: lost at ~10 s, revoked after restart');

const scenario = useLeaseScenario(
  record,
  { ttl: TTL, downMs: DOWN_MS, lostBoundMs: LOST_BOUND_MS, fault: 'kill -9 the single member, restart after 12 s' },
  () => {
    const f = record.figures;
    return (
      `lost ${JSON.stringify(f['lostAfterLastAckMs'])} ms after the last ack; key lived ${JSON.stringify(f['keyLivedAfterLostMs'])} ms ` +
      `after "lost" (${JSON.stringify(f['keyLivedAfterRestartMs'])} ms after the restart)`
    );
  },
);

describe('L4: server restart with a kept lease', () => {
  it('reports the loss at the deadline and revokes the resurrected lease after the restart', async () => {
    record.begin('restart');
    const s = scenario.server;
    const owner = scenario.client();
    const kept = await owner.lease.grantKeptAlive(TTL);
    const grantedAt = now();
    await owner.put(KEY, 'mine', { lease: kept.id });
    const probe = new LeaseProbe(owner, kept);

    await s.kill();
    const killAt = now();
    record.mark('kill -9');
    await waitFor(() => probe.lostAt !== undefined, LOST_BOUND_MS + 2_000);
    const lastAck = Math.max(grantedAt, probe.lastAckBefore() ?? 0);
    const lostAt = probe.lostAt;
    record.mark('lost', { reason: probe.lostError?.reason });
    await sleep(Math.max(0, DOWN_MS - (now() - killAt)));
    await s.restart();
    const restartedAt = now();
    record.mark('restarted (healthy)');

    const checker = scenario.client();
    let firstTimeToLive: string | undefined;
    try {
      firstTimeToLive = `${(await checker.lease.timeToLive(kept.id)).ttl} s remaining`;
    } catch (error) {
      firstTimeToLive = error instanceof LeaseNotFoundError ? 'not found' : String(error);
    }
    const gone = await waitFor(async () => (await checker.get(KEY)) === undefined, TTL * 1_000 + 5_000, 50);
    const goneAt = now();
    record.mark('key gone', { gone });
    let finalTimeToLive: string;
    try {
      finalTimeToLive = `${(await checker.lease.timeToLive(kept.id)).ttl} s remaining`;
    } catch (error) {
      finalTimeToLive = error instanceof LeaseNotFoundError ? 'not found' : String(error);
    }

    const lostAfterLastAck = lostAt === undefined ? Number.NaN : lostAt - lastAck;
    record.figures['lostAfterLastAckMs'] = round(lostAfterLastAck);
    record.figures['lostAfterKillMs'] = lostAt === undefined ? null : round(lostAt - killAt);
    record.figures['reason'] = probe.lostError?.reason ?? null;
    record.figures['timeToLiveRightAfterRestart'] = firstTimeToLive;
    record.figures['timeToLiveAtEnd'] = finalTimeToLive;
    record.figures['keyLivedAfterLostMs'] = lostAt === undefined ? null : round(goneAt - lostAt);
    record.figures['keyLivedAfterRestartMs'] = round(goneAt - restartedAt);
    record.figures['withoutRevokeKeyWouldLiveAfterRestartMs'] = TTL * 1_000;
    record.check('lost with reason expired', probe.lostError instanceof LeaseExpiredError && probe.lostError.reason === 'expired', probe.lostError?.reason);
    record.check('lost ≤ TTL + 1 s after the last ack', lostAfterLastAck <= LOST_BOUND_MS, round(lostAfterLastAck));
    record.check('lost no earlier than the TTL allows', lostAfterLastAck >= TTL * 1_000 - 250, round(lostAfterLastAck));
    record.check('never reported alive after the loss', probe.neverAliveAgain(), probe.aliveAfterLost);
    record.check('the key is gone after the restart', gone);
    record.check(
      `revoked by the SDK: the key disappeared within ${REVOKED_WITHIN_MS} ms of the restart, before the reset TTL could run out`,
      goneAt - restartedAt < REVOKED_WITHIN_MS,
      round(goneAt - restartedAt),
    );
    record.check('the server no longer knows the lease', finalTimeToLive === 'not found', finalTimeToLive);
    record.end('restart');
    expect(record.failed()).toEqual([]);
  });
});
