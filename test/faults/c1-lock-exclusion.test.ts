/**
 * C1 (RELIABILITY 8.D): mutual exclusion without faults. 4 processes × 200 cycles of lock →
 * read counter → write counter + 1 → unlock, on one lock name; two processes use the lock
 * service (`etcd.lock.acquire`), two the Mutex recipe, each on one session. The final counter
 * must be 800, and the hold intervals, ordered by fencing token (the lock key's create
 * revision), must never overlap (Jepsen's lock model): each hold ends (its release is sent)
 * before the next one starts (its acquire resolves). All processes share the machine's clock.
 * Figures: runtime, lock handoff latency between processes, hold time.
 */
import { describe, expect, it } from 'vitest';
import { useLeaseScenario } from './lease-probe.js';
import { Worker } from './coordination-support.js';
import { FaultRecord, percentile, round } from './support.js';

const WORKERS = 4;
const CYCLES = Number(process.env['C1_CYCLES'] ?? 200);
const BOUND_MS = 90_000;

interface Hold {
  worker: number;
  token: bigint;
  acquiredAt: number;
  releasingAt: number;
  read: number;
}

const record = new FaultRecord('C1', `mutual exclusion: ${WORKERS} processes × ${CYCLES} lock cycles on one counter`);
const scenario = useLeaseScenario(record, { workers: WORKERS, cycles: CYCLES, locks: 'service ×2, Mutex recipe ×2' }, () => {
  const f = record.figures;
  return `counter ${JSON.stringify(f['counter'])}/${WORKERS * CYCLES}, overlaps ${JSON.stringify(f['overlaps'])}, handoff p50 ${JSON.stringify(f['handoffP50Ms'])} ms p99 ${JSON.stringify(f['handoffP99Ms'])} ms, ${JSON.stringify(f['runtimeMs'])} ms`;
});

describe('C1: mutual exclusion without faults', () => {
  it('final counter = 800 and hold intervals ordered by fencing token never overlap', async () => {
    record.begin('cycles');
    const client = scenario.client();
    const workers = Array.from(
      { length: WORKERS },
      (_, i) => new Worker({ mode: 'cycles', endpoints: scenario.server.endpoints, name: 'c1/lock', counter: 'c1/counter', cycles: CYCLES, recipe: i % 2 === 1 }),
    );
    const started = performance.now();
    record.mark('workers started', { pids: workers.map((w) => w.pid) });
    try {
      await Promise.all(workers.map((worker) => worker.next('done', BOUND_MS)));
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
    const runtimeMs = round(performance.now() - started);
    record.mark('workers done');

    const holds: Hold[] = workers.flatMap((worker, index) =>
      (worker.events.find((e) => e.event === 'done')!['intervals'] as Array<[string, number, number, number]>).map(
        ([token, acquiredAt, releasingAt, read]) => ({ worker: index, token: BigInt(token), acquiredAt, releasingAt, read }),
      ),
    );
    holds.sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
    let overlaps = 0;
    const handoffs: number[] = [];
    const byKind: Record<'service' | 'recipe', number[]> = { service: [], recipe: [] };
    for (let i = 1; i < holds.length; i++) {
      const previous = holds[i - 1]!;
      const next = holds[i]!;
      if (next.acquiredAt < previous.releasingAt) overlaps++;
      if (next.worker === previous.worker) continue;
      handoffs.push(next.acquiredAt - previous.releasingAt);
      byKind[next.worker % 2 === 1 ? 'recipe' : 'service'].push(next.acquiredAt - previous.releasingAt);
    }
    const counter = Number((await client.get('c1/counter'))?.text());
    const readsInOrder = holds.every((hold, index) => hold.read === index);
    const tokensUnique = new Set(holds.map((hold) => hold.token)).size === holds.length;
    Object.assign(record.figures, {
      counter,
      holds: holds.length,
      overlaps,
      runtimeMs,
      cyclesPerSecond: round((holds.length / runtimeMs) * 1000),
      handoffP50Ms: round(percentile(handoffs, 50), 2),
      handoffP99Ms: round(percentile(handoffs, 99), 2),
      handoffMaxMs: round(Math.max(...handoffs), 2),
      handoffsBetweenProcesses: handoffs.length,
      handoffP50ToServiceMs: round(percentile(byKind.service, 50), 2),
      handoffP50ToRecipeMs: round(percentile(byKind.recipe, 50), 2),
      holdP50Ms: round(percentile(holds.map((h) => h.releasingAt - h.acquiredAt), 50), 2),
    });
    record.check('every process finished its cycles', holds.length === WORKERS * CYCLES, holds.length);
    record.check('final counter = processes × cycles', counter === WORKERS * CYCLES, counter);
    record.check('no two hold intervals overlap (ordered by fencing token)', overlaps === 0, overlaps);
    record.check('the n-th hold by fencing token read counter n', readsInOrder);
    record.check('fencing tokens are unique', tokensUnique);
    record.check(`within ${BOUND_MS / 1000} s`, runtimeMs < BOUND_MS, runtimeMs);
    record.end('cycles');
    expect(record.failed()).toEqual([]);
  }, BOUND_MS + 30_000);
});
