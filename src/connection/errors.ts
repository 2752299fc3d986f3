/**
 * The typed error model of etcdkit: one root, {@link EtcdError}, and a subclass for every
 * condition a program branches on. Server and transport errors are converted in one place
 * (`error-mapping.ts`); bad input is reported by {@link InvalidArgumentError} before anything is sent.
 */

/** gRPC status codes, as numbers, without importing grpc-js into user code. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status code number. */
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** Stable, machine-readable codes of every {@link EtcdError}; one per subclass. */
export const EtcdErrorCode = {
  InvalidArgument: 'INVALID_ARGUMENT',
  ClientClosed: 'CLIENT_CLOSED',
  TxnNotCommitted: 'TXN_NOT_COMMITTED',
  KeyNotFound: 'KEY_NOT_FOUND',
  LeaseNotFound: 'LEASE_NOT_FOUND',
  LeaseExists: 'LEASE_EXISTS',
  LeaseTtlTooLarge: 'LEASE_TTL_TOO_LARGE',
  Compacted: 'COMPACTED',
  FutureRevision: 'FUTURE_REVISION',
  PermissionDenied: 'PERMISSION_DENIED',
  InvalidAuthToken: 'INVALID_AUTH_TOKEN',
  AuthFailed: 'AUTH_FAILED',
  AuthNotEnabled: 'AUTH_NOT_ENABLED',
  NoLeader: 'NO_LEADER',
  RequestTooLarge: 'REQUEST_TOO_LARGE',
  TooManyTxnOps: 'TOO_MANY_TXN_OPS',
  DuplicateKeyInTxn: 'DUPLICATE_KEY_IN_TXN',
  NoSpace: 'NO_SPACE',
  TooManyRequests: 'TOO_MANY_REQUESTS',
  DeadlineExceeded: 'DEADLINE_EXCEEDED',
  Unavailable: 'UNAVAILABLE',
  Cancelled: 'CANCELLED',
  UpdateConflict: 'UPDATE_CONFLICT',
  ServerRejected: 'SERVER_REJECTED',
  Internal: 'INTERNAL',
  LeaseExpired: 'LEASE_EXPIRED',
  WatchCanceled: 'WATCH_CANCELED',
  SlowConsumer: 'SLOW_CONSUMER',
  AlreadyConsumed: 'ALREADY_CONSUMED',
  Unsupported: 'UNSUPPORTED',
  SnapshotCorrupt: 'SNAPSHOT_CORRUPT',
  SessionExpired: 'SESSION_EXPIRED',
  LockLost: 'LOCK_LOST',
  LeadershipLost: 'LEADERSHIP_LOST',
  StmConflict: 'STM_CONFLICT',
} as const;

/** One of the {@link EtcdErrorCode} values. */
export type EtcdErrorCode = (typeof EtcdErrorCode)[keyof typeof EtcdErrorCode];

/** Where an error comes from: the caller's input, the server, or the transport between them. */
export type EtcdErrorOrigin = 'client' | 'server' | 'transport';

/** Fields every {@link EtcdError} constructor accepts. */
export interface EtcdErrorInit {
  /** The operation that failed, such as `KV.Put` or `Etcd.put`. */
  source: string;
  /** The gRPC status; for errors raised by the client itself, the status that fits best. */
  status?: GrpcStatusCode;
  /** The server's own message (gRPC status details), kept verbatim. */
  serverMessage?: string;
  /** The endpoint the failed attempt went to, if any. */
  endpoint?: string;
  /** True when a mutation may have been applied although the call failed. */
  maybeApplied?: boolean;
  /** The underlying error. */
  cause?: unknown;
}

const brandsKey = Symbol.for('etcdkit.error.brands');

type Branded = { [brandsKey]?: ReadonlySet<string> };

/**
 * Builds `instanceof` on a process-wide symbol rather than on prototype identity, so that an
 * error created by the CommonJS build is still an instance of the ESM build's class.
 */
