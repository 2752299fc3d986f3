import { afterAll, afterEach, beforeAll } from 'vitest';
import { Etcd, type EtcdOptions } from 'etcdkit';
import { type EtcdServer, type EtcdServerOptions, startEtcd } from 'etcdkit/testing';

/** A single etcd for the whole test file, with per-test clients that are closed after each test. */
export interface SharedEtcd {
  /** The server (valid inside tests and hooks). */
  readonly server: EtcdServer;
  /** A client of the server, closed automatically after the test. */
  client(options?: EtcdOptions): Etcd;
  /** A key prefix no other test uses. */
  prefix(): string;
}

let sequence = 0;

/** Starts one etcd for the test file (in `beforeAll`) and stops it in `afterAll`. */
export function useEtcd(options?: EtcdServerOptions): SharedEtcd {
  let server: EtcdServer | undefined;
  const clients: Etcd[] = [];
  beforeAll(async () => {
    server = await startEtcd(options);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await server?.close();
  });
  return {
    get server(): EtcdServer {
      if (!server) throw new Error('the etcd server is not started yet');
      return server;
    },
    client(clientOptions?: EtcdOptions): Etcd {
      const client = new Etcd({ endpoints: this.server.endpoints, ...clientOptions });
      clients.push(client);
      return client;
    },
    prefix(): string {
      sequence += 1;
      return `test-${process.pid}-${sequence}/`;
    },
  };
}

/** Counts of active libuv resources by type (sockets, timers, ...), for leak checks. */
export function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/**
 * Waits (bounded) until no resource type has more active instances than in `baseline`, and
 * returns the excess that remained (empty when back to the baseline).
 */
export async function waitForResourcesAtMost(baseline: Map<string, number>, timeoutMs = 3_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const excess: Record<string, number> = {};
    for (const [type, count] of activeResources()) {
      const extra = count - (baseline.get(type) ?? 0);
      if (extra > 0) excess[type] = extra;
    }
    if (Object.keys(excess).length === 0 || Date.now() > deadline) return excess;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs `fn` and returns its rejection reason; fails if it resolves. */
export async function rejectionOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, but it resolved');
}
