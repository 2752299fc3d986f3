import type { ClientName } from './clients/types.js';
import type { RoundResult } from './protocol.js';

/** The `p`th percentile (0–100) of `values`, nearest rank; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** The median of plain numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One client's figures for one workload, over all its rounds. */
export interface Summary {
  client: ClientName;
  /** Operations per second (events/s, watchers created/s, keep-alives/s: see the workload). */
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Client CPU per operation, µs: total CPU over total operations. */
  cpuPerOpUs: number;
  /** CPU per operation of each round, µs, to show the spread and to pair rounds. */
  cpuPerOpRoundsUs: number[];
  /** Operations per second of each round. */
  opsPerSecRounds: number[];
  peakRssMb: number;
  /** Workload-specific figures, averaged over rounds. */
  extra: Record<string, number>;
  rounds: number;
}

/**
 * Sums the rounds of one client: CPU per op is total CPU over total ops (steadier than a mean
 * of ratios), latency percentiles come from every sample of every round, RSS is the highest.
 */
export function summarize(
  client: ClientName,
  rounds: readonly RoundResult[],
  rate: (round: RoundResult) => { ops: number; seconds: number },
  cpuOps: (round: RoundResult) => { ops: number; cpuUs: number } = (round) => ({ ops: round.ops, cpuUs: round.cpuUs }),
): Summary {
  let ops = 0;
  let seconds = 0;
  let cpuUs = 0;
  let cpuOpsTotal = 0;
  let samples = 0;
  for (const round of rounds) {
    const r = rate(round);
    ops += r.ops;
    seconds += r.seconds;
    const c = cpuOps(round);
    cpuUs += c.cpuUs;
    cpuOpsTotal += c.ops;
    samples += round.latencies.length;
  }
  const merged = new Float64Array(samples);
  let offset = 0;
  for (const round of rounds) {
    merged.set(round.latencies, offset);
    offset += round.latencies.length;
  }
  merged.sort();
  const extra: Record<string, number> = {};
  const keys = new Set(rounds.flatMap((round) => Object.keys(round.extra)));
  for (const key of keys) {
    const values = rounds.map((round) => round.extra[key]).filter((value): value is number => value !== undefined);
    extra[key] = values.reduce((sum, value) => sum + value, 0) / values.length;
  }
  return {
    client,
    opsPerSec: ops / seconds,
    p50Ms: percentile(merged, 50),
    p99Ms: percentile(merged, 99),
    cpuPerOpUs: cpuUs / cpuOpsTotal,
    cpuPerOpRoundsUs: rounds.map((round) => {
      const c = cpuOps(round);
      return c.cpuUs / c.ops;
    }),
    opsPerSecRounds: rounds.map((round) => {
      const r = rate(round);
      return r.ops / r.seconds;
    }),
    peakRssMb: Math.max(...rounds.map((round) => round.peakRssBytes)) / 2 ** 20,
    extra,
    rounds: rounds.length,
  };
}
