/**
 * L6 (RELIABILITY 8.C, TestLeaseKeepAliveNotFound): one client keeps 100 leases (TTL 5) alive on
 * its one keep-alive stream; another client revokes one of them. The owner reports that lease
 * lost with reason `revoked` within one refresh period (TTL/3) of the revoke, and the other 99
 * keep being refreshed on the same stream, none reported lost.
 */
import { describe, expect, it } from 'vitest';
import type { KeptLease } from 'etcdkit';
import { LeaseProbe, useLeaseScenario, waitFor } from './lease-probe.js';
import { FaultRecord, now, round, sleep } from './support.js';

const TTL = 5;
const LEASES = 100;
const PERIOD_MS = (TTL * 1_000) / 3;
/** A refresh period, plus the refresh grid (up to 250 ms) and scheduling slack. */
const DETECTION_BOUND_MS = PERIOD_MS + 400;

const record = new FaultRecord('L6', 'a lease revoked by another client, among 100 on one stream');

const scenario = useLeaseScenario(
  record,
  { ttl: TTL, leases: LEASES, detectionBoundMs: DETECTION_BOUND_MS },
  () =>
    `detected ${JSON.stringify(record.figures['detectionMs'])} ms after the revoke (bound ${round(DETECTION_BOUND_MS)} ms), ` +
    `others lost ${JSON.stringify(record.figures['othersLost'])}`,
);

describe('L6: revoke from another client', () => {
  it('the owner sees the revoked lease lost within one refresh period; the other 99 are unaffected', async () => {
    record.begin('revoke');
    const owner = scenario.client();
    const other = scenario.client();
    const kept: KeptLease[] = await Promise.all(Array.from({ length: LEASES }, () => owner.lease.grantKeptAlive(TTL)));
    const probes = kept.map((lease) => new LeaseProbe(owner, lease));
    await sleep(PERIOD_MS);
    const victim = probes[Math.floor(LEASES / 2)]!;
    await other.lease.revoke(victim.id);
    const revokedAt = now();
    record.mark('revoked by the other client', { lease: victim.id });
    await waitFor(() => victim.lostAt !== undefined, DETECTION_BOUND_MS + 2_000, 5);
    const detection = victim.lostAt === undefined ? Number.NaN : victim.lostAt - revokedAt;
    // The others must keep being refreshed after the revoke: each is due within a period of it.
    await waitFor(() => probes.every((probe) => probe === victim || probe.acks.some((ack) => ack > revokedAt)), DETECTION_BOUND_MS + 1_000);
    const others = probes.filter((probe) => probe !== victim);
    const othersLost = others.filter((probe) => probe.lostAt !== undefined).length;
    const othersRefreshed = others.filter((probe) => probe.acks.some((ack) => ack > revokedAt)).length;

    record.figures['detectionMs'] = round(detection);
    record.figures['reason'] = victim.lostError?.reason ?? null;
    record.figures['othersLost'] = othersLost;
    record.figures['othersRefreshedAfterRevoke'] = othersRefreshed;
    record.check('lost with reason revoked', victim.lostError?.reason === 'revoked', victim.lostError?.reason);
    record.check(`detected within one refresh period (${round(DETECTION_BOUND_MS)} ms)`, detection <= DETECTION_BOUND_MS, round(detection));
    record.check('never reported alive after the loss', victim.neverAliveAgain(), victim.aliveAfterLost);
    record.check('no other lease lost', othersLost === 0, othersLost);
    record.check('every other lease refreshed after the revoke', othersRefreshed === others.length, othersRefreshed);
    await Promise.all(others.map((probe) => probe.close()));
    await Promise.all(others.map((probe) => probe.kept.revoke()));
    record.end('revoke');
    expect(record.failed()).toEqual([]);
  });
});
