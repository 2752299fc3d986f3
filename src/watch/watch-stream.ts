import type { Connection } from '../connection/connection.js';
import type { WatchBatchEvent } from '../connection/hooks.js';
import { toEtcdError } from '../connection/error-mapping.js';
import {
  ClientClosedError,
  CompactedError,
  type EtcdError,
  GrpcStatus,
  InvalidAuthTokenError,
  NoLeaderError,
  ServerRejectedError,
  WatchCanceledError,
} from '../connection/errors.js';
import { ReconnectingStream } from '../connection/reconnecting-stream.js';
import { fastRpcMethod, serializer } from '../connection/rpc-method.js';
import { decodeWatchResponseMessage } from '../encoding/fast-codec.js';
import { longToBigInt, toLong } from '../encoding/int64.js';
import { WatchRequest, type WatchResponse, WatchService } from '../generated/etcdserverpb/rpc.js';
import type { Event as RawEvent } from '../generated/mvccpb/kv.js';
import { toHeader } from '../kv/key-value.js';
import { toWatchEvent, type WatchEvent } from './events.js';
import { slowConsumer, type WatcherHost, type WatcherState } from './watcher.js';

/** Responses, one per event batch, are read by the hand-written decoder (encoding/fast-codec.ts). */
const watchMethod = fastRpcMethod(WatchService.watch, serializer(WatchRequest), decodeWatchResponseMessage);
const SOURCE = 'Watch.Watch';
/** A cancel for an ID the server no longer knows gets no reply: never wait longer than this. */
const CANCEL_ACK_TIMEOUT_MS = 1_000;
/** etcd's watch ID for "not a watcher": failed creates and stream-wide progress replies. */
const INVALID_ID = -1;
/** What `remove` returns when there is nothing to wait for. */
const REMOVED: Promise<void> = Promise.resolve();

/** A cancel sent and not yet confirmed. */
interface CancelAck {
  resolve(): void;
  /** When to stop waiting (`performance.now()` time). */
  deadline: number;
}

/** Counters of one multiplexed stream. */
export interface WatchStreamStats {
  /** Streams opened (1 + reconnects). */
  opened: number;
  /** Progress replies to `watchProgress()` received. */
  progressReplies: number;
  /** Messages for watchers no longer known (after a cancel), ignored. */
  orphanMessages: number;
}

/**
 * Every watcher with the same stream metadata (require-leader or not) over one bidirectional
 * stream. Watch IDs are chosen by the client (etcd 3.4 honours them), so creates are pipelined
 * without a round trip each; a failed create carries no ID, and is matched to the oldest create
 * still waiting, since the server answers creates in order.
 * @internal
 */
export class WatchStream implements WatcherHost {
  private readonly watchers = new Map<number, WatcherState>();
  /** IDs whose create went out on the current stream and awaits its answer, oldest first. */
  private pendingCreates: number[] = [];
  /** Cancels awaiting the server's confirmation, by watch ID, in the order sent (so by deadline). */
  private readonly cancelAcks = new Map<number, CancelAck>();
  /** One timer for all of `cancelAcks`, armed for the oldest deadline, rather than one per cancel. */
  private cancelAckTimer: NodeJS.Timeout | undefined;
  private progressWaiters: Array<{ resolve: (revision: bigint) => void; reject: (error: EtcdError) => void }> = [];
  private stream: ReconnectingStream<WatchRequest, WatchResponse> | undefined;
  private nextId = 0;
  readonly stats: WatchStreamStats = { opened: 0, progressReplies: 0, orphanMessages: 0 };

