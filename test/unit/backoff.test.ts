import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sleep } from '../../src/connection/backoff.js';
import { CancelledError } from '../../src/connection/errors.js';

describe('sleep', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves when any wake signal aborts, and leaves no timer behind', async () => {
    const first = new AbortController();
    const second = new AbortController();
    let woken = false;
    const slept = sleep(10_000, undefined, 'test', first.signal, second.signal).then(() => (woken = true));
    expect(vi.getTimerCount()).toBe(1);
    second.abort();
    await slept;
    expect(woken).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    first.abort(); // a later abort of another wake signal is harmless
  });

  it('sleeps without a timer for Infinity, until woken', async () => {
    const wake = new AbortController();
    let woken = false;
    const slept = sleep(Infinity, undefined, 'test', wake.signal).then(() => (woken = true));
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(woken).toBe(false);
    wake.abort();
    await slept;
    expect(woken).toBe(true);
  });

  it('caps a delay past the timer range instead of firing at once', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    let woken = false;
    void sleep(1e12, undefined, 'test').then(() => (woken = true));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woken).toBe(false);
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(woken).toBe(true);
    process.off('warning', onWarning);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  it('rejects with CancelledError when the caller aborts, and is a no-op when already woken', async () => {
    const caller = new AbortController();
    const slept = sleep(10_000, caller.signal, 'test');
    caller.abort('stop');
    await expect(slept).rejects.toBeInstanceOf(CancelledError);
    const wake = new AbortController();
    wake.abort();
    await expect(sleep(10_000, undefined, 'test', wake.signal)).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });
});
