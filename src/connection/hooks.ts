import { EtcdError, InternalError } from './errors.js';

/** What {@link EtcdHooks.onCallStart} receives. */
export interface CallStartEvent {
  /** Identifies the call; its {@link CallEndEvent} carries the same value. */
  readonly callId: number;
  /** The operation, such as `KV.Range` or `Maintenance.Status`. */
  readonly method: string;
  /** The gRPC method path, such as `/etcdserverpb.KV/Range`. */
  readonly path: string;
  /** The member the caller directed the call to (`maintenance.status(endpoint)`), if any. */
  readonly endpoint: string | undefined;
}

/** What {@link EtcdHooks.onCallEnd} receives; discriminated on `outcome`. */
export type CallEndEvent = CallStartEvent & {
  /** The endpoint of the last attempt; `undefined` when the call failed before any attempt. */
  readonly endpoint: string | undefined;
  /** From the start of the call to its end, retries included. */
  readonly durationMs: number;
  /** Attempts made (retries after transient failures add to it). */
  readonly attempts: number;
} & ({ readonly outcome: 'ok'; readonly error: undefined } | { readonly outcome: 'error'; readonly error: EtcdError });

/** What {@link EtcdHooks.onStreamReconnect} receives. */
export interface StreamReconnectEvent {
  /** The stream, such as `Watch.Watch` or `Lease.LeaseKeepAlive`. */
  readonly method: string;
  /** The endpoint of the stream that broke, if it was open. */
  readonly endpoint: string | undefined;
  /** Consecutive failed streams so far, this one included. */
  readonly attempt: number;
  /** Why the stream broke. */
  readonly error: EtcdError;
}

/** What {@link EtcdHooks.onWatchBatch} receives: one batch handed to a watcher, and how far behind it is. */
export interface WatchBatchEvent {
  /** The endpoint of the watch stream. */
  readonly endpoint: string | undefined;
  /** The watcher's ID on its stream. */
  readonly watchId: number;
  /** Events in the batch (0 for a progress notification). */
  readonly events: number;
  /** The revision of the batch's last event (or of the progress notification). */
  readonly revision: bigint;
  /**
   * Revisions the server had already reached when it sent the batch beyond its last event:
   * how far behind the store the watcher is, high while it catches up after a reconnect.
   */
  readonly lagRevisions: bigint;
  /** Events left waiting for the watcher's consumer once this batch was handed over (0 when it was already waiting): the consumer's lag. */
  readonly bufferedEvents: number;
}

/**
 * Observability hooks, called synchronously from the client's call path. Keep them cheap; an
 * exception thrown by a hook is reported as a process warning and otherwise ignored.
 *
 * @remarks
 * Unary calls (including those of watch, lease and admin APIs) report start and end, once per
 * call whatever the number of retries. The client's own health probes are not reported.
 * `createOpenTelemetryHooks` turns these into OpenTelemetry spans.
 */
export interface EtcdHooks {
  /** A unary call starts. */
  onCallStart?: (event: CallStartEvent) => void;
  /** A unary call ended, successfully or not. */
  onCallEnd?: (event: CallEndEvent) => void;
  /** A stream (watch, keep-alive) broke and is about to be reopened. */
  onStreamReconnect?: (event: StreamReconnectEvent) => void;
  /** A watcher received a batch (watch lag: behind the server, and behind its consumer). */
  onWatchBatch?: (event: WatchBatchEvent) => void;
}

/** What the unary path records about its attempts, for {@link CallEndEvent}. @internal */
export interface AttemptTrace {
  endpoint: string | undefined;
  attempts: number;
}

let lastCallId = 0;

/** Calls a hook; an exception inside it never reaches the call. @internal */
export function invokeHook<E>(hook: ((event: E) => void) | undefined, event: E): void {
  if (hook === undefined) return;
  try {
    hook(event);
  } catch (error) {
    process.emitWarning(`an etcdkit hook threw: ${error instanceof Error ? error.message : String(error)}`, 'EtcdHookWarning');
  }
}

/** The hooks to keep, or `undefined` when none is set (so the call path can skip them at no cost). @internal */
export function activeHooks(hooks: EtcdHooks | undefined): EtcdHooks | undefined {
  if (hooks === undefined || hooks === null) return undefined;
  const { onCallStart, onCallEnd, onStreamReconnect, onWatchBatch } = hooks;
  return onCallStart || onCallEnd || onStreamReconnect || onWatchBatch ? hooks : undefined;
}

/**
 * Runs one unary call between its start and end hooks. `run` fills the trace with the endpoint
 * and the number of its attempts.
 * @internal
 */
export async function observeCall<T>(
  hooks: EtcdHooks,
  method: string,
  path: string,
  endpoint: string | undefined,
  run: (trace: AttemptTrace) => Promise<T>,
): Promise<T> {
  const callId = ++lastCallId;
  const startedAt = performance.now();
  const trace: AttemptTrace = { endpoint, attempts: 0 };
  invokeHook(hooks.onCallStart, { callId, method, path, endpoint });
  const ended = { callId, method, path } as const;
  try {
    const result = await run(trace);
    invokeHook(hooks.onCallEnd, {
      ...ended,
      endpoint: trace.endpoint,
      durationMs: performance.now() - startedAt,
      attempts: trace.attempts,
      outcome: 'ok',
      error: undefined,
    });
    return result;
  } catch (raw) {
    invokeHook(hooks.onCallEnd, {
      ...ended,
      endpoint: trace.endpoint,
      durationMs: performance.now() - startedAt,
      attempts: trace.attempts,
      outcome: 'error',
      error: raw instanceof EtcdError ? raw : new InternalError(String(raw), { source: method, cause: raw }),
    });
    throw raw;
  }
}
