import { type CallOptions, checkCallOptions } from '../connection/call-options.js';
import type { Connection } from '../connection/connection.js';
import {
  CancelledError,
  ClientClosedError,
  DeadlineExceededError,
  type EtcdError,
  LeaseExpiredError,
  type LeaseLossReason,
  LeaseNotFoundError,
} from '../connection/errors.js';
import { ReconnectingStream, type StreamOwner } from '../connection/reconnecting-stream.js';
import { longToBigInt } from '../encoding/int64.js';
import type { LeaseKeepAliveRequest, LeaseKeepAliveResponse } from '../generated/etcdserverpb/rpc.js';
import { LEASE_SOURCE, leaseMethods } from './methods.js';
import { type Schedulable, TimerQueue } from './timer-queue.js';
import type { LeaseIdArg } from './validate.js';

/**
 * Refreshes are aligned to a grid of this many milliseconds (an eighth of the refresh interval
 * for short TTLs), so leases whose refreshes fall close together are sent in one timer turn
 * instead of one turn each.
 */
const SEND_GRID_MS = 250;

/**
 * The keep-alive stream reconnects quickly: a request is a few bytes, and a lease's margin is
 * short. While the channel itself is down the wait ends as soon as it recovers, so the cap only
 * bounds how often a stream is reopened during a long outage (CPU while everything is down, F2).
 */
const RECONNECT = { initialBackoffMs: 50, maxBackoffMs: 1_000 } as const;

const STREAM_SPEC = { source: LEASE_SOURCE.keepAlive, requireLeader: true } as const;

/** The source of errors that end keep-alives. */
const KEEP_SOURCE = 'Lease.keepAlive';

/**
 * When to send the next refresh: a third of the TTL after the acknowledged send, moved to the
 * nearest point of the grid (at most half a grid step early or late).
 */
function nextRefresh(sentAt: number, ttl: number): number {
  const interval = (ttl * 1000) / 3;
  const grid = Math.min(SEND_GRID_MS, interval / 8);
  return Math.round((sentAt + interval) / grid) * grid;
}

/** Converts a `performance.now()` time to epoch milliseconds. */
export function toEpochMs(monotonic: number): number {
  return Number.isFinite(monotonic) ? Math.round(performance.timeOrigin + monotonic) : monotonic;
}

/** A party keeping a lease alive: a `KeptLease` or a keep-alive iterator. @internal */
export interface LeaseHolder {
  /** A keep-alive of the lease was acknowledged with a positive TTL. */
  acknowledged(reply: LeaseKeepAliveResponse): void;
  /** The lease ended for this holder; nothing is reported after this. */
  ended(error: LeaseExpiredError): void;
}

/** One caller of `keepAliveOnce` waiting for a reply. */
interface OnceWaiter {
  settled: boolean;
  settle(result: LeaseKeepAliveResponse | EtcdError): void;
}

/** A keep-alive request written on the current stream and not answered yet. */
interface InFlight {
  /** When it was written (`performance.now()`). */
  readonly sentAt: number;
  /** The `keepAliveOnce` callers it answers, if any. */
  readonly waiters: OnceWaiter[] | undefined;
}

/**
 * The client's view of one lease on the keep-alive stream: who keeps it, what was sent for it,
 * and its local deadline.
 * @internal
 */
export class LeaseEntry implements Schedulable {
  dueAt = Number.NaN;
  readonly request: LeaseKeepAliveRequest;
  readonly holders = new Set<LeaseHolder>();
  /** Requests on the current stream, oldest first; the server answers them in order. */
  readonly inFlight: InFlight[] = [];
  /** `keepAliveOnce` callers waiting for a stream to send on. */
  pending: OnceWaiter[] = [];
  /** Unsettled `keepAliveOnce` callers. */
  waiting = 0;
  /** The TTL of the latest acknowledgement (or of the grant), in seconds; 0 until known. */
  ttl = 0;
  /**
   * When the lease may have expired on the server: the send time of the last acknowledged
   * request (or of the grant) plus the TTL. The server renewed the lease when it received that
   * request, which was not earlier, so its expiry is never before this. `Infinity` until known.
   */
  deadline = Infinity;
  /** When to send the next refresh. */
  nextSendAt = 0;
  /** This client's revokes of the lease that have not settled yet. */
  revokesInFlight = 0;
  /**
   * Set when a keep-alive answered "no such lease" while this client was revoking the lease: the
   * holders then end when the revoke settles, with the reason its outcome shows.
   */
  goneWhileRevoking: string | undefined;

