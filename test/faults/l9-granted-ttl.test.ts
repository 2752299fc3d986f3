/**
 * L9 (RELIABILITY 8.C): a TTL of 1 s is asked for; etcd 3.4 grants 2 s (its minimum, 1.5 × the
 * election timeout). The SDK schedules from the granted 2 s: refreshes about every 667 ms (not
 * every 333 ms, nor a made-up interval), and a local deadline of the acknowledged send + 2 s.
 * Bad TTLs (0, negative, fractions, above 9e9) are rejected locally, without a network call.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'etcdkit';
import { LeaseProbe, useLeaseScenario } from './lease-probe.js';
import { FaultRecord, now, percentile, round, sleep } from './support.js';

const ASKED_TTL = 1;
const GRANTED_TTL = 2;
const OBSERVE_MS = 4_000;
const INTERVAL_MS = (GRANTED_TTL * 1_000) / 3;
/** Refreshes are aligned to the nearest point of a grid of an eighth of the interval; plus timer and loop slack. */
const INTERVAL_BOUNDS_MS = [INTERVAL_MS - INTERVAL_MS / 16 - 30, INTERVAL_MS + INTERVAL_MS / 16 + 60] as const;

const record = new FaultRecord('L9', 'TTL 1 asked, 2 granted: refreshes scheduled from the granted TTL');

const scenario = useLeaseScenario(
  record,
  { askedTtl: ASKED_TTL, observeMs: OBSERVE_MS, intervalBoundsMs: INTERVAL_BOUNDS_MS },
  () =>
    `granted ${JSON.stringify(record.figures['grantedTtl'])} s; refresh interval p50 ${JSON.stringify(record.figures['intervalP50Ms'])} ms ` +
    `(expected ${round(INTERVAL_MS)}), deadline − last send ${JSON.stringify(record.figures['deadlineAfterAckMs'])} ms`,
);

describe('L9: the granted TTL differs from the one asked for', () => {
  it('refreshes every third of the granted TTL and rejects bad TTLs locally', async () => {
    record.begin('granted');
    const client = scenario.client();
    const kept = await client.lease.grantKeptAlive(ASKED_TTL);
    const probe = new LeaseProbe(client, kept);
    await sleep(OBSERVE_MS);
    const intervals = probe.acks.slice(1).map((ack, i) => ack - probe.acks[i]!);
    // The deadline is the acknowledged send + the TTL: just under 2 s after the last ack arrived.
    const lastAck = probe.acks.at(-1) ?? Number.NaN;
    const deadlineAfterAck = kept.deadline - (Date.now() - (now() - lastAck));
    record.figures['grantedTtl'] = kept.ttl;
    record.figures['acks'] = probe.acks.length;
    record.figures['intervalsMs'] = intervals.map((ms) => round(ms));
    record.figures['intervalP50Ms'] = round(percentile(intervals, 50));
    record.figures['deadlineAfterAckMs'] = round(deadlineAfterAck);
    record.check('the server granted 2 s for 1 s', kept.ttl === GRANTED_TTL, kept.ttl);
    record.check('not lost', !kept.isLost);
    record.check(
      `every refresh interval within [${round(INTERVAL_BOUNDS_MS[0])}, ${round(INTERVAL_BOUNDS_MS[1])}] ms`,
      intervals.length >= 4 && intervals.every((ms) => ms >= INTERVAL_BOUNDS_MS[0] && ms <= INTERVAL_BOUNDS_MS[1]),
      intervals.map((ms) => round(ms)),
    );
    record.check('deadline ≈ the acknowledged send + 2 s', deadlineAfterAck > GRANTED_TTL * 1_000 - 50 && deadlineAfterAck <= GRANTED_TTL * 1_000 + 5, round(deadlineAfterAck));

    const offline = scenario.client({ endpoints: ['127.0.0.1:1'], timeoutMs: 500 });
    const rejected: Record<string, string> = {};
    for (const ttl of [0, -5, 1.5, 9_000_000_001]) {
      const error = await offline.lease.grant(ttl).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      rejected[String(ttl)] = error instanceof InvalidArgumentError ? `InvalidArgumentError(${error.argument})` : String(error);
      record.check(`TTL ${ttl} rejected locally`, error instanceof InvalidArgumentError && error.argument === 'ttl', rejected[String(ttl)]);
    }
    record.figures['rejected'] = rejected;
    await probe.close();
    await kept.revoke();
    record.end('granted');
    expect(record.failed()).toEqual([]);
  });
});
