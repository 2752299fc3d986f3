import * as grpc from '@grpc/grpc-js';
import type { EndpointChannel } from './endpoint-channel.js';
import { asError } from './rejecting-throws.js';

/** A call as a grpc-js channel creates it, below the `Client`'s interceptor layer. */
type ChannelCall = ReturnType<grpc.ChannelInterface['createCall']>;

/** The write context of the one request message: no callback, no flags (grpc-js only reads it). */
const NO_CONTEXT = Object.freeze({});

/** The error grpc-js's `makeUnaryRequest` reports for a status: its message, code, details and metadata. */
export function statusError(status: grpc.StatusObject): grpc.ServiceError {
  return Object.assign(new Error(`${status.code} ${grpc.status[status.code]}: ${status.details}`), status);
}

/**
 * One attempt of a unary call, made on the endpoint's grpc-js channel directly rather than
 * through `Client.makeUnaryRequest`. The attempt is itself the call's listener and its abort
 * listener, so an attempt costs this one object where grpc-js's client layer builds an event
 * emitter, an interceptor chain of three listeners, a dozen closures and option objects, and a
 * caller stack. What it reports is what `makeUnaryRequest` reports: the one response, or a
 * `ServiceError` made from the status (also when the server sent no response or more than one,
 * or a response that does not decode).
 */
export abstract class UnaryAttempt<Res> implements grpc.InterceptingListener {
  private grpcCall: ChannelCall | undefined;
  private response: Res | undefined;
  private received = false;
  private decodeFailure: grpc.StatusObject | undefined;
  private ended = false;

  constructor(
    /** The endpoint the attempt is sent to. */
    readonly channel: EndpointChannel,
    private readonly deserialize: (bytes: Buffer) => Res,
  ) {}

  /** Called once, when the call has ended: with `null` and the response, or with the error. */
  protected abstract end(error: grpc.ServiceError | null, response: Res): void;

  /** Sends the encoded request `message` to the method at `path` with `metadata`; grpc-js fails the call at `deadline` (epoch ms). */
  send(path: string, message: Buffer, metadata: grpc.Metadata, deadline: number): void {
    const call = this.channel.grpcChannel.createCall(path, deadline, undefined, null, undefined);
    this.grpcCall = call;
    this.channel.inFlight++;
    call.start(metadata, this);
    call.startRead();
    call.sendMessageWithContext(NO_CONTEXT, message);
    call.halfClose();
  }

  /** Cancels the call: it ends with CANCELLED unless it has already ended. */
  cancel(): void {
    this.grpcCall?.cancelWithStatus(grpc.status.CANCELLED, 'Cancelled on client');
  }

  /** The caller's abort signal fired. @internal */
  handleEvent(): void {
    this.cancel();
  }

  /** @internal */
  onReceiveMetadata(): void {}

  /** @internal */
  onReceiveMessage(message: Buffer): void {
    if (this.received) {
      this.grpcCall?.cancelWithStatus(grpc.status.UNIMPLEMENTED, 'Too many responses received');
      return;
    }
    this.received = true;
    try {
      this.response = this.deserialize(message);
    } catch (error) {
      const details = `Response message parsing error: ${asError(error).message}`;
      this.decodeFailure = { code: grpc.status.INTERNAL, details, metadata: new grpc.Metadata() };
      this.grpcCall?.cancelWithStatus(grpc.status.INTERNAL, details);
    }
  }

  /** @internal */
  onReceiveStatus(status: grpc.StatusObject): void {
    if (this.ended) return;
    this.ended = true;
    this.channel.inFlight--;
    const final = this.decodeFailure ?? status;
    if (final.code !== grpc.status.OK) {
      this.end(statusError(final), undefined as Res);
    } else if (!this.received) {
      this.end(statusError({ code: grpc.status.UNIMPLEMENTED, details: 'No message received', metadata: status.metadata }), undefined as Res);
    } else {
      // grpc-js may hold on to its call, and so to this listener, after the status.
      const response = this.response as Res;
      this.response = undefined;
      this.end(null, response);
    }
  }
}
