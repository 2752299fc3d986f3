import * as grpc from '@grpc/grpc-js';
import { sharedAbortController } from './backoff.js';
import type { EndpointHealth } from './endpoint-info.js';
import type { EtcdError } from './errors.js';

/** The connectivity of one endpoint's channel, as reported by grpc-js. */
export type ChannelState = 'idle' | 'connecting' | 'ready' | 'transient-failure' | 'shutdown';

const stateNames: Record<grpc.connectivityState, ChannelState> = {
  [grpc.connectivityState.IDLE]: 'idle',
  [grpc.connectivityState.CONNECTING]: 'connecting',
  [grpc.connectivityState.READY]: 'ready',
  [grpc.connectivityState.TRANSIENT_FAILURE]: 'transient-failure',
  [grpc.connectivityState.SHUTDOWN]: 'shutdown',
};

/** One endpoint: its grpc-js client (and so its own HTTP/2 channel) and its failure record. */
export class EndpointChannel {
  /** The grpc-js client used for every call to this endpoint. */
  readonly client: grpc.Client;
  /** The client's channel, on which unary calls are made directly (see `UnaryAttempt`). */
  readonly grpcChannel: grpc.ChannelInterface;
  /** Consecutive failures that made this endpoint unusable; reset by a success. */
  failures = 0;
  /** Until when (epoch ms) the endpoint is avoided after a failure. */
  avoidUntil = 0;
  /** The last failure that counted against the endpoint. */
  lastError: EtcdError | undefined;
  /** Unary calls currently outstanding on this endpoint. */
  inFlight = 0;
  /** Streams currently open on this endpoint. */
  streams = 0;
  /** What the last health probe found. */
  health: EndpointHealth = { status: 'unknown' };
  /** Shared by everyone waiting for the channel to leave TRANSIENT_FAILURE: one grpc-js watcher. */
  private leaving: AbortController | undefined;

  constructor(
    readonly address: string,
    credentials: grpc.ChannelCredentials,
    channelOptions: grpc.ChannelOptions,
  ) {
    this.client = new grpc.Client(address, credentials, channelOptions);
    this.grpcChannel = this.client.getChannel();
  }

  /** The channel's connectivity; does not start a connection. */
  state(): ChannelState {
    return stateNames[this.grpcChannel.getConnectivityState(false)];
  }

  /**
   * Aborts when the channel leaves TRANSIENT_FAILURE (a connection succeeded, or the channel
   * went idle or was closed); `undefined` when it is not in that state. grpc-js keeps
   * reconnecting in the background meanwhile, and a call made before then fails at once
   * without reaching the network.
   */
  leftTransientFailure(): AbortSignal | undefined {
    if (this.state() !== 'transient-failure') return undefined;
    if (this.leaving === undefined) {
      const leaving = sharedAbortController();
      const left = (): void => {
        if (this.leaving === leaving) this.leaving = undefined;
        leaving.abort();
      };
      this.leaving = leaving;
      try {
        this.grpcChannel.watchConnectivityState(grpc.connectivityState.TRANSIENT_FAILURE, Infinity, left);
      } catch {
        left(); // shut down meanwhile
      }
    }
    return this.leaving?.signal;
  }

  /** Whether the endpoint should be skipped when another one is usable. */
  isAvoided(now: number): boolean {
    return this.avoidUntil > now || this.state() === 'transient-failure';
  }

  /** Closes the channel; calls still running on it are not cancelled by this. */
  close(): void {
    this.client.close();
  }
}
