import { CancelledError } from './errors.js';

/** Exponential backoff with full jitter: a random delay in [0, min(max, initial × 2^(attempt-1))]. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.random() * ceiling;
}

/** Sleeps `ms`, rejecting with {@link CancelledError} as soon as `signal` aborts; never leaves a timer behind. */
export function sleep(ms: number, signal: AbortSignal | undefined, source: string): Promise<void> {
  if (signal?.aborted) return Promise.reject(new CancelledError('cancelled by the caller', { source, cause: signal.reason }));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancelledError('cancelled by the caller', { source, cause: signal!.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
