import { Etcd3, type Lease, type Watcher } from 'etcd3';
import type { BenchClient, Stop } from './types.js';

/** The npm `etcd3` package with its defaults, using its cheapest call for each result. */
export function etcd3Client(endpoint: string): BenchClient {
  const client = new Etcd3({ hosts: `http://${endpoint}` });

  const stopWatchers = (watchers: Watcher[]): Stop => {
    return async () => {
      await Promise.all(watchers.map((watcher) => watcher.cancel()));
    };
  };

  return {
    name: 'etcd3',
    preparePut: (keys, value) => (i) => client.put(keys[i % keys.length]!).value(value).exec(),
    prepareGet: (keys) => (i) => client.get(keys[i % keys.length]!).exec(),
    prepareCas: (keys, values) => async (lane, from) => {
      const key = keys[lane]!;
      const result = await client
        .if(key, 'Value', '==', values[from])
        .then(client.put(key).value(values[1 - from]!))
        .else(client.get(key))
        .commit();
      return result.succeeded;
    },
    prepareRange: (prefix) => async () => (await client.getAll().prefix(prefix).exec()).kvs.length,
    watchPrefix: async (prefix, onEvent) => {
      const watcher = await client.watch().prefix(prefix).create();
      watcher.on('put', (kv) => onEvent(kv.value.readDoubleLE(0)));
      return stopWatchers([watcher]);
    },
    watchKeys: async (keys) => {
      const watchers = await Promise.all(keys.map((key) => client.watch().key(key).create()));
      return {
        consume: (onEvent) => {
          watchers.forEach((watcher, index) => watcher.on('put', (kv) => onEvent(index, kv.value.readDoubleLE(0))));
        },
        stop: stopWatchers(watchers),
      };
    },
    keepLeases: async (count, ttl) => {
      let lost = 0;
      const leases: Lease[] = Array.from({ length: count }, () => client.lease(ttl).on('lost', () => lost++));
      await Promise.all(leases.map((lease) => lease.grant()));
      return {
        lost: () => lost,
        stop: async () => {
          await Promise.all(leases.map((lease) => lease.revoke()));
        },
      };
    },
    close: () => {
      client.close();
      return Promise.resolve();
    },
  };
}
