import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimerQueue } from '../../src/lease/timer-queue.js';

interface Item {
  name: string;
  dueAt: number;
}

const item = (name: string): Item => ({ name, dueAt: Number.NaN });

describe('TimerQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires items in time order, each at its latest time, with one timer', () => {
    const fired: string[] = [];
    const queue = new TimerQueue<Item>((it) => fired.push(it.name));
    const t0 = performance.now();
    const [a, b, c] = [item('a'), item('b'), item('c')];
    queue.schedule(c, t0 + 30);
    queue.schedule(a, t0 + 10);
    queue.schedule(b, t0 + 20);
    queue.schedule(a, t0 + 25); // rescheduled: the slot at +10 is stale
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(15);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(fired).toEqual(['b', 'a', 'c']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cancel and Infinity unschedule; clear drops everything', () => {
    const fired: string[] = [];
    const queue = new TimerQueue<Item>((it) => fired.push(it.name));
    const t0 = performance.now();
    const [a, b, c] = [item('a'), item('b'), item('c')];
    queue.schedule(a, t0 + 10);
    queue.schedule(b, t0 + 20);
    queue.schedule(c, t0 + 30);
    queue.cancel(a);
    queue.schedule(b, Infinity);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['c']);
    queue.schedule(a, performance.now() + 10);
    queue.clear();
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['c']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an item rescheduled at or before now by its own callback waits for the next timer turn', () => {
    let calls = 0;
    const queue: TimerQueue<Item> = new TimerQueue<Item>((it, now) => {
      calls++;
      if (calls < 3) queue.schedule(it, now);
    });
    queue.schedule(item('a'), performance.now() + 5);
    vi.advanceTimersByTime(5);
    expect(calls).toBe(1);
    vi.advanceTimersByTime(1);
    vi.advanceTimersByTime(1);
    expect(calls).toBe(3);
  });

  it('an item due beyond what a timer can wait re-arms at the cap instead of firing at once', () => {
    let calls = 0;
    const queue = new TimerQueue<Item>(() => calls++);
    queue.schedule(item('far'), performance.now() + 1e12);
    vi.advanceTimersByTime(1_000);
    expect(calls).toBe(0);
    vi.advanceTimersByTime(2 ** 31);
    expect(calls).toBe(0);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('orders many items like a sort', () => {
    const fired: number[] = [];
    const queue = new TimerQueue<Item & { at: number }>((it) => fired.push(it.at));
    const t0 = performance.now();
    const ats = Array.from({ length: 500 }, (_, i) => ((i * 7919) % 1000) + 1);
    for (const at of ats) queue.schedule({ name: String(at), dueAt: Number.NaN, at }, t0 + at);
    vi.advanceTimersByTime(1_001);
    expect(fired).toEqual([...ats].sort((x, y) => x - y));
  });
});
