import { afterAll, afterEach, beforeAll } from 'vitest';
import { Etcd, type EtcdOptions } from 'etcdkit';
import { startEtcdCluster, type EtcdCluster, type EtcdClusterOptions } from 'etcdkit/testing';

/** A cluster for the whole test file, with per-test clients closed after each test. */
export interface SharedCluster {
  /** The cluster (valid inside tests and hooks). */
  readonly cluster: EtcdCluster;
  /** A client of the cluster (every member unless `options.endpoints`), closed after the test. */
  client(options?: EtcdOptions): Etcd;
}

/** Starts a cluster for the test file (in `beforeAll`) and closes it in `afterAll`. */
export function useCluster(options: EtcdClusterOptions = { size: 3 }): SharedCluster {
  let cluster: EtcdCluster | undefined;
  const clients: Etcd[] = [];
  beforeAll(async () => {
    cluster = await startEtcdCluster(options);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await cluster?.close();
  });
  return {
    get cluster(): EtcdCluster {
      if (!cluster) throw new Error('the cluster is not started yet');
      return cluster;
    },
    client(clientOptions: EtcdOptions = {}): Etcd {
      const client = new Etcd({ endpoints: this.cluster.endpoints, ...clientOptions });
      clients.push(client);
      return client;
    },
  };
}

/** Polls `probe` until `check` accepts its value or `timeoutMs` passes; returns the last value. */
export async function until<T>(probe: () => T | Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
