import { InvalidArgumentError } from './errors.js';

/** Options every call accepts as its last argument. */
export interface CallOptions {
  /** Aborts the call; it then rejects with `CancelledError` whose `cause` is the signal's reason. */
  signal?: AbortSignal;
  /**
   * Deadline for the whole call, retries included, in milliseconds.
   * @defaultValue the client's `timeoutMs` (30 000)
   */
  timeoutMs?: number;
}

/** The longest duration a timer can wait (about 24.8 days); Node fires a longer one at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Checks a duration option: a positive number of milliseconds a timer can wait. */
export function checkDurationMs(value: unknown, argument: string, source: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_DURATION_MS) {
    throw new InvalidArgumentError(
      argument,
      `expected a positive number of milliseconds up to ${MAX_DURATION_MS} (about 24.8 days), got ${String(value)}`,
      { source },
    );
  }
  return value;
}

/** Checks the shape of a {@link CallOptions} bag before a call starts. */
export function checkCallOptions(options: CallOptions | undefined, source: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'expected an object', { source });
  }
  if (options.timeoutMs !== undefined) checkDurationMs(options.timeoutMs, 'options.timeoutMs', source);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('options.signal', 'expected an AbortSignal', { source });
  }
}
