import { type CallOptions, checkCallOptions, checkDurationMs } from '../connection/call-options.js';
import {
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  SessionExpiredError,
} from '../connection/errors.js';
import type { Int64Input } from '../encoding/int64.js';
import { Session, type SessionOptions } from '../lease/session.js';

/**
 * Which lease a lock, mutex, election or barrier key is attached to; give at most one field.
 * With none, a session with a 60 s TTL is granted for the hold alone (as Go's
 * `concurrency.NewSession` defaults).
 */
export interface LeaseChoice {
  /**
   * TTL in seconds of a session granted for this hold alone: kept alive while held, revoked at
   * release, which deletes the key at once.
   * @defaultValue 60
   */
  ttl?: number;
  /** An existing lease: kept alive while held, and left alone (not revoked) at release. */
  lease?: Int64Input;
  /** A session of this client: the key lives at most as long as it; it is left open at release. */
  session?: Session;
}

/** Options of every wait for a lock, leadership or barrier: the lease choice and how long to wait. */
export interface WaitOptions extends LeaseChoice {
  /** Gives up waiting; the call rejects with `CancelledError` (the reason is its `cause`) and leaves no key behind. */
  signal?: AbortSignal;
  /**
   * Bound on the whole call, waiting included; it then rejects with `DeadlineExceededError`
   * and leaves no key behind.
   * @defaultValue no bound: waits until acquired, aborted, or the session is lost
   */
  timeoutMs?: number;
}

/** What a session-backed recipe needs from a client or namespace view. @internal */
export interface SessionSource {
  session(options?: SessionOptions): Promise<Session>;
}

/** A session a hold uses, and what ending the hold does to it. @internal */
export interface SessionHold {
  readonly session: Session;
  /**
   * `granted` when the session's lease was granted for this hold (a `ttl` choice; revoking it
   * deletes the hold's keys), `kept` when an existing lease is kept alive for it (a `lease`
   * choice), `borrowed` for a caller's session.
   */
  readonly origin: 'granted' | 'kept' | 'borrowed';
  /** Ends the session if the hold started it: revokes a granted lease, stops keeping a given one. */
  end(): Promise<void>;
}

/**
 * Bound on the clean-up calls of a wait that failed or a hold that ended (deleting the key,
 * revoking a granted lease): a key they could not remove goes with its lease.
 * @internal
 */
export const CLEANUP: CallOptions = { timeoutMs: 5_000 };

/** Checks a {@link WaitOptions} bag. @internal */
export function checkWaitOptions(options: WaitOptions | undefined, source: string): void {
  if (options === undefined) return;
  checkCallOptions(options, source);
  const given = (['ttl', 'lease', 'session'] as const).filter((field) => options[field] !== undefined);
  if (given.length > 1) {
    throw new InvalidArgumentError(`options.${given[1]}`, `give only one of ttl, lease and session (got ${given.join(', ')})`, {
      source,
    });
  }
  if (options.session !== undefined && !(options.session instanceof Session)) {
    throw new InvalidArgumentError('options.session', 'expected a Session (from etcd.session())', { source });
  }
}

/**
 * Starts (or borrows) the session of a hold. A session being started when `scope` aborts is
 * ended once it arrives, and the abort is reported instead.
 * @internal
 */
export async function holdSession(source: SessionSource, choice: LeaseChoice | undefined, scope: WaitScope): Promise<SessionHold> {
  const given = choice?.session;
  if (given !== undefined) {
    if (given.isLost) throw scope.sessionExpired(given);
    return { session: given, origin: 'borrowed', end: () => Promise.resolve() };
  }
  const lease = choice?.lease;
  const starting = source.session(lease === undefined ? { ttl: choice?.ttl ?? Session.DEFAULT_TTL } : { lease });
  const end = (session: Session): Promise<void> => (lease === undefined ? session.close(CLEANUP) : session.orphan());
  const session = await scope.race(starting, (late) => void end(late).catch(() => undefined));
  return { session, origin: lease === undefined ? 'granted' : 'kept', end: () => end(session).catch(() => undefined) };
}

const sessionSignals = new WeakMap<Session, AbortSignal>();

