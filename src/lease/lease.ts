import Long from 'long';
import { type CallOptions, checkCallOptions } from '../connection/call-options.js';
import type { Connection } from '../connection/connection.js';
import {
  CancelledError,
  DeadlineExceededError,
  type LeaseExpiredError,
  LeaseNotFoundError,
  ServerRejectedError,
} from '../connection/errors.js';
import { longToBigInt } from '../encoding/int64.js';
import type { LeaseRevokeResponse } from '../generated/etcdserverpb/rpc.js';
import { type ResponseHeader, toHeader } from '../kv/key-value.js';
import type { KeySpace } from '../kv/key-space.js';
import { KeepAliveHub } from './keep-alive-hub.js';
import { LeaseKeepAlive } from './keep-alive.js';
import { KeptLease } from './kept-lease.js';
import { LeaseHold } from './lease-hold.js';
import { LEASE_SOURCE, leaseMethods } from './methods.js';
import {
  type KeepAliveResponse,
  type LeaseGrantResult,
  type LeaseTimeToLiveResult,
  toGrantResult,
  toKeepAliveResponse,
  toTimeToLiveResult,
} from './results.js';
import { Session, type SessionOptions } from './session.js';
import { checkTtl, type LeaseIdArg, toLeaseId } from './validate.js';

/** Options of {@link Lease.grant}. */
export interface LeaseGrantOptions extends CallOptions {
  /** Ask for this lease ID instead of letting the server choose; fails with `LeaseExistsError` if it is taken. */
  id?: bigint | number;
}

/** Options of {@link Lease.timeToLive}. */
export interface LeaseTimeToLiveOptions extends CallOptions {
  /** Also list the keys attached to the lease. @defaultValue false */
  keys?: boolean;
}

/** Options of {@link Lease.keepAlive}. */
export interface KeepAliveOptions {
  /** Stops the keep-alive when aborted; the iteration then throws `CancelledError` with the signal's reason as `cause`. */
  signal?: AbortSignal;
}

/**
 * Options of {@link Lease.keep} and {@link Lease.grantKeptAlive}. `timeoutMs` bounds the call
 * (the grant, or the first acknowledgement); `signal` aborts the call and, once it has
 * resolved, stops keeping the lease alive (like {@link KeptLease.close}).
 */
export type KeepOptions = CallOptions;

/** Options of {@link Lease.grantKeptAlive}. */
export type GrantKeptAliveOptions = LeaseGrantOptions & KeepOptions;

/** The result of {@link Lease.revoke}. */
export interface LeaseRevokeResult {
  /** The response header. */
  readonly header: ResponseHeader;
}

const KEEP_ALIVES = Symbol('etcdkit.keepAlives');

/** The keep-alive hub of a connection, shared by the client and its namespace views; closed with it. */
function keepAliveHub(connection: Connection): KeepAliveHub {
  return connection.component(KEEP_ALIVES, () => new KeepAliveHub(connection));
}

/**
 * Leases: `etcd.lease`. Grant, revoke, inspect and list leases, and keep any number of them
 * alive over one shared stream per client.
 *
 * @remarks
 * The keep-alives of every lease of a client (from {@link Lease.keepAlive},
 * {@link Lease.keep}, {@link Lease.grantKeptAlive} and sessions, through any namespace view)
 * share one bidirectional `LeaseKeepAlive` stream, opened when the first lease is kept and
 * closed when none is. It reconnects by itself, with backoff and failover, and then refreshes
 * every kept lease at once. Each lease is refreshed about every third of its granted TTL and has
 * a local deadline, the send time of its last acknowledged refresh plus the TTL; a lease whose
 * deadline passes is reported lost at once, without waiting for the server.
 *
 * @example
 * ```ts
 * const kept = await etcd.lease.grantKeptAlive(10);
 * await etcd.put('workers/w1', 'busy', { lease: kept.id });
 * kept.lost.then((error) => console.log('lost the lease:', error.reason));
 * await kept.revoke(); // the key is deleted with the lease
 * ```
 */
export class Lease {
  /** @internal */
  constructor(
    private readonly connection: Connection,
    private readonly keySpace: KeySpace,
  ) {}

  private get hub(): KeepAliveHub {
    return keepAliveHub(this.connection);
  }

