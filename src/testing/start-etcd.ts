import { EtcdMember, type MemberSpec } from './etcd-member.js';
import { launch, type EtcdServerOptions } from './etcd-launcher.js';
import type { EtcdRun } from './etcd-run.js';

/**
 * A throwaway single-node etcd started by {@link startEtcd}: an {@link EtcdMember} that also
 * owns its temp dir.
 */
export class EtcdServer extends EtcdMember {
  readonly #run: EtcdRun;

  /** @internal */
  constructor(spec: MemberSpec, run: EtcdRun) {
    super(spec);
    this.#run = run;
  }

  /** `[endpoint]`, in the shape a client's endpoint list takes. */
  get endpoints(): string[] {
    return [this.endpoint];
  }

  /** The temp dir holding the data dir and the logs. */
  get dir(): string {
    return this.#run.dir;
  }

  /**
   * Marks the run as failed, so {@link EtcdServer.close} keeps the temp dir when the server was
   * started with `keepDataOnFailure`.
   */
  recordFailure(reason = 'failure recorded by the test'): void {
    this.#run.recordFailure(reason);
  }

  /**
   * Kills the process (SIGKILL: the data is discarded, so a graceful stop buys nothing) and
   * removes the temp dir, unless `keepDataOnFailure` was set and a failure recorded. Idempotent.
   */
  close(): Promise<void> {
    return this.#run.close();
  }

  /** Same as {@link EtcdServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts a single-node etcd on free loopback ports in a new temp dir (`etcdkit-*` under the
 * OS temp dir) and waits until `GET /health` reports healthy.
 *
 * @example
 * ```ts
 * await using etcd = await startEtcd();
 * const client = new Etcd({ endpoints: etcd.endpoints });
 * ```
 * @throws Error naming `ETCD_BIN` when there is no etcd binary, or with the tail of the member
 * log when it does not come up within `startTimeoutMs`.
 */
export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  const { members } = await launch(
    ['s1'],
    options,
    (spec, run) => new EtcdServer(spec, run),
    async () => undefined,
  );
  const [server] = members;
  if (server === undefined) throw new Error('launch returned no member');
  return server;
}
