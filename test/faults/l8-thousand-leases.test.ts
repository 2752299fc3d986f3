/**
 * L8 (RELIABILITY 8.C): 1,000 leases (TTL 5) kept alive by one client. They share one
 * keep-alive stream (the server counts one open LeaseKeepAlive stream), every lease is refreshed
 * throughout, and the client's CPU over 10 s of steady keep-alive stays below 10% of one core
 * (measured by {@link CpuMeter}: raw, and corrected for a slower machine). The heap cost per kept lease is reported.
 */
import { describe, expect, it } from 'vitest';
import type { KeptLease } from 'etcdkit';
import { CpuMeter } from './cpu-meter.js';
import { openKeepAliveStreams, useLeaseScenario } from './lease-probe.js';
import { collectGarbage, FaultRecord, now, round, sleep } from './support.js';

const TTL = 5;
const LEASES = 1_000;
const MEASURE_MS = 10_000;
const CPU_BOUND_PERCENT = 10;
/** A lease refreshed within its last refresh period has at least this much of its TTL left. */
const FRESH_MARGIN_MS = TTL * 1_000 - ((TTL * 1_000) / 3 + 250 + 300);

const record = new FaultRecord('L8', '1,000 kept leases on one keep-alive stream');

const scenario = useLeaseScenario(record, { ttl: TTL, leases: LEASES, measureMs: MEASURE_MS, cpuBoundPercent: CPU_BOUND_PERCENT }, () => {
  const f = record.figures;
  return (
    `${JSON.stringify(f['streams'])} stream(s), CPU ${JSON.stringify(f['cpuPercentOfOneCore'])}% of one core, ` +
    `heap ${JSON.stringify(f['heapPerLeaseBytes'])} B per lease (${JSON.stringify(f['heapForLeasesKiB'])} KiB), refreshed ${JSON.stringify(f['refreshedAtEnd'])}/${LEASES}`
  );
});

describe('L8: 1,000 leases on one stream', () => {
  it('keeps 1,000 leases alive on one stream with little CPU', async () => {
    record.begin('steady');
    const s = scenario.server;
    const c = scenario.client();
    await c.get('warm-up');
    const heapBefore = collectGarbage();
    const grantStart = now();
    const kept: KeptLease[] = await Promise.all(Array.from({ length: LEASES }, () => c.lease.grantKeptAlive(TTL)));
    record.figures['grantAllMs'] = round(now() - grantStart);
    // One full refresh cycle before measuring, so every lease is in its steady rhythm.
    await sleep((TTL * 1_000) / 3 + 500);
    const heapKept = collectGarbage();
    const deadlinesBefore = kept.map((lease) => lease.deadline);

    const meter = await CpuMeter.start();
    await sleep(MEASURE_MS);
    const cpu = await meter.stop();

    const endEpoch = Date.now();
    const refreshed = kept.filter((lease, i) => lease.deadline > deadlinesBefore[i]! && lease.deadline - endEpoch >= FRESH_MARGIN_MS).length;
    const lost = kept.filter((lease) => lease.isLost).length;
    const streams = await openKeepAliveStreams(s);
    const cpuPercent = cpu.percent;
    record.figures['streams'] = streams;
    record.figures['cpuPercentOfOneCore'] = cpuPercent;
    record.figures['cpu'] = cpu;
    record.figures['expectedRefreshesPerSecond'] = round(LEASES / (TTL / 3));
    record.figures['heapForLeasesKiB'] = round((heapKept - heapBefore) / 1024);
    record.figures['heapPerLeaseBytes'] = Math.round((heapKept - heapBefore) / LEASES);
    record.figures['refreshedAtEnd'] = refreshed;
    record.figures['lost'] = lost;
    record.check('one keep-alive stream on the server', streams === 1, streams);
    record.check('every lease refreshed during the window and fresh at its end', refreshed === LEASES, refreshed);
    record.check('no lease lost', lost === 0, lost);
    record.check(`client CPU below ${CPU_BOUND_PERCENT}% of one core`, cpuPercent < CPU_BOUND_PERCENT, round(cpuPercent, 2));
    await Promise.all(kept.map((lease) => lease.revoke()));
    record.end('steady');
    expect(record.failed()).toEqual([]);
  });
});
