import * as grpc from '@grpc/grpc-js';
import { AuthenticateRequest, AuthenticateResponse, AuthService } from '../generated/etcdserverpb/rpc.js';
import { AuthSession } from './auth-session.js';
import { backoffDelay, sharedAbortController, sleep } from './backoff.js';
import { type CallOptions, checkCallOptions, checkDurationMs } from './call-options.js';
import { EndpointChannel } from './endpoint-channel.js';
import { describeEndpoint, type EndpointInfo, type EndpointInfoSource } from './endpoint-info.js';
import { EndpointPool } from './endpoint-pool.js';
import { EndpointSync, type EndpointSyncResult } from './endpoint-sync.js';
import { type ParsedEndpoint, parseEndpoints } from './endpoints.js';
import { failedBeforeSending, toEtcdError } from './error-mapping.js';
import {
  AuthFailedError,
  CancelledError,
  ClientClosedError,
  type EtcdError,
  InternalError,
  InvalidArgumentError,
  InvalidAuthTokenError,
  NoLeaderError,
  UnavailableError,
} from './errors.js';
import { HealthMonitor } from './health.js';
import { activeHooks, type AttemptTrace, type EtcdHooks, invokeHook, observeCall, type WatchBatchEvent } from './hooks.js';
import { MEMBER_LIST_SPEC, memberMethods, STATUS_SPEC } from './member-methods.js';
import type { EtcdOptions, TlsOptions } from './options.js';
import { asError, rejection } from './rejecting-throws.js';
import { type RpcMethod, rpcMethod } from './rpc-method.js';
import { UnaryAttempt } from './unary-attempt.js';

export type { EndpointInfo } from './endpoint-info.js';

/** What a unary call is, for error reporting and retry decisions. */
export interface CallSpec {
  /** The operation name used in errors, such as `KV.Put`. */
  readonly source: string;
  /** Whether the call changes server state; such calls are retried only when provably never sent. */
  readonly mutation: boolean;
  /**
   * Whether the call needs the member to have a leader. Such calls carry etcd's require-leader
   * metadata, so a member that lost its leader refuses them at once with "no leader" (and the
   * call fails over) instead of holding them until the deadline. False for what a member
   * answers from its own state: serializable reads, status, hashes, member list, defragment.
   * @defaultValue true
   */
  readonly requireLeader?: boolean;
}

/** Where and how {@link Connection.run} sends: a fixed endpoint, a trace for hooks. */
interface Route {
  /** Send to this endpoint only, instead of the pool's pick. */
  channel?: EndpointChannel;
  /** Filled with the attempts' endpoint and count, for the hooks. */
  trace?: AttemptTrace;
  /** One attempt, no retry (health probes). */
  once?: boolean;
}

/** A unary call: what it sends, and how. */
interface UnaryCall<Req, Res, Out> {
  readonly method: RpcMethod<Req, Res>;
  /**
   * The request, encoded once for every attempt: an attempt in flight holds these bytes, not
   * the request's objects, which are garbage as soon as the call has started.
   */
  readonly message: Buffer;
  readonly spec: CallSpec;
  readonly signal: AbortSignal | undefined;
  /** `Date.now()` time by which the call, retries included, must be done. */
  readonly deadline: number;
  readonly withAuth: boolean;
  readonly route: Route | undefined;
  /** Makes the caller's result from the response. */
  readonly convert: (response: Res) => Out;
}

const identity = <T>(value: T): T => value;

/** `request` encoded; a request the codec refuses is etcdkit's fault, reported before anything is sent. */
function encodeRequest<Req>(method: RpcMethod<Req, unknown>, request: Req, source: string): Buffer {
  try {
    return method.serialize(request);
  } catch (error) {
    throw new InternalError(`the request could not be encoded: ${asError(error).message}`, { source, cause: error });
  }
}

/** How an attempt of a unary call failed, for {@link Connection.afterFailure}. */
interface FailedAttempt {
  /** What grpc-js reported. */
  readonly raw: unknown;
  readonly channel: EndpointChannel;
  /** The token metadata it was sent with. */
  readonly metadata: grpc.Metadata;
}