  /**
   * Grants a lease of `ttl` seconds (a positive integer, at most 9,000,000,000). The result's
   * `ttl` is the TTL the server granted, which may be larger: etcd raises TTLs below its
   * minimum (2 s with the default election timeout). Not retried once it may have been sent.
   * @throws `LeaseExistsError` when `options.id` is taken.
   */
  async grant(ttl: number, options?: LeaseGrantOptions): Promise<LeaseGrantResult> {
    const source = 'Lease.grant';
    const request = {
      TTL: Long.fromNumber(checkTtl(ttl, source)),
      ID: options?.id === undefined ? Long.ZERO : toLeaseId(options.id, source, 'options.id').long,
    };
    const response = await this.connection.unary(leaseMethods.grant, request, { source: LEASE_SOURCE.grant, mutation: true }, options);
    if (response.error) throw new ServerRejectedError(response.error, { source: LEASE_SOURCE.grant });
    return toGrantResult(response);
  }

  /**
   * Revokes a lease: the server deletes every key attached to it. Keep-alives of the lease in
   * this client end with reason `revoked-locally` (`revoked` when the server had no such lease).
   * Not retried once it may have been sent.
   * @throws `LeaseNotFoundError` when the lease does not exist (expired, revoked or never granted).
   */
  async revoke(id: bigint | number, options?: CallOptions): Promise<LeaseRevokeResult> {
    const response = await this.revokeAndEnd(toLeaseId(id, 'Lease.revoke'), true, options);
    return { header: toHeader(response.header) };
  }

  /**
   * The remaining TTL of a lease, its granted TTL and, with `keys: true`, its keys (inside a
   * namespace view, only the view's keys, relative to it).
   * @throws `LeaseNotFoundError` when the lease does not exist (etcd 3.4 answers TTL -1).
   */
  async timeToLive(id: bigint | number, options?: LeaseTimeToLiveOptions): Promise<LeaseTimeToLiveResult> {
    const lease = toLeaseId(id, 'Lease.timeToLive');
    const response = await this.connection.unary(
      leaseMethods.timeToLive,
      { ID: lease.long, keys: options?.keys ?? false },
      { source: LEASE_SOURCE.timeToLive, mutation: false },
      options,
    );
    if (response.TTL.toNumber() < 0) {
      throw new LeaseNotFoundError(`lease ${lease.id} not found (time-to-live answered TTL ${response.TTL.toString()})`, {
        source: LEASE_SOURCE.timeToLive,
      });
    }
    return toTimeToLiveResult(response, this.keySpace);
  }

  /** The IDs of every lease the cluster knows. */
  async list(options?: CallOptions): Promise<bigint[]> {
    const response = await this.connection.unary(leaseMethods.leases, {}, { source: LEASE_SOURCE.leases, mutation: false }, options);
    return response.leases.map((lease) => longToBigInt(lease.ID));
  }

  /**
   * Refreshes a lease once, on the shared keep-alive stream (re-sent if the stream reconnects
   * before the reply), and resolves with the reply.
   * @throws `LeaseNotFoundError` when the server does not know the lease (it answers TTL 0).
   */
  async keepAliveOnce(id: bigint | number, options?: CallOptions): Promise<KeepAliveResponse> {
    const lease = toLeaseId(id, 'Lease.keepAliveOnce');
    return toKeepAliveResponse(await this.hub.once(lease, options));
  }

  /**
   * Keeps a lease alive until the iteration stops, and yields every acknowledged refresh (only
   * the latest one when the reader is slow). See {@link LeaseKeepAlive}.
   * @throws `InvalidArgumentError` for a bad ID; `ClientClosedError` when the client is closed.
   * @example
   * ```ts
   * const { id } = await etcd.lease.grant(10);
   * for await (const reply of etcd.lease.keepAlive(id, { signal })) console.log(reply.ttl);
   * ```
   */
  keepAlive(id: bigint | number, options?: KeepAliveOptions): LeaseKeepAlive {
    const source = 'Lease.keepAlive';
    checkCallOptions(options, source);
    return new LeaseKeepAlive(this.hub, toLeaseId(id, source), options?.signal);
  }

