/**
 * L7 (RELIABILITY 8.C, TestLeaseKeepAliveFullResponseQueue): 200 leases (TTL 2, the server's
 * minimum) kept alive by keep-alive iterables that are never read, for 3 TTLs. Refreshes must
 * continue regardless (every lease alive on the server, its deadline advancing) and memory stays
 * bounded: each iterable holds only the latest reply, so the heap does not grow with the number
 * of refreshes.
 */
import { describe, expect, it } from 'vitest';
import type { LeaseKeepAlive } from 'etcdkit';
import { useLeaseScenario } from './lease-probe.js';
import { collectGarbage, FaultRecord, round, sleep } from './support.js';

const TTL = 2;
const LEASES = 200;
const DURATION_MS = 3 * TTL * 1_000;
/** Heap growth tolerated over the run, after garbage collection. */
const HEAP_GROWTH_BOUND = 2 * 1024 * 1024;

const record = new FaultRecord('L7', 'keep-alive iterables never read: refreshes continue, memory bounded');

const scenario = useLeaseScenario(
  record,
  { ttl: TTL, leases: LEASES, durationMs: DURATION_MS, heapGrowthBoundBytes: HEAP_GROWTH_BOUND },
  () =>
    `all alive ${JSON.stringify(record.figures['aliveOnServer'])}/${LEASES}, ` +
    `refreshes per lease ≥ ${JSON.stringify(record.figures['minRefreshes'])}, heap growth ${JSON.stringify(record.figures['heapGrowthKiB'])} KiB`,
);

describe('L7: slow consumer', () => {
  it('unread keep-alives keep renewing with bounded memory', async () => {
    record.begin('unread');
    const c = scenario.client();
    const granted = await Promise.all(Array.from({ length: LEASES }, () => c.lease.grant(TTL)));
    const keepAlives: LeaseKeepAlive[] = granted.map(({ id }) => c.lease.keepAlive(id));
    const deadlineMoves = new Array<number>(LEASES).fill(0);
    const lastDeadline = keepAlives.map((keepAlive) => keepAlive.deadline);
    const sampler = setInterval(() => {
      keepAlives.forEach((keepAlive, i) => {
        if (keepAlive.deadline !== lastDeadline[i]) {
          deadlineMoves[i]!++;
          lastDeadline[i] = keepAlive.deadline;
        }
      });
    }, 50);
    await sleep(TTL * 1_000);
    const heapBefore = collectGarbage();
    await sleep(DURATION_MS - TTL * 1_000);
    const heapAfter = collectGarbage();
    clearInterval(sampler);

    const alive = (await Promise.all(granted.map(({ id }) => c.lease.timeToLive(id).then(() => true, () => false)))).filter(Boolean).length;
    const lost = keepAlives.filter((keepAlive) => keepAlive.isLost).length;
    // Only the latest reply is buffered: the first read returns at once, the next one waits for a new refresh.
    const sample = keepAlives[0]![Symbol.asyncIterator]();
    const first = await sample.next();
    const startedWaiting = performance.now();
    const second = await sample.next();
    const secondWaitMs = performance.now() - startedWaiting;
    await sample.return?.();

    const minRefreshes = Math.min(...deadlineMoves);
    const expectedRefreshes = Math.floor(DURATION_MS / ((TTL * 1_000) / 3)) - 2;
    record.figures['aliveOnServer'] = alive;
    record.figures['lost'] = lost;
    record.figures['minRefreshes'] = minRefreshes;
    record.figures['expectedRefreshesAtLeast'] = expectedRefreshes;
    record.figures['heapGrowthKiB'] = round((heapAfter - heapBefore) / 1024);
    record.figures['heapUsedMiB'] = round(heapAfter / 1024 / 1024);
    record.figures['secondReadWaitedMs'] = round(secondWaitMs);
    record.check('every lease alive on the server', alive === LEASES, alive);
    record.check('no lease reported lost', lost === 0, lost);
    record.check(`every lease refreshed at least ${expectedRefreshes} times without a reader`, minRefreshes >= expectedRefreshes, minRefreshes);
    record.check('heap growth bounded', heapAfter - heapBefore < HEAP_GROWTH_BOUND, heapAfter - heapBefore);
    record.check('one buffered reply, then a fresh one', first.done === false && second.done === false && secondWaitMs > 50, round(secondWaitMs));
    await Promise.all(keepAlives.map((keepAlive) => keepAlive.close()));
    await Promise.all(granted.map(({ id }) => c.lease.revoke(id)));
    record.end('unread');
    expect(record.failed()).toEqual([]);
  });
});
