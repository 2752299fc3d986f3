import { describe, expect, it } from 'vitest';
import {
  AuthFailedError,
  AuthNotEnabledError,
  CancelledError,
  CompactedError,
  DeadlineExceededError,
  DuplicateKeyInTxnError,
  EtcdError,
  FutureRevisionError,
  GrpcStatus,
  InternalError,
  InvalidArgumentError,
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
} from 'etcdkit';
import { failedBeforeSending, toEtcdError } from '../../src/connection/error-mapping.js';

const read = { source: 'KV.Range', mutation: false };
const write = { source: 'KV.Put', mutation: true };
const grpc = (code: number, details: string) => Object.assign(new Error(`${code}: ${details}`), { code, details });

describe('error mapping (RELIABILITY.md section 5)', () => {
  const rows: Array<[number, string, abstract new (...args: never[]) => EtcdError]> = [
    [GrpcStatus.INVALID_ARGUMENT, 'etcdserver: request is too large', RequestTooLargeError],
    [GrpcStatus.RESOURCE_EXHAUSTED, 'grpc: received message larger than max (3145738 vs. 2097152)', RequestTooLargeError],
    [GrpcStatus.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request', TooManyTxnOpsError],
    [GrpcStatus.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request', DuplicateKeyInTxnError],
    [GrpcStatus.INVALID_ARGUMENT, 'etcdserver: key not found', KeyNotFoundError],
    [GrpcStatus.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted', CompactedError],
    [GrpcStatus.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision', FutureRevisionError],
    [GrpcStatus.OUT_OF_RANGE, 'etcdserver: too large lease TTL', LeaseTtlTooLargeError],
    [GrpcStatus.NOT_FOUND, 'etcdserver: requested lease not found', LeaseNotFoundError],
    [GrpcStatus.FAILED_PRECONDITION, 'etcdserver: lease already exists', LeaseExistsError],
    [GrpcStatus.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled', AuthNotEnabledError],
    [GrpcStatus.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password', AuthFailedError],
    [GrpcStatus.INVALID_ARGUMENT, 'etcdserver: user name is empty', AuthFailedError],
    [GrpcStatus.PERMISSION_DENIED, 'etcdserver: permission denied', PermissionDeniedError],
    [GrpcStatus.UNAUTHENTICATED, 'etcdserver: invalid auth token', InvalidAuthTokenError],
    [GrpcStatus.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded', NoSpaceError],
    [GrpcStatus.RESOURCE_EXHAUSTED, 'etcdserver: too many requests', TooManyRequestsError],
    [GrpcStatus.UNAVAILABLE, 'etcdserver: no leader', NoLeaderError],
    [GrpcStatus.UNAVAILABLE, 'etcdserver: leader changed', UnavailableError],
    [GrpcStatus.UNAVAILABLE, 'etcdserver: request timed out', UnavailableError],
    [GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.0s', DeadlineExceededError],
    [GrpcStatus.CANCELLED, 'Cancelled on client', CancelledError],
    [GrpcStatus.INTERNAL, 'Response message parsing error', InternalError],
    [GrpcStatus.DATA_LOSS, 'etcdserver: corrupt cluster', ServerRejectedError],
  ];
  it.each(rows)('status %i "%s" maps to its class', (code, details, Expected) => {
    const error = toEtcdError(grpc(code, details), read);
    expect(error).toBeInstanceOf(Expected);
    expect(error).toBeInstanceOf(EtcdError);
    expect(error.status).toBe(code);
    expect(error.serverMessage).toBe(details);
    expect(error.source).toBe('KV.Range');
    expect(error.message.startsWith(`[${error.code}] KV.Range: `)).toBe(true);
    expect(error.name).toBe(Expected.name);
    expect(error.cause).toBeDefined();
  });

  it('marks retryable conditions', () => {
    const retryable = (code: number, details: string) => toEtcdError(grpc(code, details), read).retryable;
    expect(retryable(GrpcStatus.UNAVAILABLE, 'Connection dropped')).toBe(true);
    expect(retryable(GrpcStatus.UNAVAILABLE, 'etcdserver: no leader')).toBe(true);
    expect(retryable(GrpcStatus.RESOURCE_EXHAUSTED, 'etcdserver: too many requests')).toBe(true);
    expect(retryable(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded')).toBe(true);
    expect(retryable(GrpcStatus.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded')).toBe(false);
    expect(retryable(GrpcStatus.INVALID_ARGUMENT, 'etcdserver: request is too large')).toBe(false);
    expect(retryable(GrpcStatus.PERMISSION_DENIED, 'etcdserver: permission denied')).toBe(false);
  });

  it('says a mutation may have been applied only when it may have reached the server', () => {
    const maybe = (code: number, details: string) => toEtcdError(grpc(code, details), write).maybeApplied;
    expect(maybe(GrpcStatus.UNAVAILABLE, 'Connection dropped')).toBe(true);
    expect(maybe(GrpcStatus.UNAVAILABLE, 'etcdserver: request timed out')).toBe(true);
    expect(maybe(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded after 2.0s,LB pick: 0.001s,remote_addr=127.0.0.1:2379')).toBe(true);
    expect(maybe(GrpcStatus.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED')).toBe(false);
    expect(maybe(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.0s,Waiting for LB pick')).toBe(false);
    expect(maybe(GrpcStatus.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request')).toBe(false);
    expect(maybe(GrpcStatus.RESOURCE_EXHAUSTED, 'etcdserver: too many requests')).toBe(false);
    // Reads never report maybeApplied.
    expect(toEtcdError(grpc(GrpcStatus.UNAVAILABLE, 'Connection dropped'), read).maybeApplied).toBe(false);
  });

  it('recognises failures that happened before anything was sent', () => {
    expect(failedBeforeSending(GrpcStatus.UNAVAILABLE, 'No connection established. Last error: x')).toBe(true);
    expect(failedBeforeSending(GrpcStatus.UNAVAILABLE, 'Connection dropped')).toBe(false);
  });

  it('reports a caller abort as CancelledError with the abort reason as cause', () => {
    const reason = new Error('stop');
    const error = toEtcdError(grpc(GrpcStatus.CANCELLED, 'Cancelled on client'), { ...read, abortReason: reason });
    expect(error).toBeInstanceOf(CancelledError);
    expect(error.cause).toBe(reason);
  });

  it('wraps non-gRPC failures as InternalError and passes EtcdErrors through', () => {
    expect(toEtcdError(new TypeError('boom'), read)).toBeInstanceOf(InternalError);
    const original = new InvalidArgumentError('key', 'bad', { source: 'x' });
    expect(toEtcdError(original, read)).toBe(original);
  });
});

describe('error classes', () => {
  it('brand instanceof on a process-wide symbol, so a second copy of the module still matches', () => {
    const error = new LeaseNotFoundError('gone', { source: 'Lease.Revoke' });
    // What a second module copy would build: same brands, different prototype chain.
    const foreign = Object.create(Error.prototype) as object;
    const brands = Symbol.for('etcdkit.error.brands');
    Object.defineProperty(foreign, brands, { value: (error as unknown as Record<symbol, unknown>)[brands] });
    expect(foreign).toBeInstanceOf(LeaseNotFoundError);
    expect(foreign).toBeInstanceOf(EtcdError);
    expect(foreign).not.toBeInstanceOf(CompactedError);
    expect(new Error('plain')).not.toBeInstanceOf(EtcdError);
  });

  it('local validation errors are client-side, not retryable, never applied', () => {
    const error = new InvalidArgumentError('options.limit', 'must not be negative', { source: 'Range.withLimit' });
    expect(error.origin).toBe('client');
    expect(error.retryable).toBe(false);
    expect(error.maybeApplied).toBe(false);
    expect(error.argument).toBe('options.limit');
    expect(error.status).toBe(GrpcStatus.INVALID_ARGUMENT);
  });
});
