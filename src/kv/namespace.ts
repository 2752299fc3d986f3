import type { CallOptions } from '../connection/call-options.js';
import type { Connection } from '../connection/connection.js';
import { InvalidArgumentError } from '../connection/errors.js';
import { rejection } from '../connection/rejecting-throws.js';
import { type Bytes, toKey } from '../encoding/bytes.js';
import type { DeleteRangeResponse, PutResponse, RangeRequest, RangeResponse, TxnResponse } from '../generated/etcdserverpb/rpc.js';
import { Lease } from '../lease/lease.js';
import type { Session, SessionOptions } from '../lease/session.js';
import { toTxnResult, type TxnResult } from '../txn/results.js';
import { hasWrites, Txn } from '../txn/txn.js';
import {
  type CasResult,
  compareAndDelete,
  compareAndSwap,
  type Expected,
  putIfAbsent,
  update,
  type UpdateOptions,
  type UpdateResult,
} from './cas.js';
import { Delete } from './delete.js';
import { type KeyValue, toOptionalKeyValue } from './key-value.js';
import { type KeySpace } from './key-space.js';
import { kvMethods } from './methods.js';
import { Put, type PutOptions, toPut } from './put.js';
import { checkRangeAll, rangeAll, type RangeAllOptions } from './range-all.js';
import { Range } from './range.js';
import { type Watch } from '../watch/watch.js';
import { watchesOf } from '../watch/watch-manager.js';
import { Mirror, type MirrorOptions } from '../watch/mirror.js';
import type { WatchOptions, Watcher } from '../watch/watcher.js';
import { type DeleteResult, type PutResult, type RangeResult, toDeleteResult, toPutResult, toRangeResult } from './results.js';
import { Locks } from '../lock/locks.js';
import { Election, type ElectionOptions } from '../election/election.js';
import { runStm, type StmOptions, type StmResult, type StmTx } from '../stm/stm.js';

/** Options of `get`: a revision to read at, and whether a stale local read is fine. */
export interface GetOptions extends CallOptions {
  /** Read the key as it was at this revision. */
  revision?: bigint | number;
  /** Serve from the answering member's local state without a quorum round. */
  serializable?: boolean;
}

const READ = { source: 'KV.Range', mutation: false } as const;
/** A serializable read is served by any member from its own state, with or without a leader. */
const LOCAL_READ = { source: 'KV.Range', mutation: false, requireLeader: false } as const;
const PUT = { source: 'KV.Put', mutation: true } as const;
const DELETE = { source: 'KV.DeleteRange', mutation: true } as const;
const TXN_READ = { source: 'KV.Txn', mutation: false } as const;
const TXN_WRITE = { source: 'KV.Txn', mutation: true } as const;

/** Functions that make a view's results from responses, for `Connection.unary`'s `convert`. */
interface ResultMakers {
  readonly range: (response: RangeResponse) => RangeResult;
  readonly firstKey: (response: RangeResponse) => KeyValue | undefined;
  readonly put: (response: PutResponse) => PutResult;
  readonly delete: (response: DeleteRangeResponse) => DeleteResult;
  readonly txn: (response: TxnResponse) => TxnResult;
}

function resultMakers(strip: number): ResultMakers {
  return {
    range: (response) => toRangeResult(response, strip),
    // get returns the key only: its header is never converted.
    firstKey: (response) => toOptionalKeyValue(response.kvs[0], strip),
    put: (response) => toPutResult(response, strip),
    delete: (response) => toDeleteResult(response, strip),
    txn: (response) => toTxnResult(response, strip),
  };
}

/**
 * The key-value and transaction API over one part of the keyspace. {@link Etcd} is the view of
 * the whole keyspace; `etcd.namespace('app/')` returns a view in which every key is relative to
 * `app/`: keys are prefixed on the way out and the prefix is removed from keys on the way back.
 */
export class Namespace {
  /** @internal */
  protected readonly connection: Connection;
  /** @internal */
  protected readonly keySpace: KeySpace;

  /** @internal */
  constructor(connection: Connection, keySpace: KeySpace) {
    this.connection = connection;
    this.keySpace = keySpace;
    this.results = resultMakers(keySpace.strip);
  }

  /** Makes this view's results from responses; made once per view, not per call. */
  private readonly results: ResultMakers;

  /** The prefix of this view's keys (empty for the client itself). */
  get prefix(): Buffer {
    return this.keySpace.prefix;
  }

  /** A view of the keys under `prefix`, relative to this view. */
  namespace(prefix: Bytes): Namespace {
    return new Namespace(this.connection, this.keySpace.child(toKey(prefix, 'prefix', 'Etcd.namespace')));
  }

  private leaseApi: Lease | undefined;

