import { setMaxListeners } from 'node:events';
import { MAX_DURATION_MS } from './call-options.js';
import { CancelledError } from './errors.js';

/**
 * An AbortController whose signal any number of sleeping calls may listen to at once (Node
 * warns of a leak past 10 listeners, and an outage can hold hundreds of calls in a retry).
 */
export function sharedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, initial × 2^(attempt-1))]. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.random() * ceiling;
}

/**
 * Sleeps `ms` (`Infinity`: until woken), rejecting with {@link CancelledError} as soon as
 * `signal` aborts, and resolving early as soon as any of `wakes` aborts (the client's close,
 * so a retrying call notices it at once; a channel that can take calls again); never leaves a
 * timer or a listener behind.
 */
export function sleep(
  ms: number,
  signal: AbortSignal | undefined,
  source: string,
  ...wakes: AbortSignal[]
): Promise<void> {
  if (signal?.aborted) return Promise.reject(new CancelledError('cancelled by the caller', { source, cause: signal.reason }));
  if (wakes.some((wake) => wake.aborted)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      for (const wake of wakes) wake.removeEventListener('abort', onWake);
      return true;
    };
    const onAbort = (): void => {
      if (done()) reject(new CancelledError('cancelled by the caller', { source, cause: signal!.reason }));
    };
    const onWake = (): void => {
      if (done()) resolve();
    };
    // A sleep past the timer's range wakes early at its end; the caller checks its deadline.
    const timer = Number.isFinite(ms) ? setTimeout(onWake, Math.min(ms, MAX_DURATION_MS)) : undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    for (const wake of wakes) wake.addEventListener('abort', onWake, { once: true });
  });
}
