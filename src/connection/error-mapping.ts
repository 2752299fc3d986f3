import {
  AuthFailedError,
  AuthNotEnabledError,
  CancelledError,
  CompactedError,
  DeadlineExceededError,
  DuplicateKeyInTxnError,
  EtcdError,
  type EtcdErrorInit,
  FutureRevisionError,
  GrpcStatus,
  type GrpcStatusCode,
  InternalError,
  InvalidAuthTokenError,
  KeyNotFoundError,
  LeaseExistsError,
  LeaseNotFoundError,
  LeaseTtlTooLargeError,
  NoLeaderError,
  NoSpaceError,
  PermissionDeniedError,
  RequestTooLargeError,
  ServerRejectedError,
  TooManyRequestsError,
  TooManyTxnOpsError,
  UnavailableError,
} from './errors.js';

/** What the caller knew about the failed attempt. */
export interface FailureContext {
  /** The operation, such as `KV.Put`. */
  source: string;
  /** The endpoint the attempt went to. */
  endpoint?: string;
  /** Whether the call changes server state (put, delete, txn with writes, compact...). */
  mutation: boolean;
  /** The caller's abort reason when the attempt was cancelled because of it. */
  abortReason?: unknown;
}

interface GrpcLikeError {
  code: number;
  details?: string;
  message?: string;
}

function isGrpcLikeError(value: unknown): value is GrpcLikeError {
  return typeof value === 'object' && value !== null && typeof (value as GrpcLikeError).code === 'number';
}

type ErrorFactory = (message: string, init: EtcdErrorInit) => EtcdError;

const of =
  (Ctor: new (message: string, init: EtcdErrorInit) => EtcdError): ErrorFactory =>
  (message, init) =>
    new Ctor(message, init);

/** Server messages (substrings of gRPC details) that identify a condition regardless of the status code. */
const messageRules: ReadonlyArray<readonly [string, ErrorFactory]> = [
  ['required revision has been compacted', (message, init) => new CompactedError(message, 0n, init)],
  ['required revision is a future revision', of(FutureRevisionError)],
  ['requested lease not found', of(LeaseNotFoundError)],
  ['lease already exists', of(LeaseExistsError)],
  ['too large lease TTL', of(LeaseTtlTooLargeError)],
  ['key not found', of(KeyNotFoundError)],
  ['too many operations in txn request', of(TooManyTxnOpsError)],
  ['duplicate key given in txn request', of(DuplicateKeyInTxnError)],
  ['request is too large', of(RequestTooLargeError)],
  ['received message larger than max', of(RequestTooLargeError)],
  ['database space exceeded', of(NoSpaceError)],
  ['too many requests', of(TooManyRequestsError)],
  ['invalid auth token', of(InvalidAuthTokenError)],
  ['revision of auth store is old', of(InvalidAuthTokenError)],
  ['authentication failed', of(AuthFailedError)],
  ['user name is empty', of(AuthFailedError)],
  ['authentication is not enabled', of(AuthNotEnabledError)],
  ['permission denied', of(PermissionDeniedError)],
  ['etcdserver: no leader', of(NoLeaderError)],
];

const statusRules: Partial<Record<number, ErrorFactory>> = {
  [GrpcStatus.PERMISSION_DENIED]: of(PermissionDeniedError),
  [GrpcStatus.UNAUTHENTICATED]: of(InvalidAuthTokenError),
  [GrpcStatus.DEADLINE_EXCEEDED]: of(DeadlineExceededError),
  [GrpcStatus.UNAVAILABLE]: of(UnavailableError),
  [GrpcStatus.CANCELLED]: of(CancelledError),
  [GrpcStatus.INTERNAL]: of(InternalError),
};

/**
 * True when grpc-js failed the call before any byte of it reached a server: the endpoint's
 * channel had no connection to pick (fail-fast), or the deadline passed while still waiting
 * for one. Only these failures make a mutation safe to send again.
 */
export function failedBeforeSending(code: number, details: string): boolean {
  // The second: the channel was closed (its endpoint dropped from the list) while the call
  // still waited for a connection.
  if (code === GrpcStatus.UNAVAILABLE) {
    return details.startsWith('No connection established') || details.startsWith('Channel closed before call started');
  }
  if (code === GrpcStatus.DEADLINE_EXCEEDED) return details.includes('Waiting for LB pick');
  if (code === GrpcStatus.INTERNAL) return details.startsWith('Failed to start HTTP/2 stream');
  return false;
}

/** Conditions under which the server provably did not apply a mutation. */
function provablyNotApplied(error: EtcdError, code: number, details: string): boolean {
  if (failedBeforeSending(code, details)) return true;
  if (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof CancelledError ||
    error instanceof InternalError
  ) {
    return false;
  }
  // Every other mapped condition is a refusal the server makes before proposing the request.
  return !(error instanceof ServerRejectedError && (code === GrpcStatus.UNKNOWN || code === GrpcStatus.ABORTED));
}

/**
 * Converts anything a gRPC call may fail with into the matching {@link EtcdError}. An error that
 * already is one is returned unchanged. This is the only place server and transport errors are
 * classified.
 */
export function toEtcdError(raw: unknown, context: FailureContext): EtcdError {
  if (raw instanceof EtcdError) return raw;
  if (!isGrpcLikeError(raw)) {
    return new InternalError(raw instanceof Error ? raw.message : String(raw), {
      source: context.source,
      endpoint: context.endpoint,
      maybeApplied: context.mutation,
      cause: raw,
    });
  }
  const code = raw.code;
  const details = raw.details ?? raw.message ?? '';
  let make: ErrorFactory | undefined;
  for (const [needle, factory] of messageRules) {
    if (details.includes(needle)) {
      make = factory;
      break;
    }
  }
  make ??= statusRules[code] ?? of(ServerRejectedError);
  const cancelledByCaller = code === GrpcStatus.CANCELLED && context.abortReason !== undefined;
  const init: EtcdErrorInit = {
    source: context.source,
    endpoint: context.endpoint,
    status: code as GrpcStatusCode,
    serverMessage: details,
    cause: cancelledByCaller ? context.abortReason : raw,
  };
  const message = cancelledByCaller ? 'cancelled by the caller' : details || `gRPC status ${code}`;
  const error = make(message, init);
  if (!context.mutation || provablyNotApplied(error, code, details)) return error;
  return make(message, { ...init, maybeApplied: true });
}