  /**
   * Leases: grant, revoke, time-to-live, list, and keep-alives over one stream shared by the
   * client and all its views. In a namespace view, `timeToLive` keys are relative to the view.
   */
  get lease(): Lease {
    return (this.leaseApi ??= new Lease(this.connection, this.keySpace));
  }

  /** Starts a {@link Session}: a lease kept alive until the session is closed (default TTL 60 s). */
  session(options?: SessionOptions): Promise<Session> {
    return this.lease.session(options);
  }

  private lockApi: Locks | undefined;

  /**
   * Locks through etcd's lock service: `acquire` and `withLock` (see {@link Locks}). In a
   * namespace view, lock names and keys are relative to the view.
   */
  get lock(): Locks {
    return (this.lockApi ??= new Locks(this.connection, this.keySpace, this));
  }

  /**
   * The election `name` (see {@link Election}): campaign, leader, observe. In a namespace view,
   * the name and keys are relative to the view.
   */
  election(name: Bytes, options?: ElectionOptions): Election {
    return new Election(this.connection, this.keySpace, this, name, options);
  }

  /**
   * Runs `fn` as a software transaction (Go's `concurrency.NewSTM`): reads through `tx` are
   * recorded, writes buffered and committed atomically if nothing the isolation level checks
   * changed meanwhile; otherwise `fn` runs again. Keys are relative to this view.
   * @throws `StmConflictError` when every run conflicted; whatever `fn` throws (nothing is written then).
   * @example
   * ```ts
   * await etcd.stm(async (tx) => {
   *   const from = Number((await tx.get('accounts/a'))?.toString() ?? 0);
   *   tx.put('accounts/a', String(from - 10));
   *   tx.put('accounts/b', String(Number((await tx.get('accounts/b'))?.toString() ?? 0) + 10));
   * });
   * ```
   */
  stm<T>(fn: (tx: StmTx) => T | Promise<T>, options?: StmOptions): Promise<StmResult<T>> {
    return runStm(this, fn, options);
  }

  /** Reads the keys a {@link Range} selects. */
  range(range: Range, options?: CallOptions): Promise<RangeResult> {
    try {
      if (!(range instanceof Range)) {
        throw new InvalidArgumentError('range', 'expected a Range (Range.key(...))', { source: 'Etcd.range' });
      }
      return this.sendRange(range, options, this.results.range);
    } catch (error) {
      return rejection(error);
    }
  }

  /** Reads one key; `undefined` when it does not exist. With a {@link Range}, the first key it selects. */
  get(key: Bytes | Range, options?: GetOptions): Promise<KeyValue | undefined> {
    try {
      let range = key instanceof Range ? key : Range.key(key);
      if (options?.revision !== undefined) range = range.withRevision(options.revision);
      if (options?.serializable) range = range.withSerializable();
      if (range.rangeEnd.length !== 0) range = range.withLimit(1);
      return this.sendRange(range, options, this.results.firstKey);
    } catch (error) {
      return rejection(error);
    }
  }

  /** Sends a range request in this key space; `convert` makes the result. */
  private sendRange<T>(range: Range, options: CallOptions | undefined, convert: (response: RangeResponse) => T): Promise<T> {
    const request = range.toRequest();
    const spec = request.serializable ? LOCAL_READ : READ;
    return this.connection.unary(kvMethods.range, this.keySpace.rangeRequest(request), spec, options, convert);
  }

  /**
   * Writes a key: `put(key, value, options?)`, or `put(builder, options?)` with a {@link Put}.
   * Not retried once it may have reached the server (see `EtcdError.maybeApplied`).
   */
  put(put: Put, options?: CallOptions): Promise<PutResult>;
  put(key: Bytes, value: Bytes, options?: PutOptions & CallOptions): Promise<PutResult>;
  put(keyOrPut: Bytes | Put, valueOrOptions?: Bytes | CallOptions, options?: PutOptions & CallOptions): Promise<PutResult> {
    try {
      const isBuilder = keyOrPut instanceof Put;
      const put = isBuilder ? keyOrPut : toPut(keyOrPut, valueOrOptions as Bytes, options);
      const callOptions = isBuilder ? (valueOrOptions as CallOptions | undefined) : options;
      return this.connection.unary(kvMethods.put, this.keySpace.putRequest(put.toRequest()), PUT, callOptions, this.results.put);
    } catch (error) {
      return rejection(error);
    }
  }

  /** Deletes one key, or whatever a {@link Delete} selects. */
  delete(key: Bytes | Delete, options?: CallOptions): Promise<DeleteResult> {
    try {
      const del = key instanceof Delete ? key : Delete.key(key);
      return this.connection.unary(kvMethods.deleteRange, this.keySpace.deleteRequest(del.toRequest()), DELETE, options, this.results.delete);
    } catch (error) {
      return rejection(error);
    }
  }