  /**
   * Grants a lease and keeps it alive: a {@link KeptLease}. Its first deadline is the grant's
   * send time plus the granted TTL.
   */
  async grantKeptAlive(ttl: number, options?: GrantKeptAliveOptions): Promise<KeptLease> {
    const sentAt = performance.now();
    const granted = await this.grant(ttl, options);
    const lease = toLeaseId(granted.id, 'Lease.grantKeptAlive');
    return this.kept(new LeaseHold(this.hub, lease, {}, options?.signal, { sentAt, ttl: granted.ttl }));
  }

  /**
   * Keeps an existing lease alive: a {@link KeptLease}, once the first refresh is acknowledged
   * (which tells its TTL). Several handles of one lease share its refreshes.
   * @throws `LeaseNotFoundError` when the server does not know the lease; `DeadlineExceededError`
   * when no refresh is acknowledged within `timeoutMs`.
   */
  async keep(id: bigint | number, options?: KeepOptions): Promise<KeptLease> {
    const source = 'Lease.keep';
    checkCallOptions(options, source);
    const lease = toLeaseId(id, source);
    const signal = options?.signal;
    if (signal?.aborted) throw new CancelledError('cancelled by the caller', { source, cause: signal.reason });
    const timeoutMs = options?.timeoutMs ?? this.connection.timeoutMs;
    let settle: (error?: LeaseExpiredError) => void = () => undefined;
    const first = new Promise<LeaseExpiredError | undefined>((resolve) => (settle = resolve));
    const hold = new LeaseHold(this.hub, lease, { acknowledged: () => settle(), ended: (error) => settle(error) }, signal);
    if (hold.known) settle();
    const timer = setTimeout(() => hold.stop(`no keep-alive was acknowledged within ${timeoutMs} ms`), timeoutMs);
    const error = await first;
    clearTimeout(timer);
    if (error === undefined) return this.kept(hold);
    if (error.reason === 'revoked') throw new LeaseNotFoundError(`lease ${lease.id} not found`, { source, cause: error });
    if (signal?.aborted) throw new CancelledError('cancelled by the caller', { source, cause: signal.reason });
    if (error.reason === 'stopped' && hold.stoppedLocally) {
      throw new DeadlineExceededError(`no keep-alive of lease ${lease.id} was acknowledged within ${timeoutMs} ms`, { source });
    }
    throw error;
  }

  /**
   * Starts a {@link Session}: a lease kept alive for as long as the session lasts, which locks,
   * elections and STM use to tie their keys to this client's liveness (Go's
   * `concurrency.NewSession`).
   */
  async session(options?: SessionOptions): Promise<Session> {
    const source = 'Etcd.session';
    const ttl = checkTtl(options?.ttl ?? Session.DEFAULT_TTL, source, 'options.ttl');
    const kept = options?.lease === undefined ? await this.grantKeptAlive(ttl, options) : await this.keep(options.lease, options);
    return new Session(kept);
  }

  private kept(hold: LeaseHold): KeptLease {
    return new KeptLease(hold, (options) => this.revokeKept(hold.id, options));
  }

  /** Revoke for a kept lease: retried like a read, since a lease the server no longer knows is revoked already. */
  private async revokeKept(id: bigint, options: CallOptions | undefined): Promise<void> {
    try {
      await this.revokeAndEnd(toLeaseId(id, 'KeptLease.revoke'), false, options);
    } catch (error) {
      if (!(error instanceof LeaseNotFoundError)) throw error;
    }
  }

  /**
   * Revokes `lease` and ends its keep-alives in this client: `revoked-locally` when the server
   * revoked it, `revoked` when it had no such lease. A keep-alive that finds the lease gone while
   * the revoke is in flight waits for this outcome rather than report `revoked` first.
   */
  private async revokeAndEnd(lease: LeaseIdArg, mutation: boolean, options: CallOptions | undefined): Promise<LeaseRevokeResponse> {
    const token = this.hub.revokeStarted(lease.id);
    try {
      const response = await this.connection.unary(leaseMethods.revoke, { ID: lease.long }, { source: LEASE_SOURCE.revoke, mutation }, options);
      this.hub.revokeSettled(lease.id, token, { reason: 'revoked-locally', message: `lease ${lease.id} was revoked by this client` });
      return response;
    } catch (error) {
      const gone = error instanceof LeaseNotFoundError;
      this.hub.revokeSettled(lease.id, token, gone ? { reason: 'revoked', message: `lease ${lease.id} was already gone when revoked` } : undefined);
      throw error;
    }
  }
}
