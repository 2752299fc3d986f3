import { longToBigInt } from '../encoding/int64.js';
import type { MemberListResponse, ResponseHeader, StatusResponse } from '../generated/etcdserverpb/rpc.js';
import type { CallOptions } from './call-options.js';
import { type ParsedEndpoint, parseEndpoint } from './endpoints.js';

/** What endpoint sync needs from the connection. @internal */
export interface SyncHost {
  /** The member list, from whichever endpoint the client uses. */
  memberList(options: CallOptions | undefined): Promise<MemberListResponse>;
  /** The status of the member at `address` (on a temporary channel if it is not one of the client's). */
  statusOf(address: string, options: CallOptions | undefined): Promise<StatusResponse>;
  /** The client's current endpoint addresses. */
  addresses(): readonly string[];
  /** Replaces the client's endpoints. */
  setEndpoints(endpoints: readonly ParsedEndpoint[]): void;
}

/** What one sync did. */
export interface EndpointSyncResult {
  /** The client's endpoints after the sync. */
  endpoints: string[];
  /** Endpoints added by this sync. */
  added: string[];
  /** Endpoints removed by this sync (no longer members, or learners). */
  removed: string[];
  /** Client URLs of members that answered with another cluster's ID, and were left out. */
  rejected: string[];
}

/** How long a new endpoint's cluster check may take. */
const CHECK_TIMEOUT_MS = 2_000;

function clusterIdOf(response: { header: ResponseHeader | undefined }): bigint | undefined {
  return response.header ? longToBigInt(response.header.clusterId) : undefined;
}

/**
 * Keeps the client's endpoint list equal to the client URLs of the cluster's voting members
 * (learners serve almost nothing, so they are left out). A new URL is only added after the
 * member behind it answered with the same cluster ID as the member list, so a stale or wrong
 * URL that now points into another cluster is rejected.
 * @internal
 */
export class EndpointSync {
  private clusterId: bigint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<EndpointSyncResult> | undefined;

  constructor(private readonly host: SyncHost) {}

  /** Syncs every `intervalMs` (timer unref'd); failures are ignored until the next round. */
  every(intervalMs: number): void {
    const tick = (): void => {
      this.sync(undefined)
        .catch(() => undefined)
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(tick, intervalMs);
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, intervalMs);
    this.timer.unref();
  }

  /** Stops the periodic sync. Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Syncs once now; concurrent callers share one sync. */
  sync(options: CallOptions | undefined): Promise<EndpointSyncResult> {
    this.running ??= this.syncOnce(options).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async syncOnce(options: CallOptions | undefined): Promise<EndpointSyncResult> {
    const response = await this.host.memberList(options);
    const clusterId = clusterIdOf(response);
    this.clusterId ??= clusterId;
    const current = this.host.addresses();
    const unchanged: EndpointSyncResult = { endpoints: [...current], added: [], removed: [], rejected: [] };
    // A member list from another cluster (a wrong endpoint in the list) must not replace ours.
    if (clusterId === undefined || clusterId !== this.clusterId) return unchanged;
    const candidates = new Map<string, ParsedEndpoint>();
    for (const member of response.members) {
      if (member.isLearner) continue;
      for (const url of member.clientURLs) {
        try {
          const parsed = parseEndpoint(url, 'clientURLs', 'Cluster.sync');
          if (!candidates.has(parsed.address)) candidates.set(parsed.address, parsed);
        } catch {
          // A URL the client cannot dial (a unix socket, say) is skipped.
        }
      }
    }
    if (candidates.size === 0) return unchanged;
    const rejected: string[] = [];
    await Promise.all(
      [...candidates.keys()]
        .filter((address) => !current.includes(address))
        .map(async (address) => {
          const answer = await this.host
            .statusOf(address, { timeoutMs: CHECK_TIMEOUT_MS, signal: options?.signal })
            .catch(() => undefined);
          // A member that is down now is still a member: keep it, the pool avoids it while it fails.
          if (answer !== undefined && clusterIdOf(answer) !== this.clusterId) {
            rejected.push(address);
            candidates.delete(address);
          }
        }),
    );
    if (this.stopped) return unchanged;
    const next = [...candidates.values()];
    this.host.setEndpoints(next);
    const addresses = next.map((endpoint) => endpoint.address);
    return {
      endpoints: addresses,
      added: addresses.filter((address) => !current.includes(address)),
      removed: current.filter((address) => !candidates.has(address)),
      rejected,
    };
  }
}
