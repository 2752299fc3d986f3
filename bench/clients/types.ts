/** The three clients every workload runs on. */
export const CLIENT_NAMES = ['etcdkit', 'etcd3', 'floor'] as const;
/**
 * Clients run only when named with `--clients`: `floor-deadline` is the floor with etcdkit's
 * per-call deadline and require-leader metadata, to measure what those cost on their own.
 */
export const EXTRA_CLIENT_NAMES = ['floor-deadline'] as const;
export type ClientName = (typeof CLIENT_NAMES)[number] | (typeof EXTRA_CLIENT_NAMES)[number];

/** Ends what a watch or keep-alive set-up started. */
export type Stop = () => Promise<void>;

/**
 * What a workload needs from a client. Each `prepare…` call does the per-workload set-up
 * (building or pre-encoding requests) outside any measurement and returns the operation to
 * time, so that only the per-call work of the client is measured.
 */
export interface BenchClient {
  readonly name: ClientName;
  /** Put `value` to `keys[i % keys.length]`. */
  preparePut(keys: readonly string[], value: string): (i: number) => Promise<unknown>;
  /** Get `keys[i % keys.length]` (every key exists). */
  prepareGet(keys: readonly string[]): (i: number) => Promise<unknown>;
  /**
   * Compare-and-swap on `keys[lane]`: if its value is `values[from]`, put `values[1 - from]`,
   * else get the key. Resolves to whether the swap happened.
   */
  prepareCas(keys: readonly string[], values: readonly [string, string]): (lane: number, from: 0 | 1) => Promise<boolean>;
  /** Read every key under `prefix`; resolves to the number of keys read. */
  prepareRange(prefix: string): () => Promise<number>;
  /**
   * One watcher on every key under `prefix`, from now; resolves once the server acknowledged
   * it. `onEvent` gets the stamp at the start of each event's value.
   */
  watchPrefix(prefix: string, onEvent: (stamp: number) => void): Promise<Stop>;
  /**
   * One watcher per key, all on one stream; resolves once all are acknowledged, with
   * `consume`, which attaches a consumer to every watcher (`onEvent` gets the watcher's index
   * and the event's stamp), and `stop`.
   */
  watchKeys(keys: readonly string[]): Promise<KeyWatchers>;
  /** Grants `count` leases of `ttl` seconds and keeps them alive; resolves once all are granted. */
  keepLeases(count: number, ttl: number): Promise<KeptLeases>;
  /** Closes the client. */
  close(): Promise<void>;
}

/** Leases kept alive by {@link BenchClient.keepLeases}. */
export interface KeptLeases {
  /** How many of them the client has reported lost (expired, revoked) so far. */
  lost(): number;
  stop: Stop;
}

/** Watchers created by {@link BenchClient.watchKeys}. */
export interface KeyWatchers {
  consume(onEvent: (index: number, stamp: number) => void): void;
  stop: Stop;
}
