import { rm } from 'node:fs/promises';
import { pollUntil } from './deadline.js';
import type { RunTemplate } from './etcd-launcher.js';
import type { EtcdMember } from './etcd-member.js';
import type { FaultProxy } from './fault-proxy.js';

const PEERS_GONE_TIMEOUT_MS = 3_000;

/**
 * One launch: the temp dir and the members started in it, torn down together.
 *
 * @internal
 */
export class EtcdRun {
  #failure: string | undefined;
  #closing: Promise<void> | undefined;

  readonly #members: EtcdMember[] = [];
  readonly #peerProxies = new Map<string, FaultProxy>();

  constructor(
    readonly dir: string,
    private readonly keepDataOnFailure: boolean,
    /** How members are started, for members added later. */
    readonly template: RunTemplate,
  ) {}

  get members(): readonly EtcdMember[] {
    return this.#members;
  }

  /** Registers the proxy in front of a member's peer port; closed with the run. */
  addPeerProxy(name: string, proxy: FaultProxy): void {
    this.#peerProxies.set(name, proxy);
  }

  /** The proxy in front of the named member's peer port, if the run has peer proxies. */
  peerProxy(name: string): FaultProxy | undefined {
    return this.#peerProxies.get(name);
  }

  /** Whether {@link EtcdRun.close} will leave the dir in place. */
  get keepsData(): boolean {
    return this.failed && this.keepDataOnFailure;
  }

  add(member: EtcdMember): void {
    this.#members.push(member);
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  recordFailure(reason: string): void {
    this.#failure ??= reason;
  }

  /**
   * Stops every member gracefully: the followers in parallel, then the leader once it has seen
   * them go. A leader given SIGTERM hands leadership to the peer it believes is connected and
   * waits for it; if that peer is already gone, the wait lasts until the SIGKILL fallback.
   */
  async stop(): Promise<void> {
    const leaders = await this.#currentLeaders();
    const followers = this.#members.filter((member) => !leaders.includes(member));
    await Promise.all(followers.map((member) => member.stop()));
    await Promise.all(
      leaders.map(async (leader) => {
        if (followers.length > 0) await this.#waitForNoActivePeers(leader);
        await leader.stop();
      }),
    );
  }

  /**
   * Kills every member (SIGKILL), then removes the dir unless a failure must keep it.
   * Idempotent. A graceful stop would buy nothing for data about to be deleted, and a leader's
   * SIGTERM can block on a leadership transfer.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Members that answer a status call as leader right now (none if nobody answers). */
  async #currentLeaders(): Promise<EtcdMember[]> {
    const answers = await Promise.all(
      this.#members.map(async (member) => {
        if (!member.running || member.paused) return undefined;
        try {
          const status = await member.status(500);
          return status.leader === status.memberId ? member : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    return answers.filter((member): member is EtcdMember => member !== undefined);
  }

  async #waitForNoActivePeers(leader: EtcdMember): Promise<void> {
    try {
      await pollUntil(
        async (remainingMs) => {
          const active = await leader.metric('etcd_network_active_peers', Math.min(remainingMs, 500));
          return active === 0 ? true : undefined;
        },
        { timeoutMs: PEERS_GONE_TIMEOUT_MS, what: `${leader.name} to see its peers go` },
      );
    } catch {
      // The SIGKILL fallback of stop() still bounds the shutdown.
    }
  }

  async #close(): Promise<void> {
    // A member that survives SIGKILL must not keep the dir from going.
    const stopped = await Promise.allSettled([
      ...this.#members.map((member) => member.kill()),
      ...[...this.#peerProxies.values()].map((proxy) => proxy.close()),
    ]);
    if (this.keepsData) return;
    await rm(this.dir, { recursive: true, force: true });
    const error = stopped.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (error) throw error.reason;
  }
}