  constructor(readonly lease: LeaseIdArg) {
    this.request = { ID: lease.long };
  }

  get id(): bigint {
    return this.lease.id;
  }

  get kept(): boolean {
    return this.holders.size > 0;
  }
}

/**
 * The keep-alives of every lease of one client, over one shared `LeaseKeepAlive` stream. The
 * stream is opened when the first lease is kept (or `keepAliveOnce` called) and closed when
 * none is. A single {@link TimerQueue} drives every lease: each is due either for its next
 * refresh (a third of its TTL after the last acknowledged send) or at its deadline, when it is
 * declared lost. On every new stream all kept leases are refreshed at once.
 * @internal
 */
export class KeepAliveHub {
  private readonly entries = new Map<bigint, LeaseEntry>();
  private readonly queue = new TimerQueue<LeaseEntry>((entry, now) => this.due(entry, now));
  private stream: ReconnectingStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse> | undefined;
  /** Holders plus unsettled `keepAliveOnce` callers; the stream is closed when this drops to 0. */
  private users = 0;
  private idleCheckQueued = false;
  private lastStreamError: EtcdError | undefined;
  private closed = false;

  constructor(private readonly connection: Connection) {}

  /**
   * Starts keeping `lease` alive for `holder`. `seed` is a grant that was just acknowledged: its
   * send time and TTL give the first deadline. Without one, the deadline is unknown until the
   * first reply, and a refresh is sent at once.
   */
  hold(lease: LeaseIdArg, holder: LeaseHolder, seed?: { sentAt: number; ttl: number }): LeaseEntry {
    this.checkOpen(KEEP_SOURCE);
    const entry = this.entry(lease);
    const fresh = !entry.kept;
    entry.holders.add(holder);
    this.users++;
    if (fresh) {
      entry.goneWhileRevoking = undefined;
      if (seed) {
        entry.ttl = seed.ttl;
        entry.deadline = seed.sentAt + seed.ttl * 1000;
        entry.nextSendAt = nextRefresh(seed.sentAt, seed.ttl);
      } else {
        entry.ttl = 0;
        entry.deadline = Infinity;
        entry.nextSendAt = 0;
      }
      this.ensureStream();
      this.reschedule(entry);
    }
    return entry;
  }

  /** Stops keeping `entry` alive for `holder` (others keep it alive). */
  release(entry: LeaseEntry, holder: LeaseHolder): void {
    if (!entry.holders.delete(holder)) return;
    this.users--;
    if (!entry.kept) {
      this.queue.cancel(entry);
      this.dropIfUnused(entry);
    }
    this.checkIdle();
  }

