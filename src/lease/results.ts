import { longToBigInt } from '../encoding/int64.js';
import type {
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveResponse,
} from '../generated/etcdserverpb/rpc.js';
import { type ResponseHeader, toHeader } from '../kv/key-value.js';
import type { KeySpace } from '../kv/key-space.js';

/** The result of {@link Lease.grant}. */
export interface LeaseGrantResult {
  /** The lease ID, chosen by the server unless one was asked for. */
  readonly id: bigint;
  /**
   * The TTL the server granted, in seconds. It can differ from the one asked for: etcd raises
   * small TTLs to its minimum (1.5 × the election timeout, 2 s by default).
   */
  readonly ttl: number;
  /** The response header. */
  readonly header: ResponseHeader;
}

/** The result of {@link Lease.timeToLive}. */
export interface LeaseTimeToLiveResult {
  /** The lease ID. */
  readonly id: bigint;
  /** The remaining TTL in seconds, as the answering member sees it. */
  readonly ttl: number;
  /** The TTL the lease was granted with (or last renewed with), in seconds. */
  readonly grantedTtl: number;
  /**
   * The keys attached to the lease, when asked for with `keys: true` (otherwise empty). Inside a
   * namespace view, only the view's keys, without its prefix.
   */
  readonly keys: readonly Buffer[];
  /** The response header. */
  readonly header: ResponseHeader;
}

/** One acknowledged keep-alive. */
export interface KeepAliveResponse {
  /** The lease ID. */
  readonly id: bigint;
  /** The lease's TTL in seconds, as the server renewed it (the granted TTL, not the remaining one). */
  readonly ttl: number;
  /** The response header. */
  readonly header: ResponseHeader;
}

/** @internal */
export function toGrantResult(raw: LeaseGrantResponse): LeaseGrantResult {
  return { id: longToBigInt(raw.ID), ttl: raw.TTL.toNumber(), header: toHeader(raw.header) };
}

/** @internal */
export function toTimeToLiveResult(raw: LeaseTimeToLiveResponse, keySpace: KeySpace): LeaseTimeToLiveResult {
  let keys: Buffer[] = raw.keys;
  if (!keySpace.isRoot) {
    const prefix = keySpace.prefix;
    keys = keys.filter((key) => key.length >= prefix.length && prefix.equals(key.subarray(0, prefix.length)));
    keys = keys.map((key) => keySpace.unkey(key));
  }
  return {
    id: longToBigInt(raw.ID),
    ttl: raw.TTL.toNumber(),
    grantedTtl: raw.grantedTTL.toNumber(),
    keys,
    header: toHeader(raw.header),
  };
}

/** @internal */
export function toKeepAliveResponse(raw: LeaseKeepAliveResponse): KeepAliveResponse {
  return Object.freeze({ id: longToBigInt(raw.ID), ttl: raw.TTL.toNumber(), header: toHeader(raw.header) });
}
