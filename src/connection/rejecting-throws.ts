/** `thrown` as an Error: itself when it is one, otherwise an Error with its text. */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

/**
 * Runs `start` and returns its promise, or a rejected one when it throws: a method that is not
 * `async` (so that a reply settles the caller's promise directly, without another promise in
 * between) still reports bad input as a rejection, as an `async` one would.
 */
export function rejectingThrows<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(asError(error));
  }
}