/** Settles a unary call's promise with its result, or with the promise of its next attempt. */
type Resolve<Out> = (result: Out | Promise<Out>) => void;
/** Rejects a unary call's promise. */
type Reject = (error: Error) => void;

/** One attempt of a unary call of a {@link Connection}, with what it needs to settle the call. */
class PendingAttempt<Req, Res, Out> extends UnaryAttempt<Res> {
  private call: UnaryCall<Req, Res, Out> | undefined;
  private resolve: Resolve<Out> | undefined;
  private reject: Reject | undefined;

  constructor(
    private readonly connection: Connection,
    call: UnaryCall<Req, Res, Out>,
    /** Which attempt of the call this is, from 1. */
    readonly number: number,
    /** Whether the call's token was already refreshed once. */
    readonly refreshedToken: boolean,
    channel: EndpointChannel,
    /** The token metadata it is sent with. */
    readonly metadata: grpc.Metadata,
    resolve: Resolve<Out>,
    reject: Reject,
  ) {
    super(channel, call.method.deserialize);
    this.call = call;
    this.resolve = resolve;
    this.reject = reject;
  }

  protected end(error: grpc.ServiceError | null, response: Res): void {
    const call = this.call!;
    const resolve = this.resolve!;
    const reject = this.reject!;
    // grpc-js keeps its call, and so this listener, for a while after the status: let go of
    // the request, and of the settle functions, which would keep the caller's result alive
    // (a range of 1,000 keys stayed alive into the next scavenges and cost a third more CPU).
    this.call = this.resolve = this.reject = undefined;
    this.connection.attemptEnded(this, call, resolve, reject, error, response);
  }
}

/** What a stream is, for error reporting and its metadata. */
export interface StreamSpec {
  /** The operation name used in errors, such as `Watch.Watch`. */
  readonly source: string;
  /**
   * Send etcd's require-leader metadata, so a member that has lost its leader ends the stream
   * with "no leader" instead of keeping it open with nothing to say.
   */
  readonly requireLeader?: boolean;
}

/** A bidirectional stream opened on one endpoint. */
export interface OpenStream<Req, Res> {
  /** The grpc-js call. */
  readonly call: grpc.ClientDuplexStream<Req, Res>;
  /** The endpoint it runs on. */
  readonly endpoint: string;
  /** @internal */
  readonly channel: EndpointChannel;
  /** The token metadata it was opened with, to tell a stale token from a refreshed one. @internal */
  readonly token: grpc.Metadata;
}

const NO_TOKEN = new grpc.Metadata();

function streamMetadata(token: grpc.Metadata, requireLeader: boolean | undefined): grpc.Metadata {
  if (!requireLeader) return token;
  const metadata = token.clone();
  metadata.set('hasleader', 'true');
  return metadata;
}

const authenticateMethod = rpcMethod(AuthService.authenticate, AuthenticateRequest, AuthenticateResponse);

const DEFAULTS = {
  timeoutMs: 30_000,
  maxAttempts: 5,
  initialBackoffMs: 50,
  maxBackoffMs: 1_000,
  keepAliveTimeMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxReceiveMessageBytes: 2 ** 31 - 1,
} as const;

/** The smallest keepalive interval etcd 3.4 tolerates before answering with GOAWAY too_many_pings. */
const SERVER_MIN_KEEPALIVE_MS = 5_000;

function pem(value: string | Buffer | undefined): Buffer | null {
  return value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
}

function channelCredentials(tls: TlsOptions | boolean | undefined, anySecure: boolean): grpc.ChannelCredentials {
  if (tls === false || (tls === undefined && !anySecure)) return grpc.credentials.createInsecure();
  const settings: TlsOptions = typeof tls === 'object' ? tls : {};
  return grpc.credentials.createSsl(pem(settings.ca), pem(settings.key), pem(settings.cert));
}

function neverSent(raw: unknown): boolean {
  const { code, details } = raw as { code?: unknown; details?: unknown };
  return typeof code === 'number' && typeof details === 'string' && failedBeforeSending(code, details);
}

