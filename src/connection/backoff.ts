import { CancelledError } from './errors.js';

/** Exponential backoff with full jitter: a random delay in [0, min(max, initial × 2^(attempt-1))]. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.random() * ceiling;
}

/**
 * Sleeps `ms`, rejecting with {@link CancelledError} as soon as `signal` aborts, and resolving
 * early as soon as `wake` aborts (the client's close, so a retrying call notices it at once);
 * never leaves a timer or a listener behind.
 */
export function sleep(ms: number, signal: AbortSignal | undefined, source: string, wake?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new CancelledError('cancelled by the caller', { source, cause: signal.reason }));
  if (wake?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      wake?.removeEventListener('abort', onWake);
    };
    const onAbort = (): void => {
      done();
      reject(new CancelledError('cancelled by the caller', { source, cause: signal!.reason }));
    };
    const onWake = (): void => {
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    wake?.addEventListener('abort', onWake, { once: true });
  });
}
