/** `thrown` as an Error: itself when it is one, otherwise an Error with its text. */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

/**
 * `thrown` as a rejected promise. A method that is not `async` (so that a reply settles the
 * caller's promise directly, without another promise in between) catches what its body throws
 * and returns this, so bad input is still a rejection, as from an `async` method: a `try` in
 * the method rather than a callback, which would cost a closure on every call.
 */
export function rejection(thrown: unknown): Promise<never> {
  return Promise.reject(asError(thrown));
}
