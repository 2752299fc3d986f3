/**
 * What the multi-endpoint failover scenarios (F2, F3, F6) start: a cluster, fault proxies and
 * clients, closed together in `afterAll` (clients first, then proxies, then the cluster).
 */
import { Etcd, type EtcdOptions } from 'etcdkit';
import { startEtcdCluster, startFaultProxy, type EtcdCluster, type FaultProxy, type FaultProxyOptions } from 'etcdkit/testing';

export class FailoverRig {
  #cluster: EtcdCluster | undefined;
  readonly proxies: FaultProxy[] = [];
  readonly clients: Etcd[] = [];

  get cluster(): EtcdCluster {
    if (this.#cluster === undefined) throw new Error('the cluster is not started yet');
    return this.#cluster;
  }

  /** Starts a 3-node cluster; with `behindProxies`, also one fault proxy per member (in member order). */
  async start(behindProxies: boolean): Promise<EtcdCluster> {
    this.#cluster = await startEtcdCluster({ size: 3 });
    if (behindProxies) for (const member of this.#cluster.members) await this.proxy({ target: member.endpoint });
    return this.#cluster;
  }

  async proxy(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = await startFaultProxy(options);
    this.proxies.push(proxy);
    return proxy;
  }

  /** A client, closed by {@link FailoverRig.close}. */
  client(options: EtcdOptions): Etcd {
    const client = new Etcd(options);
    this.clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
    await Promise.all(this.proxies.map((proxy) => proxy.close()));
    await this.#cluster?.close();
  }
}