/**
 * One signal per session, aborted (with the loss as its reason) when the session ends, so the
 * many waits and holds of a long-lived session add and remove a listener instead of each
 * chaining a callback on `lost` that lives as long as the session.
 * @internal
 */
export function sessionSignal(session: Session): AbortSignal {
  let signal = sessionSignals.get(session);
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    sessionSignals.set(session, signal);
    void session.lost.then((error) => controller.abort(error));
  }
  return signal;
}

/**
 * One wait: links the caller's signal, the call's timeout and, once known, the session's loss
 * into one signal, and turns the abort into the error the call rejects with. Always `dispose()`.
 * @internal
 */
export class WaitScope {
  private readonly controller = new AbortController();
  private why: 'caller' | 'timeout' | 'session' | undefined;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  private session: Session | undefined;
  private sessionAbort: AbortSignal | undefined;
  private readonly timeoutMs: number | undefined;

  constructor(
    private readonly source: string,
    private readonly options: CallOptions | undefined,
  ) {
    const signal = options?.signal;
    this.timeoutMs = options?.timeoutMs === undefined ? undefined : checkDurationMs(options.timeoutMs, 'options.timeoutMs', source);
    if (signal?.aborted) this.abort('caller');
    else signal?.addEventListener('abort', this.onCaller, { once: true });
    if (this.timeoutMs !== undefined) this.timer = setTimeout(() => this.abort('timeout'), this.timeoutMs);
  }

  /** Aborted when the wait must stop. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Also stops the wait when `session` ends. */
  watch(session: Session): void {
    this.session = session;
    this.sessionAbort = sessionSignal(session);
    if (this.sessionAbort.aborted) this.abort('session');
    else this.sessionAbort.addEventListener('abort', this.onSession, { once: true });
  }

  /** Throws the scope's error if it was aborted. */
  check(): void {
    if (this.why !== undefined) throw this.failure(undefined);
  }

  /**
   * Waits for `promise` unless the scope aborts first; then rejects with the scope's error and
   * hands the promise's eventual value to `orphaned`.
   */
  race<T>(promise: Promise<T>, orphaned: (late: T) => void): Promise<T> {
    if (this.why !== undefined) {
      promise.then(orphaned, () => undefined);
      return Promise.reject(this.failure(undefined));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        settled = true;
        reject(this.failure(undefined));
      };
      this.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          this.signal.removeEventListener('abort', onAbort);
          if (settled) orphaned(value);
          else resolve(value);
        },
        (error: Error) => {
          this.signal.removeEventListener('abort', onAbort);
          if (!settled) reject(error);
        },
      );
    });
  }

  /** The error a wait that failed with `error` rejects with: the abort's, if the scope aborted, else `error`. */
  failure(error: unknown): Error {
    switch (this.why) {
      case 'caller':
        return new CancelledError('cancelled by the caller', { source: this.source, cause: this.options?.signal?.reason });
      case 'timeout':
        return new DeadlineExceededError(`not done within ${this.timeoutMs} ms`, { source: this.source });
      case 'session':
        return this.sessionExpired(this.session!);
      default:
        return error as Error;
    }
  }

  /** The error of a wait whose session ended. */
  sessionExpired(session: Session): SessionExpiredError {
    const cause = sessionSignal(session).reason as unknown;
    return new SessionExpiredError(session.leaseId, `the session (lease ${session.leaseId.toString(16)}) ended while waiting`, {
      source: this.source,
      cause,
    });
  }

  /** Removes every listener and the timer. Idempotent. */
  dispose(): void {
    clearTimeout(this.timer);
    this.options?.signal?.removeEventListener('abort', this.onCaller);
    this.sessionAbort?.removeEventListener('abort', this.onSession);
  }

  private abort(why: 'caller' | 'timeout' | 'session'): void {
    if (this.why !== undefined) return;
    this.why = why;
    this.controller.abort();
  }

  private readonly onCaller = (): void => this.abort('caller');
  private readonly onSession = (): void => this.abort('session');
}

/** The hex form of a lease ID that Go's concurrency package (and `etcdctl lock`/`elect`) put in key names. @internal */
export function leaseHex(leaseId: bigint): string {
  return leaseId.toString(16);
}