  /**
   * Starts a transaction bound to this view, or binds an unbound one built with `Txn.if(...)`.
   * @example
   * ```ts
   * await etcd.txn().if(Compare.value('flag').equals('on')).then(Op.put('k', 'v')).commit();
   * ```
   */
  txn(): Txn;
  txn<T extends Op[], E extends Op[]>(txn: Txn<T, E>): Txn<T, E>;
  txn(txn?: Txn<Op[], Op[]>): Txn<Op[], Op[]> {
    const committer = (this.committer ??= (request: TxnRequestType, options: CallOptions | undefined): Promise<TxnResult> =>
      this.commitTxn(request, options));
    if (txn === undefined) return new Txn(committer);
    if (!(txn instanceof Txn)) throw new InvalidArgumentError('txn', 'expected a Txn', { source: 'Etcd.txn' });
    return txn.bind(committer);
  }

  /** Sends this view's transactions; made once, shared by every `Txn` of the view. */
  private committer: ((request: TxnRequestType, options: CallOptions | undefined) => Promise<TxnResult>) | undefined;

  private commitTxn(request: TxnRequestType, options: CallOptions | undefined): Promise<TxnResult> {
    try {
      return this.connection.unary(kvMethods.txn, this.keySpace.txnRequest(request), hasWrites(request) ? TXN_WRITE : TXN_READ, options, this.results.txn);
    } catch (error) {
      return rejection(error);
    }
  }

  /**
   * Iterates every key a range selects (a key prefix or a {@link Range}) in pages, all read at
   * one revision, so a range of any size is one consistent snapshot without one huge response.
   * @throws `CompactedError` if that revision is compacted before the iteration ends.
   */
  rangeAll(range: Range | Bytes, options?: RangeAllOptions): AsyncIterable<KeyValue> {
    const selected = range instanceof Range ? range : Range.key(range).withPrefix();
    const request = this.keySpace.rangeRequest(selected.toRequest());
    const pageSize = checkRangeAll(request, options);
    const send = (page: RangeRequest, callOptions: CallOptions | undefined) =>
      this.connection.unary(kvMethods.range, page, page.serializable ? LOCAL_READ : READ, callOptions);
    return rangeAll(send, request, pageSize, options, this.keySpace.strip);
  }

  /**
   * Watches a key, or whatever a {@link Watch} selects, and returns the {@link Watcher}: an
   * `AsyncIterable` of batches of events. Every watcher of the client shares one stream and
   * resumes where it left off after failures, with no event lost or repeated.
   */
  watch(target: Bytes | Watch, options?: WatchOptions): Watcher {
    return watchesOf(this.connection).watch(target, this.keySpace, options);
  }

  /**
   * Keeps an always-current, read-only copy of every key under `prefix` (see {@link Mirror}):
   * a consistent read at one revision, then a watch from the next, re-read after a compaction.
   */
  mirror(prefix: Bytes, options?: MirrorOptions): Mirror {
    return new Mirror(this, prefix, options);
  }

  /** Writes `key` only if it does not exist; resolves to whether it was written. */
  putIfAbsent(key: Bytes, value: Bytes, options?: PutOptions & CallOptions): Promise<boolean> {
    return putIfAbsent(this, key, value, options);
  }

  /**
   * Writes `value` only if the key's current value, modRevision or version is as `expected`.
   * `found` in the result is what the key held when the transaction ran.
   */
  compareAndSwap(key: Bytes, expected: Expected, value: Bytes, options?: PutOptions & CallOptions): Promise<CasResult> {
    return compareAndSwap(this, key, expected, value, options);
  }

  /** Deletes the key only if its current value, modRevision or version is as `expected`. */
  compareAndDelete(key: Bytes, expected: Expected, options?: CallOptions): Promise<CasResult> {
    return compareAndDelete(this, key, expected, options);
  }

  /**
   * Optimistic read-modify-write: reads the key, calls `fn` with it (or `undefined` if missing),
   * and writes what `fn` returns if the key has not changed meanwhile; otherwise calls `fn`
   * again with the newer value, up to `maxAttempts` times. Returning `undefined` writes nothing.
   * An existing key keeps its lease.
   * @throws `UpdateConflictError` when every attempt conflicted.
   */
  update(
    key: Bytes,
    fn: (current: KeyValue | undefined) => Bytes | undefined | Promise<Bytes | undefined>,
    options?: UpdateOptions,
  ): Promise<UpdateResult> {
    return update(this, key, fn, options);
  }
}

type TxnRequestType = ReturnType<Txn['toRequest']>;
type Op = import('../txn/op.js').Op;
