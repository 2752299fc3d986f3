import { Compare, Etcd, type KeptLease, Op, Range, Watch, type Watcher } from '../../src/index.js';
import type { BenchClient, Stop } from './types.js';

/** etcdkit, used the way its README shows. */
export function etcdkitClient(endpoint: string): BenchClient {
  const etcd = new Etcd({ endpoints: [endpoint] });

  /** Iterates a watcher's events until it ends. */
  const consume = async (watcher: Watcher, onEvent: (stamp: number) => void): Promise<void> => {
    for await (const batch of watcher) for (const event of batch.events) onEvent(event.kv.value.readDoubleLE(0));
  };

  const stopWatchers = (watchers: Watcher[], loops: Array<Promise<void>>): Stop => {
    return async () => {
      await Promise.all(watchers.map((watcher) => watcher.cancel()));
      await Promise.all(loops);
    };
  };

  return {
    name: 'etcdkit',
    preparePut: (keys, value) => (i) => etcd.put(keys[i % keys.length]!, value),
    prepareGet: (keys) => (i) => etcd.get(keys[i % keys.length]!),
    prepareCas: (keys, values) => async (lane, from) => {
      const key = keys[lane]!;
      const result = await etcd
        .txn()
        .if(Compare.value(key).equals(values[from]))
        .then(Op.put(key, values[1 - from]))
        .else(Op.get(key))
        .commit();
      return result.succeeded;
    },
    prepareRange: (prefix) => {
      const range = Range.key(prefix).withPrefix();
      return async () => (await etcd.range(range)).kvs.length;
    },
    watchPrefix: async (prefix, onEvent) => {
      const watcher = etcd.watch(Watch.key(prefix).withPrefix());
      await watcher.created;
      const loop = consume(watcher, onEvent);
      return stopWatchers([watcher], [loop]);
    },
    watchKeys: async (keys) => {
      const watchers = keys.map((key) => etcd.watch(key));
      await Promise.all(watchers.map((watcher) => watcher.created));
      const loops: Array<Promise<void>> = [];
      return {
        consume: (onEvent) => {
          watchers.forEach((watcher, index) => loops.push(consume(watcher, (stamp) => onEvent(index, stamp))));
        },
        stop: stopWatchers(watchers, loops),
      };
    },
    keepLeases: async (count, ttl) => {
      const leases: KeptLease[] = await Promise.all(Array.from({ length: count }, () => etcd.lease.grantKeptAlive(ttl)));
      return {
        lost: () => leases.filter((lease) => lease.isLost).length,
        stop: async () => {
          await Promise.all(leases.map((lease) => lease.revoke()));
        },
      };
    },
    close: () => etcd.close(),
  };
}
