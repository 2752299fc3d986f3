import { describe, expect, it } from 'vitest';
import { LazyOutcome } from '../../src/watch/lazy-outcome.js';

describe('LazyOutcome', () => {
  it('settles a promise made before the outcome, and one made after it', async () => {
    const early = new LazyOutcome<number>();
    const promise = early.promise;
    expect(early.promise).toBe(promise);
    early.resolve(1);
    early.resolve(2); // the first settlement wins
    await expect(promise).resolves.toBe(1);

    const late = new LazyOutcome<number>();
    late.resolve(3);
    expect(late.settled).toBe(true);
    await expect(late.promise).resolves.toBe(3);
  });

  it('rejects whoever awaits it, and reports nothing unhandled when nobody does', async () => {
    const failure = new Error('compacted');
    const awaited = new LazyOutcome<void>();
    const promise = awaited.promise;
    awaited.reject(failure);
    await expect(promise).rejects.toBe(failure);

    // Made and rejected without a handler of the caller's: the hygiene setup fails the test on
    // an unhandled rejection.
    const ignored = new LazyOutcome<void>();
    void ignored.promise;
    ignored.reject(failure);
    const afterwards = new LazyOutcome<void>();
    afterwards.reject(failure);
    void afterwards.promise;
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(afterwards.promise).rejects.toBe(failure);
  });
});
