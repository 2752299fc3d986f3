/** Resolves after `ms` milliseconds. @internal */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @internal */
export interface PollOptions {
  /** Total time allowed, from the first probe. */
  timeoutMs: number;
  /** Pause between probes. @defaultValue 50 */
  intervalMs?: number;
  /** Names what is awaited, for the timeout message ("m1 to become healthy"). */
  what: string;
  /** Extra detail appended to the timeout message, such as the tail of a log. */
  detail?: () => Promise<string>;
}

/**
 * Calls `probe` until it returns something other than `undefined`, and returns that. A probe
 * that throws ends the poll with its error, so a probe must catch what it wants to retry.
 *
 * @throws Error naming `what` when `timeoutMs` passes first.
 * @internal
 */
export async function pollUntil<T>(
  probe: (remainingMs: number) => Promise<T | undefined>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 50;
  for (;;) {
    const result = await probe(Math.max(1, deadline - Date.now()));
    if (result !== undefined) return result;
    if (Date.now() + intervalMs > deadline) break;
    await sleep(intervalMs);
  }
  const detail = options.detail ? await options.detail() : '';
  throw new Error(
    `timed out after ${options.timeoutMs} ms waiting for ${options.what}${detail ? `\n${detail}` : ''}`,
  );
}