function brandCheck(ctor: { brand: string }, value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const brands = (value as Branded)[brandsKey];
  return brands !== undefined && brands.has(ctor.brand);
}

/**
 * The root of every error etcdkit raises. A call never rejects with anything else.
 *
 * @remarks
 * Branch on the subclass (`err instanceof CompactedError`) or on {@link EtcdError.code}; decide
 * whether to retry with {@link EtcdError.retryable}, and for mutations read
 * {@link EtcdError.maybeApplied} first.
 */
export class EtcdError extends Error {
  /** Brand used by `instanceof` across module copies. @internal */
  static readonly brand: string = 'etcdkit.error.EtcdError';
  /** The stable condition code. */
  readonly code: EtcdErrorCode;
  /** The gRPC status code of the failure (for client-side errors, the closest one). */
  readonly status: GrpcStatusCode;
  /** The operation that failed, such as `KV.Range`. */
  readonly source: string;
  /** Whether the same call may succeed if tried again later. */
  readonly retryable: boolean;
  /**
   * True when the request may have reached the server and been applied even though the call
   * failed (a mutation cut off mid-flight); false when it provably was not applied.
   */
  readonly maybeApplied: boolean;
  /** Who reported the failure. */
  readonly origin: EtcdErrorOrigin;
  /** The server's message, verbatim, when the server sent one. */
  readonly serverMessage: string | undefined;
  /** The endpoint of the failed attempt, when one was made. */
  readonly endpoint: string | undefined;

