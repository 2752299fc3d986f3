/**
 * Observation helpers of the lease fault scenarios (RELIABILITY 8.C): a probe that records every
 * acknowledged keep-alive of a lease as the SDK reports it, when and why it was lost, and any
 * report of the lease being alive after it was lost; and a seeded random generator.
 */
import { type Etcd, type KeptLease, LeaseExpiredError, type LeaseKeepAlive } from 'etcdkit';
import { now } from './support.js';

/**
 * Watches one lease through the SDK: a keep-alive iterator of the lease (it shares the lease's
 * refreshes with the `KeptLease`, adding none) records every acknowledgement, and `kept.lost`
 * records the loss.
 */
export class LeaseProbe {
  /** When each acknowledgement reached the reader (`now()` milliseconds). */
  readonly acks: number[] = [];
  /** When `lost` resolved. */
  lostAt: number | undefined;
  lostError: LeaseExpiredError | undefined;
  /** Acknowledgements reported after the loss, and deadline moves after it: must stay 0. */
  aliveAfterLost = 0;
  /** How the iterator ended. */
  iteratorEnd: unknown;
  readonly done: Promise<void>;
  private deadlineAtLoss = Number.NaN;
  private readonly keepAlive: LeaseKeepAlive;

  constructor(
    client: Etcd,
    readonly kept: KeptLease,
  ) {
    const keepAlive = client.lease.keepAlive(kept.id);
    this.keepAlive = keepAlive;
    void kept.lost.then((error) => {
      this.lostAt = now();
      this.lostError = error;
      this.deadlineAtLoss = kept.deadline;
    });
    this.done = (async () => {
      try {
        for await (const _ of keepAlive) {
          if (this.lostAt !== undefined) this.aliveAfterLost++;
          this.acks.push(now());
        }
      } catch (error) {
        this.iteratorEnd = error;
      }
    })();
  }

  get id(): bigint {
    return this.kept.id;
  }

  /** The last acknowledgement at or before `at` (default: the loss). */
  lastAckBefore(at = this.lostAt ?? Infinity): number | undefined {
    let last: number | undefined;
    for (const ack of this.acks) if (ack <= at) last = ack;
    return last;
  }

  /** The largest interval between consecutive acknowledgements within [from, to]. */
  maxGap(from = -Infinity, to = Infinity): number {
    let max = 0;
    let previous: number | undefined;
    for (const ack of this.acks) {
      if (ack < from || ack > to) continue;
      if (previous !== undefined) max = Math.max(max, ack - previous);
      previous = ack;
    }
    return max;
  }

  /** Stops the probe's own keep-alive of the lease (the lease is kept alive while the probe runs). */
  async close(): Promise<void> {
    await this.keepAlive.close();
    await this.done;
  }

  /** Re-checks after the fact that nothing reported the lease alive after it was lost. */
  neverAliveAgain(): boolean {
    if (this.lostAt === undefined) return true;
    const deadlineMoved = this.kept.deadline !== this.deadlineAtLoss;
    return this.aliveAfterLost === 0 && !deadlineMoved && this.kept.isLost && this.iteratorEnd instanceof LeaseExpiredError;
  }
}

/** A small seeded generator (mulberry32), so a run's fault times can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Waits until `condition` holds, polling every `stepMs`, for at most `timeoutMs`; returns whether it held. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