/**
 * The token was rejected, or none was sent to a server that now has auth on (it was enabled
 * after this client found it off): logging in once more can repair both.
 */
function needsToken(error: EtcdError): boolean {
  return error instanceof InvalidAuthTokenError || (error instanceof AuthFailedError && error.serverMessage === 'etcdserver: user name is empty');
}

function isEndpointFailure(error: EtcdError): boolean {
  return error instanceof UnavailableError || error instanceof NoLeaderError;
}

/**
 * The transport under every call: one channel per endpoint, failover between them, the auth
 * token, deadlines, cancellation, retries and the error mapping.
 * @internal
 */
export class Connection {
  /** Default deadline of a call. */
  readonly timeoutMs: number;
  private readonly pool: EndpointPool;
  private readonly auth: AuthSession;
  private readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly calls = new Set<{ cancel(): void }>();
  private readonly components = new Map<symbol, { close(): void }>();
  /** Aborted by close(), to wake calls sleeping in a retry backoff so they reject at once. */
  private readonly closing = sharedAbortController();
  private closed = false;
  private readonly credentials: grpc.ChannelCredentials;
  private readonly channelOptions: grpc.ChannelOptions;
  /** `undefined` unless the user set a hook, so the call path skips them at no cost. */
  private readonly hooks: EtcdHooks | undefined;
  private readonly health: HealthMonitor | undefined;
  private readonly endpointSync: EndpointSync;
  private readonly infoSources = new Set<EndpointInfoSource>();
  /** The token metadata with require-leader added, for the token it was made from. */
  private leaderMetadata: { token: grpc.Metadata; metadata: grpc.Metadata } | undefined;

