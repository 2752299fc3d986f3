import type { ClientName } from './clients/types.js';

/** The closed-loop workloads: a fixed number of operations in flight, for a fixed time. */
export type LoopKind = 'put' | 'get' | 'cas' | 'range';

/** Keys and values every client of a run uses, so that all send the same requests. */
export interface Dataset {
  putKeys: string[];
  getKeys: string[];
  casKeys: string[];
  casValues: [string, string];
  rangePrefix: string;
  value: string;
}

/** A request from the orchestrator to a worker. */
export type Step =
  | { step: 'loop'; kind: LoopKind; concurrency: number; warmupMs: number; measureMs: number }
  | { step: 'watchPrefix'; prefix: string }
  | { step: 'watchKeys'; keys: string[] }
  | { step: 'keepLeases'; count: number; ttl: number }
  | { step: 'arm'; expected: number }
  | { step: 'collect'; timeoutMs: number }
  | { step: 'stop' }
  | { step: 'exit' };

/** What one measured round of one client reports. */
export interface RoundResult {
  /** Operations (or events, or keep-alives) completed. */
  ops: number;
  /** Wall time of the measurement, ms. */
  elapsedMs: number;
  /** Client CPU (user + system) of the measurement, µs. */
  cpuUs: number;
  /** Per-operation latency samples, ms (latency, or end-to-end lag for watches). */
  latencies: Float64Array;
  /** The worker process's peak RSS up to the end of this round (getrusage maxrss), bytes. */
  peakRssBytes: number;
  /** Workload-specific figures (creation time, heap per watcher, ...). */
  extra: Record<string, number>;
}

export interface WorkerRequest {
  id: number;
  request: Step;
}

export interface WorkerReply {
  id: number;
  result?: unknown;
  error?: string;
}

export interface WorkerInit {
  client: ClientName;
  endpoint: string;
  dataset: Dataset;
}
