/**
 * Shared pieces of the lease fault scenarios (RELIABILITY 8.C): the single-server scenario
 * fixture (server, clients, record), a probe that records every acknowledged keep-alive of a
 * lease as the SDK reports it, when and why it was lost, and any report of the lease being
 * alive after it was lost; the server's count of open keep-alive streams; a heap measure.
 */
import { afterAll, beforeAll } from 'vitest';
import { Etcd, type EtcdOptions, type KeptLease, LeaseExpiredError, type LeaseKeepAlive } from 'etcdkit';
import { type EtcdMember, type EtcdServer, startEtcd } from 'etcdkit/testing';
import { type FaultRecord, now } from './support.js';

/** What a single-server lease scenario gets from {@link useLeaseScenario}. */
export interface LeaseScenario {
  /** The server (valid inside tests). */
  readonly server: EtcdServer;
  /** A client of the server (or of `endpoints`), closed after the scenario. */
  client(options?: EtcdOptions): Etcd;
  /** Something else to close after the scenario (a fault proxy). */
  track(resource: { close(): Promise<void> }): void;
}

/**
 * Starts one etcd for a scenario file and records its version and `config`; afterwards closes
 * every client and tracked resource, writes the record with `summary()`, keeps the server's
 * data when the verdict is not `pass`, and stops the server.
 */
export function useLeaseScenario(record: FaultRecord, config: Record<string, unknown>, summary: () => string): LeaseScenario {
  let server: EtcdServer | undefined;
  const clients: Etcd[] = [];
  const resources: Array<{ close(): Promise<void> }> = [];
  beforeAll(async () => {
    server = await startEtcd({ keepDataOnFailure: true });
    record.etcdVersion = (await server.status()).version;
    record.config = config;
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(resources.map((resource) => resource.close()));
    await record.write(summary());
    if (record.verdict !== 'pass') server?.recordFailure(`${record.id} failed`);
    await server?.close();
  });
  return {
    get server(): EtcdServer {
      if (!server) throw new Error('the etcd server is not started yet');
      return server;
    },
    client(options?: EtcdOptions): Etcd {
      const client = new Etcd({ endpoints: this.server.endpoints, ...options });
      clients.push(client);
      return client;
    },
    track(resource: { close(): Promise<void> }): void {
      resources.push(resource);
    },
  };
}

/** LeaseKeepAlive streams open on a member (started minus handled, from its `/metrics`). */
export async function openKeepAliveStreams(member: EtcdMember): Promise<number> {
  let open = 0;
  for (const [key, value] of await member.metrics()) {
    if (!key.includes('grpc_method="LeaseKeepAlive"')) continue;
    if (key.startsWith('grpc_server_started_total{')) open += value;
    if (key.startsWith('grpc_server_handled_total{')) open -= value;
  }
  return open;
}

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

/** Waits until `condition` holds, polling every `stepMs`, for at most `timeoutMs`; returns whether it held. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
