import { EtcdMember } from './etcd-member.js';
import { allocateMemberPorts, launch, memberSpec, type EtcdClusterOptions } from './etcd-launcher.js';
import type { EtcdRun } from './etcd-run.js';
import type { FaultProxy } from './fault-proxy.js';
import { findLeader } from './find-leader.js';

const LEADER_TIMEOUT_MS = 10_000;

/** Options of {@link EtcdCluster.newMember}. */
export interface NewMemberOptions {
  /** The member's name. @defaultValue `m<N+1>` for the N members the cluster has started */
  name?: string;
  /**
   * The members the joining one must list in its `--initial-cluster`: every current member of
   * the cluster. @defaultValue every member the harness started (set it after removing one)
   */
  peers?: readonly EtcdMember[];
}

/** A throwaway static etcd cluster started by {@link startEtcdCluster}. */
export class EtcdCluster {
  readonly #members: EtcdMember[];
  readonly #run: EtcdRun;

  /** @internal */
  constructor(run: EtcdRun, members: readonly EtcdMember[]) {
    this.#run = run;
    this.#members = [...members];
  }

  /** The members, `m1`…`mN` in order, then those added with {@link EtcdCluster.newMember}. */
  get members(): readonly EtcdMember[] {
    return this.#members;
  }

  /**
   * Prepares a member that will join this running cluster: ports, data dir and a command line
   * with `--initial-cluster-state existing`. It is not started: add it to the cluster first
   * (`etcd.cluster.addMember([member.peerUrl], { learner })`), then `member.start()`. It is
   * part of {@link EtcdCluster.members} from now on, and stopped with the cluster.
   */
  async newMember(options: NewMemberOptions = {}): Promise<EtcdMember> {
    const name = options.name ?? `m${this.#members.length + 1}`;
    if (this.#members.some((member) => member.name === name)) throw new Error(`a member named ${name} exists already`);
    const [ports] = await allocateMemberPorts(this.#run, [name]);
    if (ports === undefined) throw new Error('no ports allocated');
    const peers = options.peers ?? this.#members;
    const initialCluster = [...peers.map((peer) => `${peer.name}=${peer.peerUrl}`), `${name}=${ports.advertisedPeerUrl}`].join(',');
    const member = new EtcdMember(memberSpec(this.#run, name, ports, initialCluster, 'existing'));
    this.#run.add(member);
    this.#members.push(member);
    return member;
  }

  /**
   * Cuts `member` off from every peer, both ways, while clients still reach it (needs
   * `peerProxies: true`): its own peer proxy refuses everything, and the others drop what it
   * sends them. An isolated follower loses its leader after an election timeout or so; an
   * isolated leader steps down. {@link EtcdCluster.heal} undoes it.
   *
   * @throws Error when the cluster has no peer proxies, or the member does not answer its status.
   */
  async isolate(member: EtcdMember): Promise<void> {
    const own = this.#peerProxy(member);
    const id = BigInt((await member.status()).memberId).toString(16);
    await own.refuse();
    await Promise.all(this.#members.filter((other) => other !== member).map((other) => this.#peerProxy(other).blockSenders([id])));
  }

  /** Restores every peer link cut by {@link EtcdCluster.isolate}. */
  async heal(): Promise<void> {
    await Promise.all(
      this.#members.map(async (member) => {
        const proxy = this.#peerProxy(member);
        await proxy.heal();
        await proxy.blockSenders([]);
      }),
    );
  }

  #peerProxy(member: EtcdMember): FaultProxy {
    const proxy = this.#run.peerProxy(member.name);
    if (proxy === undefined) throw new Error('member isolation needs a cluster started with peerProxies: true');
    return proxy;
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
