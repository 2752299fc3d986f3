import type { ChannelState, EndpointChannel } from './endpoint-channel.js';
import type { EtcdError } from './errors.js';

/**
 * Whether calls can use an endpoint now, as {@link EndpointInfo.state} reports it; discriminated
 * on `status`.
 *
 * - `idle`: no connection yet (connections are opened lazily) or none needed lately.
 * - `connecting`: a connection is being opened.
 * - `ready`: connected.
 * - `unreachable`: the last connection attempt failed; grpc-js tries again with backoff.
 * - `avoided`: the endpoint failed recently (unreachable, no leader, or an unhealthy probe), so
 *   calls go to another endpoint until `until` (epoch ms).
 * - `closed`: the client is closed, or the endpoint was dropped from the list.
 */
export type EndpointState =
  | { readonly status: 'idle' }
  | { readonly status: 'connecting' }
  | { readonly status: 'ready' }
  | { readonly status: 'unreachable' }
  | { readonly status: 'avoided'; readonly until: number; readonly error: EtcdError | undefined }
  | { readonly status: 'closed' };

/**
 * The result of the periodic health probes (`healthIntervalMs`), discriminated on `status`.
 *
 * - `unknown`: health checks are off, or no probe has finished yet.
 * - `healthy`: the member answered its status within the probe deadline and knows a leader.
 * - `unhealthy`: it did not answer (`reason: 'unreachable'`), or answered without a leader
 *   (`reason: 'no-leader'`); `since` is when it became unhealthy.
 */
export type EndpointHealth =
  | { readonly status: 'unknown' }
  | {
      readonly status: 'healthy';
      /** When the probe answered (epoch ms). */
      readonly checkedAt: number;
      /** The member's ID. */
      readonly memberId: bigint;
      /** The leader it knows. */
      readonly leader: bigint;
      /** Alarms and conditions the member reports (such as `NOSPACE`), empty when none. */
      readonly errors: readonly string[];
    }
  | {
      readonly status: 'unhealthy';
      readonly checkedAt: number;
      readonly since: number;
      readonly reason: 'unreachable' | 'no-leader';
      readonly error: EtcdError;
    };

/** The state of one endpoint, as `etcd.info()` reports it. */
export interface EndpointInfo {
  /** `host:port`. */
  endpoint: string;
  /** Whether calls can use the endpoint now. */
  state: EndpointState;
  /** The channel's raw connectivity, as grpc-js reports it. */
  connectivity: ChannelState;
  /** Whether calls are currently pinned to this endpoint. */
  pinned: boolean;
  /** Consecutive failures since the last success. */
  failures: number;
  /** The last failure counted against the endpoint, if it has not succeeded since. */
  lastError: EtcdError | undefined;
  /** Unary calls outstanding. */
  inFlight: number;
  /** Streams open on the endpoint (watch, keep-alive, snapshot...). */
  streams: number;
  /** The result of the health probes. */
  health: EndpointHealth;
  /** Watchers served by the endpoint's streams, when the client has any. */
  watchers?: number;
  /** Leases kept alive over the endpoint's streams, when the client has any. */
  leases?: number;
}

/**
 * Fills fields of an {@link EndpointInfo} that the connection does not own itself (watchers,
 * leases), from the parts of the client that do.
 * @internal
 */
export type EndpointInfoSource = (info: EndpointInfo) => void;

function stateOf(channel: EndpointChannel, connectivity: ChannelState, now: number): EndpointState {
  if (connectivity === 'shutdown') return { status: 'closed' };
  if (channel.avoidUntil > now) return { status: 'avoided', until: channel.avoidUntil, error: channel.lastError };
  if (connectivity === 'transient-failure') return { status: 'unreachable' };
  return { status: connectivity };
}

/** Describes one endpoint. @internal */
export function describeEndpoint(channel: EndpointChannel, pinned: boolean, now: number): EndpointInfo {
  const connectivity = channel.state();
  return {
    endpoint: channel.address,
    state: stateOf(channel, connectivity, now),
    connectivity,
    pinned,
    failures: channel.failures,
    lastError: channel.lastError,
    inFlight: channel.inFlight,
    streams: channel.streams,
    health: channel.health,
  };
}
