/**
 * etcdkit: a TypeScript client for etcd v3.
 * @packageDocumentation
 */

export { Etcd } from './client.js';
export { Range, SortOrder, SortTarget } from './kv/range.js';
export { Put } from './kv/put.js';
export { Delete } from './kv/delete.js';
export { KeyValue } from './kv/key-value.js';
export { Namespace } from './kv/namespace.js';
export { Compare, CompareTarget } from './txn/compare.js';
export { Op } from './txn/op.js';
export { Txn } from './txn/txn.js';
export { Lease } from './lease/lease.js';
export { KeptLease } from './lease/kept-lease.js';
export { LeaseKeepAlive } from './lease/keep-alive.js';
export { Session } from './lease/session.js';
export { Watch } from './watch/watch.js';
export { Watcher } from './watch/watcher.js';
export { Mirror } from './watch/mirror.js';
export { Locks } from './lock/locks.js';
export { LockHandle } from './lock/lock-handle.js';
export { Mutex } from './lock/mutex.js';
export { Election } from './election/election.js';
export { Leadership } from './election/leadership.js';
export { LeaderObserver } from './election/observe.js';
export { ReadWriteLock } from './recipes/read-write-lock.js';
export { Barrier } from './recipes/barrier.js';
export { DoubleBarrier } from './recipes/double-barrier.js';
export { Queue } from './recipes/queue.js';
export {
  AuthFailedError,
  AuthNotEnabledError,
  CancelledError,
  ClientClosedError,
  CompactedError,
  DeadlineExceededError,
  DuplicateKeyInTxnError,
  EtcdError,
  EtcdErrorCode,
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
  TxnNotCommittedError,
  UnavailableError,
  UpdateConflictError,
  LeaseExpiredError,
  WatchCanceledError,
  SlowConsumerError,
  AlreadyConsumedError,
  UnsupportedError,
  SnapshotCorruptError,
  SessionExpiredError,
  LockLostError,
  LeadershipLostError,
  StmConflictError,
} from './connection/errors.js';
export { AlarmKind } from './admin/maintenance.js';
export { PermissionType } from './admin/auth.js';
export { verifySnapshot } from './admin/snapshot.js';
export { createOpenTelemetryHooks } from './connection/opentelemetry.js';

export type { CompactOptions } from './client.js';
export type { CallOptions } from './connection/call-options.js';
export type { AuthCredentials, EtcdOptions, RetryOptions, TlsOptions } from './connection/options.js';
export type { EndpointInfo } from './connection/connection.js';
export type { EndpointHealth, EndpointState } from './connection/endpoint-info.js';
export type { EndpointSyncResult } from './connection/endpoint-sync.js';
export type { CallEndEvent, CallStartEvent, EtcdHooks, StreamReconnectEvent, WatchBatchEvent } from './connection/hooks.js';
export type {
  OpenTelemetryApi,
  OpenTelemetryHooksOptions,
  OpenTelemetrySpan,
  OpenTelemetryTracer,
} from './connection/opentelemetry.js';
export type {
  Alarm,
  AlarmFilter,
  HashKVResult,
  HashResult,
  Maintenance,
  MemberStatus,
  MoveLeaderResult,
  SaveSnapshotOptions,
} from './admin/maintenance.js';
export type { SavedSnapshot } from './admin/snapshot.js';
export type { AddedMember, AddMemberOptions, Cluster, Member } from './admin/members.js';
export type {
  AuthAdmin,
  AuthStatus,
  NoPassword,
  Permission,
  PermissionScope,
  Role,
  RoleAdmin,
  User,
  UserAdmin,
} from './admin/auth.js';
export type { ChannelState } from './connection/endpoint-channel.js';
export type {
  EtcdErrorInit,
  EtcdErrorOrigin,
  GrpcStatusCode,
  LeaseLossReason,
  OwnershipLossInit,
  OwnershipLossReason,
} from './connection/errors.js';
export type { Bytes } from './encoding/bytes.js';
export type { Int64Input } from './encoding/int64.js';
export type { ResponseHeader } from './kv/key-value.js';
export type { CompactResult, DeleteResult, PutResult, RangeResult } from './kv/results.js';
export type { PutOptions } from './kv/put.js';
export type { GetOptions } from './kv/namespace.js';
export type { RangeAllOptions } from './kv/range-all.js';
export type { CasResult, Expected, UpdateOptions, UpdateResult } from './kv/cas.js';
export type { OpKind } from './txn/op.js';
export type {
  GrantKeptAliveOptions,
  KeepAliveOptions,
  KeepOptions,
  LeaseGrantOptions,
  LeaseRevokeResult,
  LeaseTimeToLiveOptions,
} from './lease/lease.js';
export type { KeepAliveResponse, LeaseGrantResult, LeaseTimeToLiveResult } from './lease/results.js';
export type { SessionOptions } from './lease/session.js';
export type { WatchBatch, WatchEvent } from './watch/events.js';
export type { WatchOptions, WatcherStats } from './watch/watcher.js';
export type { MirrorChange, MirrorOptions } from './watch/mirror.js';
export type { OpResult, OpResultOf, ResultsOf, TxnResult } from './txn/results.js';
export type { AcquireOptions } from './lock/locks.js';
export type { LeaseChoice, WaitOptions } from './lock/session-scope.js';
export type { HeldKey } from './lock/held-key.js';
export type { CampaignOptions, ElectionOptions } from './election/election.js';
export type { ObserveOptions } from './election/observe.js';
export type { StmIsolation, StmOptions, StmResult, StmTx } from './stm/stm.js';
export type { BarrierHoldOptions } from './recipes/barrier.js';