  private readonly batchHook: ((event: WatchBatchEvent) => void) | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly requireLeader: boolean,
  ) {
    this.batchHook = connection.watchBatchHook;
  }

  /** Watchers on this stream. */
  get size(): number {
    return this.watchers.size;
  }

  /** A fresh watch ID; never reused on this stream. */
  allocateId(): number {
    return this.nextId++;
  }

  /** Adds a watcher and sends its create (now if the stream is open, else when it opens). */
  add(state: WatcherState): void {
    this.watchers.set(state.id, state);
    const stream = this.ensureStream();
    if (stream.isOpen) this.sendCreate(state, (request) => stream.send(request));
  }

  remove(state: WatcherState): Promise<void> {
    if (this.watchers.get(state.id) !== state) return REMOVED;
    this.watchers.delete(state.id);
    const stream = this.stream;
    if (stream === undefined) return REMOVED;
    if (this.watchers.size === 0) {
      // Cancelling the whole stream frees every server-side watcher of it at once.
      this.stream = undefined;
      stream.close();
      this.resolveCancelAcks();
      return REMOVED;
    }
    if (!state.sent) return REMOVED;
    // Not an async function, and one timer for every pending cancel: cancelling 10,000
    // watchers at once keeps 10,000 of these in flight, and their size made the client's peak.
    return new Promise<void>((resolve) => {
      this.cancelAcks.set(state.id, { resolve, deadline: performance.now() + CANCEL_ACK_TIMEOUT_MS });
      if (this.cancelAckTimer === undefined) this.armCancelAckTimer(CANCEL_ACK_TIMEOUT_MS);
      stream.send({ requestUnion: { $case: 'cancelRequest', cancelRequest: { watchId: toLong(state.id, 'watchId', SOURCE) } } });
    });
  }

  /**
   * Asks the server for the current revision. On etcd 3.4 the reply is sent at once and may
   * overtake events still queued for delivery, so it moves no watcher's resume revision.
   */
  requestProgress(): Promise<bigint> | undefined {
    const stream = this.stream;
    if (stream === undefined || !stream.isOpen) return undefined;
    return new Promise((resolve, reject) => {
      this.progressWaiters.push({ resolve, reject });
      stream.send({ requestUnion: { $case: 'progressRequest', progressRequest: {} } });
    });
  }

  /** Ends every watcher (with `ClientClosedError`) and the stream. */
  close(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
    this.failed(new ClientClosedError({ source: SOURCE }));
  }

  private ensureStream(): ReconnectingStream<WatchRequest, WatchResponse> {
    if (this.stream !== undefined) return this.stream;
    // A stream closed because its last watcher left may still report after a new one started:
    // only the current stream's callbacks count.
    const stream: ReconnectingStream<WatchRequest, WatchResponse> = new ReconnectingStream(
      this.connection,
      watchMethod,
      { source: SOURCE, requireLeader: this.requireLeader },
      {
        opened: (send) => this.stream === stream && this.opened(send),
        message: (response) => this.stream === stream && this.message(response),
        broken: (error) => this.stream === stream && this.broken(error),
        failed: (error) => this.stream === stream && this.failed(error),
      },
    );
    this.stream = stream;
    return stream;
  }

  private sendCreate(state: WatcherState, send: (request: WatchRequest) => void): void {
    state.sent = true;
    state.acknowledged = false;
    state.pendingFragments = undefined;
    this.pendingCreates.push(state.id);
    send({ requestUnion: { $case: 'createRequest', createRequest: state.createRequest() } });
  }

  private opened(send: (request: WatchRequest) => void): void {
    this.stats.opened++;
    this.pendingCreates = [];
    // Every watcher resumes at its cursor; those created before had delivered up to it.
    for (const state of this.watchers.values()) this.sendCreate(state, send);
  }

  private broken(error: EtcdError): void {
    for (const state of this.watchers.values()) {
      state.sent = false;
      state.acknowledged = false;
      state.pendingFragments = undefined;
    }
    this.pendingCreates = [];
    this.resolveCancelAcks();
    this.rejectProgressWaiters(error);
  }

  private failed(error: EtcdError): void {
    this.rejectProgressWaiters(error);
    this.resolveCancelAcks();
    for (const state of this.watchers.values()) state.end(error);
    this.watchers.clear();
    this.stream = undefined;
  }

  private message(response: WatchResponse): void {
    const id = response.watchId.toNumber();
    if (response.created) {
      this.createAnswered(id, response);
      return;
    }
    if (id === INVALID_ID) {
      this.stats.progressReplies++;
      const revision = response.header ? longToBigInt(response.header.revision) : 0n;
      this.progressWaiters.shift()?.resolve(revision);
      return;
    }
    const state = this.watchers.get(id);
    if (response.canceled) {
      this.cancelAcknowledged(id);
      if (state !== undefined) this.serverCancelled(state, response);
      return;
    }
    if (state === undefined) {
      this.stats.orphanMessages++;
      return;
    }
    this.events(state, response);
  }

  private createAnswered(id: number, response: WatchResponse): void {
    const pendingId = this.pendingCreates.shift();
    const state = this.watchers.get(id === INVALID_ID ? (pendingId ?? INVALID_ID) : id);
    if (state === undefined) return;
    if (response.canceled) {
      this.serverCancelled(state, response);
      return;
    }
    state.acknowledge(response.header ? longToBigInt(response.header.revision) : 0n);
  }

  private serverCancelled(state: WatcherState, response: WatchResponse): void {
    const compactRevision = longToBigInt(response.compactRevision);
    if (compactRevision > 0n) {
      this.endWatcher(
        state,
        new CompactedError(
          `the watcher's resume revision ${state.cursor ?? 0n} has been compacted (compact revision ${compactRevision})`,
          compactRevision,
          { source: SOURCE, endpoint: this.stream?.endpoint },
        ),
      );
      return;
    }
    const reason = response.cancelReason;
    const mapped = toEtcdError({ code: GrpcStatus.UNKNOWN, details: reason }, { source: SOURCE, mutation: false });
    if (mapped instanceof InvalidAuthTokenError || mapped instanceof NoLeaderError) {
      // Not this watcher's fault: repair the stream (token refresh, failover) and re-create all.
      const code = mapped instanceof NoLeaderError ? GrpcStatus.UNAVAILABLE : GrpcStatus.UNAUTHENTICATED;
      this.stream?.fail({ code, details: reason });
      return;
    }
    // A reason etcdkit knows (permission denied, ...) keeps its class; any other is a WatchCanceledError.
    const error =
      mapped instanceof ServerRejectedError
        ? new WatchCanceledError(reason === '' ? 'the server cancelled the watcher' : reason, {
            source: SOURCE,
            serverMessage: reason,
            endpoint: this.stream?.endpoint,
          })
        : mapped;
    this.endWatcher(state, error);
  }

  private endWatcher(state: WatcherState, error: EtcdError): void {
    state.end(error);
    void this.remove(state);
  }

  private events(state: WatcherState, response: WatchResponse): void {
    if (response.fragment) {
      (state.pendingFragments ??= []).push(...response.events);
      return;
    }
    let raw: RawEvent[] = response.events;
    if (state.pendingFragments !== undefined) {
      raw = state.pendingFragments.concat(raw);
      state.pendingFragments = undefined;
    }
    const header = toHeader(response.header);
    if (raw.length === 0) {
      // A progress notification: every change up to header.revision has been delivered.
      // At the cursor it is a heartbeat ("still current at header.revision") and is shown;
      // below it (possible on 3.4) it would move the cursor back, so it is dropped.
      const next = header.revision + 1n;
      if (state.cursor !== undefined && next < state.cursor) {
        state.stats.staleProgressIgnored++;
        return;
      }
      state.cursor = next;
      this.deliver(state, { header, events: [], progress: true });
      return;
    }
    const cursor = state.cursor ?? 0n;
    const events: WatchEvent[] = [];
    let last = cursor - 1n;
    for (const event of raw) {
      const revision = longToBigInt(event.kv!.modRevision);
      // The cursor rule: anything below it was delivered before a reconnect (or precedes the
      // requested start); a 3.4 server can send such events again.
      if (revision < cursor) {
        state.stats.staleEventsDropped++;
        continue;
      }
      events.push(toWatchEvent(event, state.strip));
      if (revision > last) last = revision;
    }
    if (events.length === 0) return;
    state.cursor = last + 1n;
    this.deliver(state, { header, events, progress: false });
  }

  private deliver(state: WatcherState, batch: Parameters<WatcherState['deliver']>[0]): void {
    if (!state.deliver(batch)) {
      this.endWatcher(state, slowConsumer(state.queue.buffered));
      return;
    }
    const hook = this.batchHook;
    if (hook !== undefined) {
      const revision = batch.events.at(-1)?.kv.modRevision ?? batch.header.revision;
      hook({
        endpoint: this.stream?.endpoint,
        watchId: state.id,
        events: batch.events.length,
        revision,
        lagRevisions: batch.header.revision - revision,
        bufferedEvents: state.queue.buffered,
      });
    }
  }

  private cancelAcknowledged(id: number): void {
    const ack = this.cancelAcks.get(id);
    if (ack === undefined) return;
    this.cancelAcks.delete(id);
    ack.resolve();
  }

  private armCancelAckTimer(delayMs: number): void {
    this.cancelAckTimer = setTimeout(() => this.expireCancelAcks(), delayMs);
    this.cancelAckTimer.unref();
  }

  /** Stops waiting for the cancels past their deadline, and re-arms the timer for the next one. */
  private expireCancelAcks(): void {
    this.cancelAckTimer = undefined;
    const now = performance.now();
    for (const [id, ack] of this.cancelAcks) {
      if (ack.deadline > now) {
        this.armCancelAckTimer(ack.deadline - now);
        return;
      }
      this.cancelAcks.delete(id);
      ack.resolve();
    }
  }

  private resolveCancelAcks(): void {
    const acks = [...this.cancelAcks.values()];
    this.cancelAcks.clear();
    clearTimeout(this.cancelAckTimer);
    this.cancelAckTimer = undefined;
    for (const ack of acks) ack.resolve();
  }

  private rejectProgressWaiters(error: EtcdError): void {
    const waiters = this.progressWaiters;
    this.progressWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}
