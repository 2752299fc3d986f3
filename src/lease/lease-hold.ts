import { LeaseExpiredError } from '../connection/errors.js';
import type { LeaseKeepAliveResponse } from '../generated/etcdserverpb/rpc.js';
import { type KeepAliveHub, type LeaseEntry, type LeaseHolder, toEpochMs } from './keep-alive-hub.js';
import type { LeaseIdArg } from './validate.js';

/**
 * One reference to a kept lease, shared by `KeptLease` and the keep-alive iterator: it holds
 * the lease on the {@link KeepAliveHub} until it is stopped or the lease ends, resolves `lost`
 * exactly once, and stops when `signal` aborts.
 * @internal
 */
export class LeaseHold implements LeaseHolder {
  readonly id: bigint;
  /** Resolves (never rejects) with why this hold ended. */
  readonly lost: Promise<LeaseExpiredError>;
  /** Why the hold ended; `undefined` while the lease is kept. */
  error: LeaseExpiredError | undefined;
  /** True when the holder itself stopped (close, `return()`, its signal), not the lease or the client. */
  stoppedLocally = false;
  /** True when the holder stopped because its signal aborted. */
  aborted = false;
  private resolveLost: (error: LeaseExpiredError) => void = () => undefined;
  private readonly entry: LeaseEntry | undefined;
  private finalTtl = 0;
  private finalDeadline = Number.NaN;

  constructor(
    private readonly hub: KeepAliveHub,
    lease: LeaseIdArg,
    private readonly listener: Partial<LeaseHolder>,
    private readonly signal: AbortSignal | undefined,
    seed?: { sentAt: number; ttl: number },
  ) {
    this.id = lease.id;
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
    if (signal?.aborted) {
      this.stoppedLocally = true;
      this.aborted = true;
      this.ended(this.stoppedError('its signal was aborted'));
      return;
    }
    this.entry = hub.hold(lease, this, seed);
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The lease's TTL in seconds, as last acknowledged (0 while unknown). */
  get ttl(): number {
    return this.error ? this.finalTtl : (this.entry?.ttl ?? 0);
  }

  /** The local deadline in epoch milliseconds (`Infinity` while unknown, `NaN` if never kept). */
  get deadline(): number {
    return toEpochMs(this.error ? this.finalDeadline : (this.entry?.deadline ?? Number.NaN));
  }

  /** Whether the deadline is known (a grant or a keep-alive was acknowledged). */
  get known(): boolean {
    return Number.isFinite(this.entry?.deadline ?? Number.NaN);
  }

  /** Stops keeping the lease alive for this holder; others keep it alive. Idempotent. */
  stop(why = 'it was closed'): void {
    if (this.error) return;
    this.stoppedLocally = true;
    this.ended(this.stoppedError(why));
    if (this.entry) this.hub.release(this.entry, this);
  }

  acknowledged(reply: LeaseKeepAliveResponse): void {
    this.listener.acknowledged?.(reply);
  }

  ended(error: LeaseExpiredError): void {
    if (this.error) return;
    this.finalTtl = this.entry?.ttl ?? 0;
    this.finalDeadline = this.entry?.deadline ?? Number.NaN;
    this.error = error;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.resolveLost(error);
    this.listener.ended?.(error);
  }

  private readonly onAbort = (): void => {
    this.aborted = !this.error;
    this.stop('its signal was aborted');
  };

  private stoppedError(why: string): LeaseExpiredError {
    return new LeaseExpiredError(this.id, 'stopped', `stopped keeping lease ${this.id} alive: ${why}`, {
      source: 'Lease.keepAlive',
      cause: this.signal?.aborted ? this.signal.reason : undefined,
    });
  }
}