  constructor(options: EtcdOptions = {}) {
    const source = 'new Etcd';
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'expected an object', { source });
    }
    const endpoints = parseEndpoints(options.endpoints);
    this.timeoutMs =
      options.timeoutMs === undefined ? DEFAULTS.timeoutMs : checkDurationMs(options.timeoutMs, 'options.timeoutMs', source);
    const retry = options.retry ?? {};
    this.maxAttempts = retry.maxAttempts ?? DEFAULTS.maxAttempts;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new InvalidArgumentError('options.retry.maxAttempts', 'expected an integer of at least 1', { source });
    }
    this.initialBackoffMs =
      retry.initialBackoffMs === undefined
        ? DEFAULTS.initialBackoffMs
        : checkDurationMs(retry.initialBackoffMs, 'options.retry.initialBackoffMs', source);
    this.maxBackoffMs =
      retry.maxBackoffMs === undefined
        ? DEFAULTS.maxBackoffMs
        : checkDurationMs(retry.maxBackoffMs, 'options.retry.maxBackoffMs', source);
    const keepAliveTimeMs = options.keepAliveTimeMs ?? DEFAULTS.keepAliveTimeMs;
    if (keepAliveTimeMs < SERVER_MIN_KEEPALIVE_MS) {
      throw new InvalidArgumentError(
        'options.keepAliveTimeMs',
        `must be at least ${SERVER_MIN_KEEPALIVE_MS} ms: etcd answers more frequent pings with GOAWAY too_many_pings`,
        { source },
      );
    }
    const keepAliveTimeoutMs =
      options.keepAliveTimeoutMs === undefined
        ? DEFAULTS.keepAliveTimeoutMs
        : checkDurationMs(options.keepAliveTimeoutMs, 'options.keepAliveTimeoutMs', source);
    if (options.auth !== undefined) {
      const { username, password } = options.auth;
      if (typeof username !== 'string' || username === '') {
        throw new InvalidArgumentError('options.auth.username', 'expected a non-empty string', { source });
      }
      if (typeof password !== 'string') {
        throw new InvalidArgumentError('options.auth.password', 'expected a string', { source });
      }
    }
    if (options.authToken !== undefined && (typeof options.authToken !== 'string' || options.authToken === '')) {
      throw new InvalidArgumentError('options.authToken', 'expected a non-empty string', { source });
    }
    const tls = options.tls;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? DEFAULTS.maxReceiveMessageBytes,
      'grpc.max_send_message_length': -1,
      'grpc.keepalive_time_ms': keepAliveTimeMs,
      'grpc.keepalive_timeout_ms': keepAliveTimeoutMs,
      // etcd 3.4 does not permit pings on connections without streams.
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 2_000,
      // Each client owns its connections, so closing one never disturbs another.
      'grpc.use_local_subchannel_pool': 1,
      ...(typeof tls === 'object' && tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {}),
      ...options.grpcOptions,
    };
    this.credentials = channelCredentials(tls, endpoints.some((endpoint) => endpoint.secure));
    this.channelOptions = channelOptions;
    this.pool = new EndpointPool(endpoints.map((endpoint) => this.newChannel(endpoint.address)));
    this.auth = new AuthSession(options.auth, options.authToken, (login) => this.login(login.username, login.password));
    this.hooks = activeHooks(options.hooks);
    this.endpointSync = new EndpointSync({
      memberList: (callOptions) => this.unary(memberMethods.memberList, {}, MEMBER_LIST_SPEC, callOptions),
      statusOf: (address, callOptions) => this.unaryOn(address, memberMethods.status, {}, STATUS_SPEC, callOptions),
      addresses: () => this.endpoints(),
      setEndpoints: (list) => this.setEndpoints(list),
    });
    if (options.autoSyncIntervalMs !== undefined) {
      this.endpointSync.every(checkDurationMs(options.autoSyncIntervalMs, 'options.autoSyncIntervalMs', source));
    }
    if (options.onHealthChange !== undefined && typeof options.onHealthChange !== 'function') {
      throw new InvalidArgumentError('options.onHealthChange', 'expected a function', { source });
    }
    this.health =
      options.healthIntervalMs === undefined
        ? undefined
        : new HealthMonitor(
            {
              channels: () => this.pool.channels,
              status: (channel, timeoutMs) =>
                this.run(memberMethods.status, {}, STATUS_SPEC, { timeoutMs }, true, { channel, once: true }),
              // A failure the call path already counted is not counted twice.
              avoid: (channel, error) => {
                if (channel.lastError !== error && this.pool.channels.includes(channel)) this.pool.failed(channel, error);
              },
            },
            checkDurationMs(options.healthIntervalMs, 'options.healthIntervalMs', source),
            options.onHealthChange,
          );
  }

  private newChannel(address: string): EndpointChannel {
    return new EndpointChannel(address, this.credentials, this.channelOptions);
  }

  /** Whether {@link Connection.close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Sends one unary request, with the deadline, retry, failover and auth rules of the client.
   * `convert` makes the caller's result from the response within the call, so a method that
   * converts needs no `async` layer (and no promise) of its own.
   */
  unary<Req, Res, Out = Res>(
    method: RpcMethod<Req, Res>,
    request: Req,
    spec: CallSpec,
    options?: CallOptions,
    convert?: (response: Res) => Out,
  ): Promise<Out> {
    const hooks = this.hooks;
    if (hooks === undefined) return this.run(method, request, spec, options, true, undefined, convert);
    return observeCall(hooks, spec.source, method.path, undefined, (trace) =>
      this.run(method, request, spec, options, true, { trace }, convert),
    );
  }

  /**
   * Sends one unary request to the member at `address` (`host:port`) only, with the client's
   * deadline, auth and retry rules but no failover: on the client's own channel to it, or on a
   * channel opened for this call and closed after it when the address is not one of the
   * client's endpoints.
   */
  async unaryOn<Req, Res>(
    address: string,
    method: RpcMethod<Req, Res>,
    request: Req,
    spec: CallSpec,
    options?: CallOptions,
  ): Promise<Res> {
    if (this.closed) throw new ClientClosedError({ source: spec.source, endpoint: address });
    const own = this.pool.channels.find((channel) => channel.address === address);
    const channel = own ?? this.newChannel(address);
    const hooks = this.hooks;
    try {
      if (hooks === undefined) return await this.run(method, request, spec, options, true, { channel });
      return await observeCall(hooks, spec.source, method.path, address, (trace) =>
        this.run(method, request, spec, options, true, { channel, trace }),
      );
    } finally {
      if (own === undefined) channel.close();
    }
  }

  /**
   * Makes a unary call: checks it, logs in if needed, and makes its first attempt. Not `async`:
   * a call whose first attempt succeeds settles through that attempt's promise alone, with no
   * suspended function behind it. A failed attempt continues in {@link Connection.retry}.
   */
  private run<Req, Res, Out = Res>(
    method: RpcMethod<Req, Res>,
    request: Req,
    spec: CallSpec,
    options: CallOptions | undefined,
    withAuth: boolean,
    route?: Route,
    convert?: (response: Res) => Out,
  ): Promise<Out> {
    try {
      if (options !== undefined) checkCallOptions(options, spec.source);
      if (this.closed) throw new ClientClosedError({ source: spec.source });
      const signal = options?.signal;
      if (signal?.aborted) throw new CancelledError('cancelled by the caller', { source: spec.source, cause: signal.reason });
      const call: UnaryCall<Req, Res, Out> = {
        method,
        message: encodeRequest(method, request, spec.source),
        spec,
        signal,
        deadline: Date.now() + (options?.timeoutMs ?? this.timeoutMs),
        withAuth,
        route,
        convert: convert ?? (identity as (response: Res) => Out),
      };
      if (withAuth && this.auth.needsLogin) return this.retry(call, 0, false, this.auth.ensureLoggedIn());
      return this.attemptAndConvert(call, 1, false);
    } catch (error) {
      return rejection(error);
    }
  }

  /**
   * Makes attempt number `attempt` of `call` and resolves with the converted response, or, if it
   * fails, with what {@link Connection.retry} makes of the failure.
   */
  private attemptAndConvert<Req, Res, Out>(call: UnaryCall<Req, Res, Out>, attempt: number, refreshedToken: boolean): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      // close() may have run while this call slept in a backoff or refreshed its token. A
      // mutation is only ever re-attempted after an attempt that provably did not apply, so
      // nothing of this call can have been applied.
      if (this.closed) throw new ClientClosedError({ source: call.spec.source });
      const { route, signal } = call;
      const channel = route?.channel ?? this.pool.pick();
      if (route?.trace) {
        route.trace.endpoint = channel.address;
        route.trace.attempts = attempt;
      }
      const metadata = call.withAuth ? this.auth.metadata : NO_TOKEN;
      const sent = call.spec.requireLeader === false ? metadata : this.withRequireLeader(metadata);
      const pending = new PendingAttempt(this, call, attempt, refreshedToken, channel, metadata, resolve, reject);
      this.calls.add(pending);
      signal?.addEventListener('abort', pending, { once: true });
      try {
        pending.send(call.method.path, call.message, sent, call.deadline);
      } catch (error) {
        this.calls.delete(pending);
        signal?.removeEventListener('abort', pending);
        throw error;
      }
    });
  }

  /**
   * An attempt ended: settles its call's promise with the converted response, or with what
   * {@link Connection.retry} makes of the failure. @internal
   */
  attemptEnded<Req, Res, Out>(
    attempt: PendingAttempt<Req, Res, Out>,
    call: UnaryCall<Req, Res, Out>,
    resolve: Resolve<Out>,
    reject: Reject,
    error: grpc.ServiceError | null,
    response: Res,
  ): void {
    const { channel } = attempt;
    this.calls.delete(attempt);
    call.signal?.removeEventListener('abort', attempt);
    if (error !== null) {
      const failure = { raw: error, channel, metadata: attempt.metadata };
      resolve(this.retry(call, attempt.number, attempt.refreshedToken, undefined, failure));
      return;
    }
    this.pool.succeeded(channel);
    try {
      resolve(call.convert(response));
    } catch (convertError) {
      reject(asError(convertError));
    }
  }

  /**
   * Goes on with `call` after `attempt` attempts: waits for `before` (a login) or decides on
   * `failure` with {@link Connection.afterFailure}, then makes the next attempt.
   */
  private async retry<Req, Res, Out>(
    call: UnaryCall<Req, Res, Out>,
    attempt: number,
    refreshedToken: boolean,
    before?: Promise<unknown>,
    failure?: FailedAttempt,
  ): Promise<Out> {
    if (before !== undefined) await before;
    if (failure !== undefined) {
      // The caller's promise was resolved with this one in the same turn, and subscribes to it
      // a microtask later: two turns, so that an error thrown below finds the caller's await
      // chain linked and its stack reaches the caller (V8 builds it from that chain).
      await Promise.resolve();
      await Promise.resolve();
      const next = await this.afterFailure(call, failure, attempt, refreshedToken);
      if (next === 'after-refresh') refreshedToken = true;
    }
    return this.attemptAndConvert(call, attempt + 1, refreshedToken);
  }

  /**
   * What a failed attempt leads to: throws the call's error, or says how the call goes on
   * (after a token refresh, a backoff, or a wait for a connection).
   */
  private async afterFailure<Req, Res, Out>(
    call: UnaryCall<Req, Res, Out>,
    failure: FailedAttempt,
    attempt: number,
    refreshedToken: boolean,
  ): Promise<'retry' | 'after-refresh'> {
    const { spec, signal, deadline, route } = call;
    const { raw, channel } = failure;
    const error = toEtcdError(raw, {
      source: spec.source,
      endpoint: channel.address,
      mutation: spec.mutation,
      abortReason: signal?.aborted ? signal.reason : undefined,
    });
    if (this.closed) {
      // close() cancelled this attempt. A mutation that had already been sent may still be
      // applied by the server (fault test K6 saw such a put applied after the cancel), so
      // keep the mapping's maybeApplied verdict instead of claiming it was not applied.
      throw new ClientClosedError({
        source: spec.source,
        endpoint: channel.address,
        maybeApplied: error.maybeApplied,
        cause: raw,
      });
    }
    if (call.withAuth && needsToken(error) && this.auth.canRefresh && !refreshedToken) {
      await this.auth.refresh(failure.metadata);
      return 'after-refresh';
    }
    if (isEndpointFailure(error)) this.pool.failed(channel, error);
    if (!error.retryable || error.maybeApplied || signal?.aborted || route?.once) throw error;
    // A request that never left the client cost nothing: keep trying until the deadline, as
    // the Go client waits for a connection, instead of failing while grpc-js reconnects.
    const notSent = neverSent(raw);
    if (attempt >= this.maxAttempts && !notSent) throw error;
    // While every endpoint's channel is in TRANSIENT_FAILURE an attempt fails at once
    // without reaching the network: wait for grpc-js's own reconnection to succeed
    // instead of polling it (a client whose endpoints are all down stays idle).
    const failing = notSent ? this.allEndpointsFailing(route?.channel) : undefined;
    if (failing !== undefined) {
      await sleep(deadline - Date.now(), signal, spec.source, this.closing.signal, ...failing);
      if (Date.now() >= deadline) throw error;
      return 'retry';
    }
    const delay = backoffDelay(attempt, this.initialBackoffMs, this.maxBackoffMs);
    if (Date.now() + delay >= deadline) throw error;
    // Woken early by close(); the next attempt then rejects the call.
    await sleep(delay, signal, spec.source, this.closing.signal);
    return 'retry';
  }

  /**
   * `undefined` when a call could reach the network now; otherwise signals of which one aborts
   * when it may (see {@link EndpointPool.allFailing}). A call routed to one `channel` depends
   * on that channel only.
   */
  allEndpointsFailing(channel?: EndpointChannel): AbortSignal[] | undefined {
    if (channel === undefined) return this.pool.allFailing();
    const left = channel.leftTransientFailure();
    return left === undefined ? undefined : [left];
  }

  /** `token` plus etcd's require-leader metadata, made once per token. */
  private withRequireLeader(token: grpc.Metadata): grpc.Metadata {
    if (this.leaderMetadata?.token !== token) this.leaderMetadata = { token, metadata: streamMetadata(token, true) };
    return this.leaderMetadata.metadata;
  }

  /**
   * Opens a bidirectional stream on the pinned endpoint, logged in and with the stream's
   * metadata. The caller owns the stream: it reads, writes and ends it, and reports how it
   * ended with {@link Connection.streamEnded}. `close()` cancels it.
   */
  async openBidi<Req, Res>(method: RpcMethod<Req, Res>, spec: StreamSpec): Promise<OpenStream<Req, Res>> {
    if (this.closed) throw new ClientClosedError({ source: spec.source });
    if (this.auth.needsLogin) await this.auth.ensureLoggedIn();
    if (this.closed) throw new ClientClosedError({ source: spec.source });
    const channel = this.pool.pick();
    const token = this.auth.metadata;
    const call = channel.client.makeBidiStreamRequest(
      method.path,
      method.serialize,
      method.deserialize,
      streamMetadata(token, spec.requireLeader),
      {},
    );
    this.track(call, channel);
    return { call, endpoint: channel.address, channel, token };
  }

  /**
   * Records how a stream ended: a success clears its endpoint's failure record; a failure is
   * classified, counted against the endpoint when the endpoint is at fault, and repaired when
   * the token expired (the next open logs in again). Returns the typed error.
   */
  async streamEnded<Req, Res>(stream: OpenStream<Req, Res>, raw: unknown, source: string): Promise<EtcdError | undefined> {
    if (raw === undefined) {
      this.pool.succeeded(stream.channel);
      return undefined;
    }
    const error = toEtcdError(raw, { source, endpoint: stream.endpoint, mutation: false });
    if (error instanceof InvalidAuthTokenError && this.auth.canRefresh && !this.closed) {
      await this.auth.refresh(stream.token).catch(() => undefined);
    } else if (isEndpointFailure(error)) {
      this.pool.failed(stream.channel, error);
    }
    return error;
  }

  /** Marks the endpoint of a stream that is delivering messages as healthy. */
  streamHealthy<Req, Res>(stream: OpenStream<Req, Res>): void {
    this.pool.succeeded(stream.channel);
  }

  /**
   * Runs a server-streaming call and yields its messages. Breaking out of the loop, the signal
   * or `close()` cancels the call. Not retried: the caller decides what resuming means. With
   * `address`, the call goes to that member only (on a temporary channel, closed after, when it
   * is not one of the client's endpoints).
   */
  async *serverStream<Req, Res>(
    method: RpcMethod<Req, Res>,
    request: Req,
    spec: StreamSpec,
    options?: CallOptions,
    address?: string,
  ): AsyncGenerator<Res, void, undefined> {
    if (options !== undefined) checkCallOptions(options, spec.source);
    if (this.closed) throw new ClientClosedError({ source: spec.source });
    const signal = options?.signal;
    if (signal?.aborted) throw new CancelledError('cancelled by the caller', { source: spec.source, cause: signal.reason });
    if (this.auth.needsLogin) await this.auth.ensureLoggedIn();
    const own = address === undefined ? this.pool.pick() : this.pool.channels.find((c) => c.address === address);
    const channel = own ?? this.newChannel(address!);
    const call = channel.client.makeServerStreamRequest(
      method.path,
      method.serialize,
      method.deserialize,
      request,
      streamMetadata(this.auth.metadata, spec.requireLeader),
      options?.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs },
    );
    this.track(call, channel);
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      for await (const message of call as AsyncIterable<Res>) yield message;
      finished = true;
    } catch (raw) {
      if (this.closed) throw new ClientClosedError({ source: spec.source, endpoint: channel.address, cause: raw });
      const error = toEtcdError(raw, {
        source: spec.source,
        endpoint: channel.address,
        mutation: false,
        abortReason: signal?.aborted ? signal.reason : undefined,
      });
      if (isEndpointFailure(error)) this.pool.failed(channel, error);
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Ending the loop early must end the call on the server too (grpc-node#1238).
      if (!finished) call.cancel();
      if (own === undefined) channel.close();
    }
  }

  private track(call: grpc.ClientDuplexStream<unknown, unknown> | grpc.ClientReadableStream<unknown>, channel: EndpointChannel): void {
    this.calls.add(call);
    channel.streams++;
    call.once('status', () => {
      this.calls.delete(call);
      channel.streams--;
    });
    // A cancelled call reports CANCELLED through 'error'; its owner has already moved on.
    call.on('error', () => undefined);
  }

  /** Authenticate goes out without a token; wrong credentials fail it without a retry. */
  private async login(name: string, password: string): Promise<string> {
    const response = await this.run(
      authenticateMethod,
      { name, password },
      { source: 'Auth.Authenticate', mutation: false },
      undefined,
      false,
    );
    return response.token;
  }

  /** The state of every endpoint. */
  info(): EndpointInfo[] {
    const pinned = this.pool.current();
    const now = Date.now();
    return this.pool.channels.map((channel) => {
      const info = describeEndpoint(channel, channel === pinned, now);
      for (const source of this.infoSources) source(info);
      return info;
    });
  }

  /**
   * Registers what fills the {@link EndpointInfo} fields other parts of the client own (the
   * watchers or leases served by each endpoint); returns its removal.
   */
  addInfoSource(source: EndpointInfoSource): () => void {
    this.infoSources.add(source);
    return () => this.infoSources.delete(source);
  }

  /** The watch-batch hook, when one is set (so the watch path can skip the event otherwise). */
  get watchBatchHook(): ((event: WatchBatchEvent) => void) | undefined {
    const hook = this.hooks?.onWatchBatch;
    return hook === undefined ? undefined : (event) => invokeHook(hook, event);
  }

  /** Reports to the hooks that a stream broke and is about to be reopened. */
  streamReconnecting(method: string, endpoint: string | undefined, attempt: number, error: EtcdError): void {
    if (this.hooks !== undefined) invokeHook(this.hooks.onStreamReconnect, { method, endpoint, attempt, error });
  }

  /** The endpoints' addresses, in order. */
  endpoints(): string[] {
    return this.pool.channels.map((channel) => channel.address);
  }

  /**
   * Replaces the endpoint list. Endpoints that stay keep their connection and record; dropped
   * ones are closed: calls already sent on them finish, streams on them run until they end
   * (and reopen on the new list).
   */
  setEndpoints(endpoints: readonly ParsedEndpoint[]): void {
    if (this.closed || endpoints.length === 0) return;
    const previous = new Map(this.pool.channels.map((channel) => [channel.address, channel]));
    const next = endpoints.map((endpoint) => previous.get(endpoint.address) ?? this.newChannel(endpoint.address));
    this.pool.replace(next);
    for (const channel of previous.values()) if (!next.includes(channel)) channel.close();
  }

  /** Refreshes the endpoint list from the member list now (see {@link EndpointSync}). */
  syncEndpoints(options?: CallOptions): Promise<EndpointSyncResult> {
    if (this.closed) return Promise.reject(new ClientClosedError({ source: 'Cluster.syncEndpoints' }));
    return this.endpointSync.sync(options);
  }

  /**
   * The connection's single instance of a component that shares this connection's streams
   * (the watch multiplexer, the keep-alive stream), created on first use and closed by
   * {@link Connection.close}. Every view of the client (namespaces included) gets the same one.
   */
  component<T extends { close(): void }>(key: symbol, create: () => T): T {
    let component = this.components.get(key) as T | undefined;
    if (component === undefined) {
      if (this.closed) throw new ClientClosedError({ source: 'Etcd' });
      component = create();
      this.components.set(key, component);
    }
    return component;
  }

  /** Cancels every outstanding call and closes every channel. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.health?.stop();
    this.endpointSync.stop();
    this.closing.abort();
    for (const component of this.components.values()) component.close();
    this.components.clear();
    for (const call of this.calls) call.cancel();
    this.calls.clear();
    for (const channel of this.pool.channels) channel.close();
  }
}
