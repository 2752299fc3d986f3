import type { RpcMethod } from './rpc-method.js';
import { backoffDelay, sleep } from './backoff.js';
import type { Connection, OpenStream, StreamSpec } from './connection.js';
import type { EndpointChannel } from './endpoint-channel.js';
import { toEtcdError } from './error-mapping.js';
import { ClientClosedError, type EtcdError, InternalError, InvalidAuthTokenError, UnavailableError } from './errors.js';

/** What the owner of a {@link ReconnectingStream} is told. */
export interface StreamOwner<Req, Res> {
  /** A new stream is open: send whatever the server must know to continue (watch creates, keep-alives). */
  opened(send: (request: Req) => void): void;
  /** One message from the server. */
  message(response: Res): void;
  /** The stream broke; unless `failed` follows, a new one is opened after a backoff. */
  broken(error: EtcdError): void;
  /** The stream will not be reopened: retries ran out, the error is permanent, or the client closed. */
  failed(error: EtcdError): void;
}

/** Reconnection policy of a {@link ReconnectingStream}. */
export interface ReconnectOptions {
  /** Consecutive failed streams tolerated before giving up. @defaultValue Infinity */
  maxRetries?: number;
  /** Backoff before the first reconnect; doubled each time, with full jitter. @defaultValue 100 */
  initialBackoffMs?: number;
  /** Upper bound of one backoff. @defaultValue 5000 */
  maxBackoffMs?: number;
}

/** Errors after which reopening the same stream cannot help. */
function isPermanent(error: EtcdError): boolean {
  return !error.retryable && !(error instanceof InvalidAuthTokenError);
}

/**
 * One logical bidirectional stream over a sequence of real ones: when a stream breaks it is
 * reopened (on the pinned endpoint, which moves on failures) after a jittered backoff, and the
 * owner re-sends its state. Consecutive failures are counted until a stream delivers a
 * message. Nothing is buffered across streams: what must survive is the owner's state.
 * @internal
 */
export class ReconnectingStream<Req, Res> {
  private current: OpenStream<Req, Res> | undefined;
  private endCurrent: ((raw: unknown) => void) | undefined;
  private stopped = false;
  private failures = 0;
  private readonly wake = new AbortController();
  private readonly maxRetries: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** Settles when the loop has ended (after `close()` or a final failure). */
  readonly done: Promise<void>;

  constructor(
    private readonly connection: Connection,
    private readonly method: RpcMethod<Req, Res>,
    private readonly spec: StreamSpec,
    private readonly owner: StreamOwner<Req, Res>,
    options: ReconnectOptions = {},
  ) {
    this.maxRetries = options.maxRetries ?? Infinity;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.done = this.run();
  }

  /** Whether a stream is open now. */
  get isOpen(): boolean {
    return this.current !== undefined;
  }

  /** The endpoint of the open stream, if any. */
  get endpoint(): string | undefined {
    return this.current?.endpoint;
  }

  /** Sends on the open stream; returns false (and sends nothing) while disconnected. */
  send(request: Req): boolean {
    const current = this.current;
    if (current === undefined) return false;
    current.call.write(request);
    return true;
  }

  /**
   * Ends the current stream (it is cancelled, not half-closed, so the server frees its
   * resources at once) and lets the owner's next `opened` re-send its state. Counts as a break,
   * not as a failure.
   */
  restart(): void {
    this.current?.call.cancel();
  }

  /**
   * Ends the current stream as if it had failed with `raw` (a gRPC-like `{ code, details }`),
   * for failures the server reports inside a message rather than as the stream's status, such
   * as a watch create refused for an expired token: the usual repair (token refresh, failover)
   * and reconnection follow.
   */
  fail(raw: unknown): void {
    this.endCurrent?.(raw);
  }

  /** Stops for good: cancels the open stream and any pending reconnect. Idempotent. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.wake.abort();
    this.current?.call.cancel();
  }

  private async run(): Promise<void> {
    const source = this.spec.source;
    while (!this.stopped) {
      let error: EtcdError | undefined;
      let channel: EndpointChannel | undefined;
      try {
        const stream = await this.connection.openBidi(this.method, this.spec);
        channel = stream.channel;
        if (this.stopped) {
          stream.call.cancel();
          break;
        }
        error = await this.serve(stream);
      } catch (raw) {
        error = toEtcdError(raw, { source, mutation: false });
      }
      if (this.stopped) break;
      if (error instanceof ClientClosedError || isPermanent(error)) {
        this.stopped = true;
        this.owner.failed(error);
        return;
      }
      this.owner.broken(error);
      this.failures++;
      if (this.failures > this.maxRetries) {
        this.stopped = true;
        this.owner.failed(error);
        return;
      }
      this.connection.streamReconnecting(source, channel?.address, this.failures, error);
      await this.pause(backoffDelay(this.failures, this.initialBackoffMs, this.maxBackoffMs), channel);
    }
    this.owner.failed(new ClientClosedError({ source }));
  }

  /**
   * The backoff before reopening, cut short as soon as the channel of the stream that failed
   * leaves TRANSIENT_FAILURE, and made as long as needed while every endpoint is in that state.
   * While grpc-js is in its own reconnect backoff, a new stream fails at once without reaching
   * the network, and each such failure lengthens this backoff too, so the stream used to stay
   * down for up to 2 s after the endpoint was back (fault test W2: heal -> CompactedError
   * 1.7-1.9 s in 2 runs of 6, every attempt after the heal having failed on a channel still in
   * TRANSIENT_FAILURE). grpc-js keeps reconnecting in the background (pick_first's sticky
   * TRANSIENT_FAILURE, with its own backoff), and the channel leaves that state when a
   * connection succeeds: reopening then resumes at once, paced by grpc-js, and a client whose
   * endpoints are all down makes no attempt of its own (fault test F2's CPU bound).
   */
  private async pause(delayMs: number, channel: EndpointChannel | undefined): Promise<void> {
    const source = this.spec.source;
    const allFailing = this.connection.allEndpointsFailing();
    if (allFailing !== undefined) return sleep(Infinity, undefined, source, this.wake.signal, ...allFailing);
    const left = channel?.leftTransientFailure();
    return sleep(delayMs, undefined, source, this.wake.signal, ...(left === undefined ? [] : [left]));
  }

  /** Runs one stream until it ends; returns why it ended. */
  private async serve(stream: OpenStream<Req, Res>): Promise<EtcdError> {
    const source = this.spec.source;
    const { call } = stream;
    let healthy = false;
    this.current = stream;
    const ended = new Promise<unknown>((resolve) => {
      this.endCurrent = resolve;
      call.on('data', (message: Res) => {
        if (!healthy) {
          healthy = true;
          this.failures = 0;
          this.connection.streamHealthy(stream);
        }
        try {
          this.owner.message(message);
        } catch (failure) {
          // A bug in the owner must not escape as an uncaught exception from a grpc-js
          // listener: end this stream, so the owner re-syncs its state on the next one.
          resolve(new InternalError('a stream message could not be handled', { source, endpoint: stream.endpoint, cause: failure }));
        }
      });
      call.once('error', resolve);
      call.once('end', () => resolve(new UnavailableError('the server ended the stream', { source, endpoint: stream.endpoint })));
    });
    this.owner.opened((request) => {
      if (this.current === stream) call.write(request);
    });
    const raw = await ended;
    this.current = undefined;
    this.endCurrent = undefined;
    call.removeAllListeners('data');
    call.cancel();
    return (await this.connection.streamEnded(stream, raw, source)) ?? new UnavailableError('the stream ended', { source });
  }
}