  /** @internal */
  constructor(
    code: EtcdErrorCode,
    message: string,
    init: EtcdErrorInit,
    defaults: { status: GrpcStatusCode; retryable: boolean; origin: EtcdErrorOrigin },
  ) {
    super(`[${code}] ${init.source}: ${message}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.status = init.status ?? defaults.status;
    this.source = init.source;
    this.retryable = defaults.retryable;
    this.maybeApplied = init.maybeApplied ?? false;
    this.origin = defaults.origin;
    this.serverMessage = init.serverMessage;
    this.endpoint = init.endpoint;
    const brands = new Set<string>();
    type BrandedClass = { brand?: string } | null;
    for (let ctor = new.target as unknown as BrandedClass; ctor?.brand; ctor = Object.getPrototypeOf(ctor) as BrandedClass) {
      brands.add(ctor.brand);
    }
    Object.defineProperty(this, brandsKey, { value: brands, enumerable: false });
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false, configurable: true, writable: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return brandCheck(this, value);
  }
}

function defineError<C extends EtcdErrorCode>(
  code: C,
  status: GrpcStatusCode,
  retryable: boolean,
  origin: EtcdErrorOrigin,
) {
  return { code, defaults: { status, retryable, origin } } as const;
}

const kinds = {
  invalidArgument: defineError(EtcdErrorCode.InvalidArgument, GrpcStatus.INVALID_ARGUMENT, false, 'client'),
  clientClosed: defineError(EtcdErrorCode.ClientClosed, GrpcStatus.CANCELLED, false, 'client'),
  txnNotCommitted: defineError(EtcdErrorCode.TxnNotCommitted, GrpcStatus.FAILED_PRECONDITION, false, 'client'),
  updateConflict: defineError(EtcdErrorCode.UpdateConflict, GrpcStatus.ABORTED, true, 'client'),
  keyNotFound: defineError(EtcdErrorCode.KeyNotFound, GrpcStatus.INVALID_ARGUMENT, false, 'server'),
  leaseNotFound: defineError(EtcdErrorCode.LeaseNotFound, GrpcStatus.NOT_FOUND, false, 'server'),
  leaseExists: defineError(EtcdErrorCode.LeaseExists, GrpcStatus.FAILED_PRECONDITION, false, 'server'),
  leaseTtlTooLarge: defineError(EtcdErrorCode.LeaseTtlTooLarge, GrpcStatus.OUT_OF_RANGE, false, 'server'),
  compacted: defineError(EtcdErrorCode.Compacted, GrpcStatus.OUT_OF_RANGE, false, 'server'),
  futureRevision: defineError(EtcdErrorCode.FutureRevision, GrpcStatus.OUT_OF_RANGE, false, 'server'),
  permissionDenied: defineError(EtcdErrorCode.PermissionDenied, GrpcStatus.PERMISSION_DENIED, false, 'server'),
  invalidAuthToken: defineError(EtcdErrorCode.InvalidAuthToken, GrpcStatus.UNAUTHENTICATED, true, 'server'),
  authFailed: defineError(EtcdErrorCode.AuthFailed, GrpcStatus.INVALID_ARGUMENT, false, 'server'),
  authNotEnabled: defineError(EtcdErrorCode.AuthNotEnabled, GrpcStatus.FAILED_PRECONDITION, false, 'server'),
  noLeader: defineError(EtcdErrorCode.NoLeader, GrpcStatus.UNAVAILABLE, true, 'server'),
  requestTooLarge: defineError(EtcdErrorCode.RequestTooLarge, GrpcStatus.INVALID_ARGUMENT, false, 'server'),
  tooManyTxnOps: defineError(EtcdErrorCode.TooManyTxnOps, GrpcStatus.INVALID_ARGUMENT, false, 'server'),
  duplicateKeyInTxn: defineError(EtcdErrorCode.DuplicateKeyInTxn, GrpcStatus.INVALID_ARGUMENT, false, 'server'),
  noSpace: defineError(EtcdErrorCode.NoSpace, GrpcStatus.RESOURCE_EXHAUSTED, false, 'server'),
  tooManyRequests: defineError(EtcdErrorCode.TooManyRequests, GrpcStatus.RESOURCE_EXHAUSTED, true, 'server'),
  deadlineExceeded: defineError(EtcdErrorCode.DeadlineExceeded, GrpcStatus.DEADLINE_EXCEEDED, true, 'transport'),
  unavailable: defineError(EtcdErrorCode.Unavailable, GrpcStatus.UNAVAILABLE, true, 'transport'),
  cancelled: defineError(EtcdErrorCode.Cancelled, GrpcStatus.CANCELLED, false, 'client'),
  serverRejected: defineError(EtcdErrorCode.ServerRejected, GrpcStatus.UNKNOWN, false, 'server'),
  internal: defineError(EtcdErrorCode.Internal, GrpcStatus.INTERNAL, false, 'transport'),
  leaseExpired: defineError(EtcdErrorCode.LeaseExpired, GrpcStatus.NOT_FOUND, false, 'client'),
  watchCanceled: defineError(EtcdErrorCode.WatchCanceled, GrpcStatus.ABORTED, false, 'server'),
  slowConsumer: defineError(EtcdErrorCode.SlowConsumer, GrpcStatus.RESOURCE_EXHAUSTED, false, 'client'),
  alreadyConsumed: defineError(EtcdErrorCode.AlreadyConsumed, GrpcStatus.FAILED_PRECONDITION, false, 'client'),
  unsupported: defineError(EtcdErrorCode.Unsupported, GrpcStatus.UNIMPLEMENTED, false, 'server'),
  snapshotCorrupt: defineError(EtcdErrorCode.SnapshotCorrupt, GrpcStatus.DATA_LOSS, false, 'client'),
  sessionExpired: defineError(EtcdErrorCode.SessionExpired, GrpcStatus.FAILED_PRECONDITION, false, 'client'),
  lockLost: defineError(EtcdErrorCode.LockLost, GrpcStatus.FAILED_PRECONDITION, false, 'client'),
  leadershipLost: defineError(EtcdErrorCode.LeadershipLost, GrpcStatus.FAILED_PRECONDITION, false, 'client'),
  stmConflict: defineError(EtcdErrorCode.StmConflict, GrpcStatus.ABORTED, true, 'client'),
} as const;

/** Bad input detected before anything was sent; {@link InvalidArgumentError.argument} names it. */
export class InvalidArgumentError extends EtcdError {
  static override readonly brand: string = 'etcdkit.error.InvalidArgumentError';
  /** The name of the offending argument or option, such as `key` or `options.limit`. */
  readonly argument: string;
  /** @internal */
  constructor(argument: string, message: string, init: EtcdErrorInit) {
    super(kinds.invalidArgument.code, `${argument}: ${message}`, init, kinds.invalidArgument.defaults);
    this.argument = argument;
  }
}

/** The client was closed before or while the call ran. */
export class ClientClosedError extends EtcdError {
  static override readonly brand: string = 'etcdkit.error.ClientClosedError';
  /** @internal */
  constructor(init: EtcdErrorInit) {
    super(kinds.clientClosed.code, 'the client is closed', init, kinds.clientClosed.defaults);
  }
}

/** A transaction builder was awaited without calling `commit()`. */
export class TxnNotCommittedError extends EtcdError {
  static override readonly brand: string = 'etcdkit.error.TxnNotCommittedError';
  /** @internal */
  constructor(init: EtcdErrorInit) {
    super(
      kinds.txnNotCommitted.code,
      'a transaction builder was awaited without commit(); call .commit() to send it',
      init,
      kinds.txnNotCommitted.defaults,
    );
  }
}

/** An optimistic read-modify-write (`update`) kept conflicting until its retries ran out. */
export class UpdateConflictError extends EtcdError {
  static override readonly brand: string = 'etcdkit.error.UpdateConflictError';
  /** How many attempts were made. */
  readonly attempts: number;
  /** @internal */
  constructor(attempts: number, init: EtcdErrorInit) {
    super(kinds.updateConflict.code, `gave up after ${attempts} conflicting attempts`, init, kinds.updateConflict.defaults);
    this.attempts = attempts;
  }
}

/**
 * Declares a server-reported error class whose constructor takes only the message and init.
 * Every class gets its own brand so `instanceof` works across the ESM and CJS builds.
 */
function serverErrorClass<K extends keyof typeof kinds>(kind: K, brand: string) {
  const { code, defaults } = kinds[kind];
  return class extends EtcdError {
    static override readonly brand: string = brand;
    /** @internal */
    constructor(message: string, init: EtcdErrorInit) {
      super(code, message, init, defaults);
    }
  };
}

/** `ignore_value` or `ignore_lease` was used on a key that does not exist. */
export class KeyNotFoundError extends serverErrorClass('keyNotFound', 'etcdkit.error.KeyNotFoundError') {}
/** The lease does not exist (never granted, expired or revoked). */
export class LeaseNotFoundError extends serverErrorClass('leaseNotFound', 'etcdkit.error.LeaseNotFoundError') {}
/** A lease with the requested ID already exists. */
export class LeaseExistsError extends serverErrorClass('leaseExists', 'etcdkit.error.LeaseExistsError') {}
/** The requested lease TTL is above the server's maximum. */
export class LeaseTtlTooLargeError extends serverErrorClass('leaseTtlTooLarge', 'etcdkit.error.LeaseTtlTooLargeError') {}
/** The requested revision is above the server's current revision. */
export class FutureRevisionError extends serverErrorClass('futureRevision', 'etcdkit.error.FutureRevisionError') {}
/** The user's roles do not allow this operation. */
export class PermissionDeniedError extends serverErrorClass('permissionDenied', 'etcdkit.error.PermissionDeniedError') {}
/** The auth token is invalid or expired; the client re-authenticates once by itself before surfacing this. */
export class InvalidAuthTokenError extends serverErrorClass('invalidAuthToken', 'etcdkit.error.InvalidAuthTokenError') {}
/** Wrong user name or password, or no user name; never retried. */
export class AuthFailedError extends serverErrorClass('authFailed', 'etcdkit.error.AuthFailedError') {}
/** Authentication was requested but auth is not enabled on the server. */
export class AuthNotEnabledError extends serverErrorClass('authNotEnabled', 'etcdkit.error.AuthNotEnabledError') {}
/** The member has no leader (election in progress or the member is partitioned). */
export class NoLeaderError extends serverErrorClass('noLeader', 'etcdkit.error.NoLeaderError') {}
/** The request exceeds the server's `--max-request-bytes` (or its gRPC receive limit). */
export class RequestTooLargeError extends serverErrorClass('requestTooLarge', 'etcdkit.error.RequestTooLargeError') {}
/** The transaction has more operations than the server's `--max-txn-ops`. */
export class TooManyTxnOpsError extends serverErrorClass('tooManyTxnOps', 'etcdkit.error.TooManyTxnOpsError') {}
/** A transaction writes the same key twice (put+put or put+delete) in one branch. */
export class DuplicateKeyInTxnError extends serverErrorClass('duplicateKeyInTxn', 'etcdkit.error.DuplicateKeyInTxnError') {}
/** The backend quota is exhausted (NOSPACE alarm); writes fail until space is reclaimed and the alarm disarmed. */
export class NoSpaceError extends serverErrorClass('noSpace', 'etcdkit.error.NoSpaceError') {}
/** The server is overloaded and shed the request. */
export class TooManyRequestsError extends serverErrorClass('tooManyRequests', 'etcdkit.error.TooManyRequestsError') {}
/** The call's deadline (`timeoutMs`) passed before it completed. */
export class DeadlineExceededError extends serverErrorClass('deadlineExceeded', 'etcdkit.error.DeadlineExceededError') {}
/** No endpoint could serve the call (connection refused or lost, server stopping, leader changes). */
export class UnavailableError extends serverErrorClass('unavailable', 'etcdkit.error.UnavailableError') {}
/** The call was cancelled by the caller's AbortSignal (its reason is the `cause`) or by `close()`. */
export class CancelledError extends serverErrorClass('cancelled', 'etcdkit.error.CancelledError') {}
/** Any other refusal by the server; {@link EtcdError.serverMessage} and {@link EtcdError.status} carry the detail. */
export class ServerRejectedError extends serverErrorClass('serverRejected', 'etcdkit.error.ServerRejectedError') {}
/** An unexpected failure inside the transport or the client (a bug, or a corrupt reply). */
export class InternalError extends serverErrorClass('internal', 'etcdkit.error.InternalError') {}

/** The requested revision has been compacted away; {@link CompactedError.compactRevision} says up to where. */
export class CompactedError extends EtcdError {
  static override readonly brand: string = 'etcdkit.error.CompactedError';
  /** The server's compact revision when known (`0n` when the server did not say). */
  readonly compactRevision: bigint;
  /** @internal */
  constructor(message: string, compactRevision: bigint, init: EtcdErrorInit) {
    super(kinds.compacted.code, message, init, kinds.compacted.defaults);
    this.compactRevision = compactRevision;
  }
}

/** Why a lease was lost. */
export type LeaseLossReason =
  /** No keep-alive was acknowledged within the TTL: the server has expired it, or will. */
  | 'expired'
  /** The server answered with TTL ≤ 0: the lease was revoked (perhaps by another client) or never existed. */
  | 'revoked'
  /** The lease was revoked through this client. */
  | 'revoked-locally'
  /** The client was closed, or keeping the lease alive was stopped. */
  | 'stopped';

/** A lease is gone, or can no longer be trusted to be alive; {@link LeaseExpiredError.reason} says why. */
export class LeaseExpiredError extends EtcdError {
  static override readonly brand: string = 'etcdkit.error.LeaseExpiredError';
  /** The lease ID. */
  readonly leaseId: bigint;
  /** Why the lease is considered lost. */
  readonly reason: LeaseLossReason;
  /** @internal */
  constructor(leaseId: bigint, reason: LeaseLossReason, message: string, init: EtcdErrorInit) {
    super(kinds.leaseExpired.code, message, init, kinds.leaseExpired.defaults);
    this.leaseId = leaseId;
    this.reason = reason;
  }
}

/** The server cancelled a watcher for a reason of its own (permission denied, empty range, no leader...). */
export class WatchCanceledError extends serverErrorClass('watchCanceled', 'etcdkit.error.WatchCanceledError') {}

/** A consumer fell so far behind that its bounded buffer overflowed; only that consumer fails. */
export class SlowConsumerError extends serverErrorClass('slowConsumer', 'etcdkit.error.SlowConsumerError') {}

/** An iterable that allows one consumer was iterated a second time (or after it ended). */
export class AlreadyConsumedError extends serverErrorClass('alreadyConsumed', 'etcdkit.error.AlreadyConsumedError') {}

/** The server does not support this call (for example a 3.5+ API on an etcd 3.4 server). */
export class UnsupportedError extends serverErrorClass('unsupported', 'etcdkit.error.UnsupportedError') {}

/**
 * A snapshot failed its integrity check: the SHA-256 etcd appends to the snapshot stream does
 * not match the data, or a snapshot file is truncated or has no such hash.
 */
export class SnapshotCorruptError extends serverErrorClass('snapshotCorrupt', 'etcdkit.error.SnapshotCorruptError') {}

/**
 * The session (lease) a lock, mutex or election waited with expired, was revoked or was closed
 * before the wait ended: the wait rejects with this and never resolves as acquired (Go's
 * `ErrSessionExpired`). {@link SessionExpiredError.leaseId} names the lease; the
 * `LeaseExpiredError` that ended it, when known, is the `cause`.
 */
export class SessionExpiredError extends EtcdError {
  static override readonly brand: string = 'etcdkit.error.SessionExpiredError';
  /** The session's lease ID. */
  readonly leaseId: bigint;
  /** @internal */
  constructor(leaseId: bigint, message: string, init: EtcdErrorInit) {
    super(kinds.sessionExpired.code, message, init, kinds.sessionExpired.defaults);
    this.leaseId = leaseId;
  }
}

/**
 * Why a lock or a leadership is no longer held: its session's lease was lost, its key was
 * deleted (found by a guarded transaction), or it was released (resigned) by its holder.
 */
export type OwnershipLossReason = 'session-lost' | 'deleted' | 'released';

/** Fields of {@link LockLostError} and {@link LeadershipLostError}. */
export interface OwnershipLossInit extends EtcdErrorInit {
  /** The key that was held, as the server knows it. */
  key: Buffer;
  /** Why it is no longer held. */
  reason: OwnershipLossReason;
}

/** Declares the error class of a lost lock or leadership, which says which key and why. */
function ownershipLossClass(kind: 'lockLost' | 'leadershipLost', brand: string) {
  const { code, defaults } = kinds[kind];
  return class extends EtcdError {
    static override readonly brand: string = brand;
    /** The key that was held, as the server knows it. */
    readonly key: Buffer;
    /** Why it is no longer held. */
    readonly reason: OwnershipLossReason;
    /** @internal */
    constructor(message: string, init: OwnershipLossInit) {
      super(code, message, init, defaults);
      this.key = init.key;
      this.reason = init.reason;
    }
  };
}

/**
 * A lock is no longer held: what a lock handle's `lost` resolves with, and what its guarded
 * operations reject with once the lock can no longer be trusted.
 */
export class LockLostError extends ownershipLossClass('lockLost', 'etcdkit.error.LockLostError') {}

/**
 * A leadership is no longer held (Go's `ErrElectionNotLeader`): what a leadership's `lost`
 * resolves with, and what `proclaim` and guarded operations reject with once it is gone.
 */
export class LeadershipLostError extends ownershipLossClass('leadershipLost', 'etcdkit.error.LeadershipLostError') {}

/** A software transaction (`etcd.stm`) kept conflicting with concurrent writers until its retries ran out. */
export class StmConflictError extends EtcdError {
  static override readonly brand: string = 'etcdkit.error.StmConflictError';
  /** How many times the transaction function ran. */
  readonly attempts: number;
  /** @internal */
  constructor(attempts: number, init: EtcdErrorInit) {
    super(kinds.stmConflict.code, `gave up after ${attempts} conflicting attempts`, init, kinds.stmConflict.defaults);
    this.attempts = attempts;
  }
}
