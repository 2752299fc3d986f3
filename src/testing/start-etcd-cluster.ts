import { EtcdMember } from './etcd-member.js';
import { launch, type EtcdClusterOptions } from './etcd-launcher.js';
import type { EtcdRun } from './etcd-run.js';
import { findLeader } from './find-leader.js';

const LEADER_TIMEOUT_MS = 10_000;

/** A throwaway static etcd cluster started by {@link startEtcdCluster}. */
export class EtcdCluster {
  /** The members, `m1`…`mN`, in order. */
  readonly members: readonly EtcdMember[];
  readonly #run: EtcdRun;

  /** @internal */
  constructor(run: EtcdRun, members: readonly EtcdMember[]) {
    this.#run = run;
    this.members = members;
  }

  /** Every member's client address (`127.0.0.1:port`), down members included. */
  get endpoints(): string[] {
    return this.members.map((member) => member.endpoint);
  }

  /** The temp dir holding the data dirs and the logs. */
  get dir(): string {
    return this.#run.dir;
  }

  /**
   * The member with this name.
   *
   * @throws Error when there is none.
   */
  member(name: string): EtcdMember {
    const member = this.members.find((candidate) => candidate.name === name);
    if (member === undefined) {
      throw new Error(`no member named ${name} (members: ${this.members.map((m) => m.name).join(', ')})`);
    }
    return member;
  }

  /**
   * The member that reports itself as the leader, polling the running, unpaused members until
   * one does.
   *
   * @throws Error when no leader appears within `timeoutMs`.
   */
  leader(timeoutMs = LEADER_TIMEOUT_MS): Promise<EtcdMember> {
    return findLeader(this.members, timeoutMs);
  }

  /** The running members other than the current {@link EtcdCluster.leader}. */
  async followers(timeoutMs = LEADER_TIMEOUT_MS): Promise<EtcdMember[]> {
    const leader = await this.leader(timeoutMs);
    return this.members.filter((member) => member !== leader && member.running);
  }

  /**
   * Stops every member gracefully (SIGTERM, SIGKILL after 5 s): followers in parallel, then the
   * leader, since a stopping leader hands leadership to a peer and would wait for one that is
   * stopping too. Members can be restarted afterwards; the temp dir stays.
   */
  stop(): Promise<void> {
    return this.#run.stop();
  }

  /**
   * Marks the run as failed, so {@link EtcdCluster.close} keeps the temp dir when the cluster
   * was started with `keepDataOnFailure`.
   */
  recordFailure(reason = 'failure recorded by the test'): void {
    this.#run.recordFailure(reason);
  }

  /**
   * Kills every member (SIGKILL: the data is discarded, so a graceful stop buys nothing) and
   * removes the temp dir, unless `keepDataOnFailure` was set and a failure recorded. Idempotent.
   */
  close(): Promise<void> {
    return this.#run.close();
  }

  /** Same as {@link EtcdCluster.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts a static etcd cluster of `size` members on free loopback ports in a new temp dir, and
 * waits until every member is healthy and a leader is known.
 *
 * @remarks Members keep etcd's defaults (heartbeat 100 ms, election timeout 1000 ms, no
 * pre-vote), as in production 3.4.
 * @throws Error when `size` is not a positive integer, naming `ETCD_BIN` when there is no etcd
 * binary, or with the tail of a member log when the cluster does not come up within
 * `startTimeoutMs`.
 */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const { size = 3, ...rest } = options;
  if (!Number.isInteger(size) || size < 1) throw new Error(`size must be a positive integer, got ${size}`);
  const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const { run, members } = await launch(
    names,
    rest,
    (spec) => new EtcdMember(spec),
    (started, timeoutMs) => findLeader(started, timeoutMs),
  );
  return new EtcdCluster(run, members);
}