  /**
   * This client starts revoking lease `id`. Until {@link revokeSettled}, a keep-alive answering
   * that the lease is gone does not end the holders: it is most likely this revoke's doing, and
   * the revoke's outcome tells. The result is the token to pass to `revokeSettled`.
   */
  revokeStarted(id: bigint): LeaseEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry?.kept) return undefined;
    entry.revokesInFlight++;
    return entry;
  }

  /**
   * A revoke begun with {@link revokeStarted} settled. With `loss`, every holder of lease `id`
   * ends with it; without (the revoke failed, and may not have been applied), they end as
   * `revoked` only if a keep-alive answered meanwhile that the lease is gone.
   */
  revokeSettled(id: bigint, token: LeaseEntry | undefined, loss?: { reason: LeaseLossReason; message: string }): void {
    if (token !== undefined) token.revokesInFlight--;
    const entry = this.entries.get(id);
    if (!entry?.kept) return;
    if (loss !== undefined) this.lose(entry, loss.reason, loss.message);
    else if (entry.revokesInFlight === 0 && entry.goneWhileRevoking !== undefined) this.lose(entry, 'revoked', entry.goneWhileRevoking);
  }

  /** Sends one keep-alive for `lease` on the shared stream and waits for its reply. */
  once(lease: LeaseIdArg, options: CallOptions | undefined): Promise<LeaseKeepAliveResponse> {
    const source = 'Lease.keepAliveOnce';
    checkCallOptions(options, source);
    this.checkOpen(source);
    const signal = options?.signal;
    if (signal?.aborted) throw new CancelledError('cancelled by the caller', { source, cause: signal.reason });
    const timeoutMs = options?.timeoutMs ?? this.connection.timeoutMs;
    return new Promise((resolve, reject) => {
      const entry = this.entry(lease);
      const onAbort = (): void => waiter.settle(new CancelledError('cancelled by the caller', { source, cause: signal?.reason }));
      const timer = setTimeout(
        () => waiter.settle(new DeadlineExceededError(`no keep-alive reply within ${timeoutMs} ms`, { source, cause: this.lastStreamError })),
        timeoutMs,
      );
      const waiter: OnceWaiter = {
        settled: false,
        settle: (result) => {
          if (waiter.settled) return;
          waiter.settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          entry.waiting--;
          this.users--;
          this.dropIfUnused(entry);
          this.checkIdle();
          if ('ID' in result) resolve(result);
          else reject(result);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiting++;
      this.users++;
      if (this.stream?.send(entry.request)) entry.inFlight.push({ sentAt: performance.now(), waiters: [waiter] });
      else entry.pending.push(waiter);
      this.ensureStream();
    });
  }

  /** The client is closing: every holder ends with reason `stopped`, every waiter rejects. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const closedError = new ClientClosedError({ source: KEEP_SOURCE });
    this.stopAll('stopped', 'the client was closed', closedError);
  }

  private checkOpen(source: string): void {
    if (this.closed || this.connection.isClosed) throw new ClientClosedError({ source });
  }

  private entry(lease: LeaseIdArg): LeaseEntry {
    let entry = this.entries.get(lease.id);
    if (entry === undefined) {
      entry = new LeaseEntry(lease);
      this.entries.set(lease.id, entry);
    }
    return entry;
  }

  private dropIfUnused(entry: LeaseEntry): void {
    // An entry with requests in flight stays until they are answered, so the replies still
    // match the requests they answer if the lease is kept again meanwhile.
    if (!entry.kept && entry.waiting === 0 && entry.inFlight.length === 0 && this.entries.get(entry.id) === entry) {
      this.entries.delete(entry.id);
    }
  }

  private ensureStream(): void {
    if (this.stream !== undefined) return;
    const owner: StreamOwner<LeaseKeepAliveRequest, LeaseKeepAliveResponse> = {
      opened: (send) => {
        if (this.stream === stream) this.opened(send);
      },
      message: (reply) => {
        if (this.stream === stream) this.message(reply);
      },
      broken: (error) => {
        if (this.stream === stream) this.broken(error);
      },
      failed: (error) => {
        if (this.stream !== stream) return;
        this.stream = undefined;
        this.stopAll('stopped', `the keep-alive stream gave up: ${error.message}`, error);
      },
    };
    const stream = new ReconnectingStream(this.connection, leaseMethods.keepAlive, STREAM_SPEC, owner, RECONNECT);
    this.stream = stream;
  }

  /** Closes the stream once nothing uses it, after the current turn (a release followed by a hold keeps it). */
  private checkIdle(): void {
    if (this.users > 0 || this.idleCheckQueued || this.stream === undefined) return;
    this.idleCheckQueued = true;
    queueMicrotask(() => {
      this.idleCheckQueued = false;
      if (this.users > 0 || this.stream === undefined) return;
      this.stream.close();
      this.stream = undefined;
      this.entries.clear();
      this.queue.clear();
    });
  }

  private opened(send: (request: LeaseKeepAliveRequest) => void): void {
    const now = performance.now();
    for (const entry of this.entries.values()) {
      entry.inFlight.length = 0;
      const waiters = entry.pending.filter((waiter) => !waiter.settled);
      entry.pending = [];
      if (entry.kept || waiters.length > 0) {
        send(entry.request);
        entry.inFlight.push({ sentAt: now, waiters: waiters.length > 0 ? waiters : undefined });
      }
      if (entry.kept) this.reschedule(entry);
    }
  }

  private broken(error: EtcdError): void {
    this.lastStreamError = error;
    for (const entry of [...this.entries.values()]) {
      for (const request of entry.inFlight) {
        if (request.waiters) for (const waiter of request.waiters) if (!waiter.settled) entry.pending.push(waiter);
      }
      entry.inFlight.length = 0;
      if (entry.kept) this.reschedule(entry);
      else this.dropIfUnused(entry);
    }
  }

  private message(reply: LeaseKeepAliveResponse): void {
    const entry = this.entries.get(longToBigInt(reply.ID));
    const request = entry?.inFlight.shift();
    if (entry === undefined || request === undefined) return;
    this.lastStreamError = undefined;
    const ttl = reply.TTL.toNumber();
    if (request.waiters) {
      const result =
        ttl > 0 ? reply : new LeaseNotFoundError(`lease ${entry.id} not found (keep-alive answered TTL ${ttl})`, { source: 'Lease.keepAliveOnce' });
      for (const waiter of request.waiters) waiter.settle(result);
    }
    if (!entry.kept) {
      this.dropIfUnused(entry);
      return;
    }
    if (ttl <= 0) {
      const message = `lease ${entry.id} was revoked or does not exist (keep-alive answered TTL ${ttl})`;
      if (entry.revokesInFlight === 0) {
        this.lose(entry, 'revoked', message);
      } else {
        entry.goneWhileRevoking = message;
        this.queue.cancel(entry);
      }
      return;
    }
    entry.ttl = ttl;
    entry.deadline = request.sentAt + ttl * 1000;
    entry.nextSendAt = nextRefresh(request.sentAt, ttl);
    for (const holder of [...entry.holders]) holder.acknowledged(reply);
    this.reschedule(entry);
  }

  private due(entry: LeaseEntry, now: number): void {
    if (!entry.kept) return;
    if (now >= entry.deadline) {
      const overdue = Math.round(now - (entry.deadline - entry.ttl * 1000));
      this.lose(
        entry,
        'expired',
        `lease ${entry.id} was not acknowledged within its ${entry.ttl} s TTL (last acknowledged keep-alive sent ${overdue} ms ago)`,
        this.lastStreamError,
      );
      return;
    }
    if (now >= entry.nextSendAt && entry.inFlight.length === 0 && this.stream?.send(entry.request)) {
      entry.inFlight.push({ sentAt: now, waiters: undefined });
    }
    this.reschedule(entry);
  }

  private reschedule(entry: LeaseEntry): void {
    if (!entry.kept || entry.goneWhileRevoking !== undefined) {
      this.queue.cancel(entry);
      return;
    }
    // One refresh in flight per lease: the server answers every request on a stream in order,
    // or ends the stream, so a reply always tells which send it acknowledges. (A second request
    // could only be answered after the first anyway.)
    const canSend = entry.inFlight.length === 0 && this.stream?.isOpen === true;
    this.queue.schedule(entry, canSend ? Math.min(entry.nextSendAt, entry.deadline) : entry.deadline);
  }

  private lose(entry: LeaseEntry, reason: LeaseLossReason, message: string, cause?: unknown): void {
    const error = new LeaseExpiredError(entry.id, reason, message, { source: KEEP_SOURCE, cause });
    this.queue.cancel(entry);
    entry.goneWhileRevoking = undefined;
    const holders = [...entry.holders];
    entry.holders.clear();
    this.users -= holders.length;
    for (const holder of holders) holder.ended(error);
    if (reason === 'expired') this.revokeExpired(entry);
    this.dropIfUnused(entry);
    this.checkIdle();
  }

  /**
   * Best-effort revoke of a lease declared lost by its deadline, once the server can be
   * reached again: a 3.4 server that restarts (or changes leader) renews every lease with a
   * full TTL, so keys of a lease its owner already gave up could otherwise live on for a TTL.
   * Revoking twice is harmless (the second finds nothing), so the call may be retried.
   */
  private revokeExpired(entry: LeaseEntry): void {
    if (this.closed || this.connection.isClosed) return;
    const timeoutMs = Math.max(this.connection.timeoutMs, 3 * entry.ttl * 1000);
    this.connection
      .unary(leaseMethods.revoke, { ID: entry.lease.long }, { source: LEASE_SOURCE.revoke, mutation: false }, { timeoutMs })
      .catch(() => undefined);
  }

  private stopAll(reason: LeaseLossReason, message: string, error: EtcdError): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.kept) this.lose(entry, reason, message, error);
      const waiters = [...entry.pending, ...entry.inFlight.flatMap((request) => request.waiters ?? [])];
      for (const waiter of waiters) waiter.settle(error);
    }
    this.entries.clear();
    this.queue.clear();
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
  }
}
