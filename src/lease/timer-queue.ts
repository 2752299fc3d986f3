import { MAX_DURATION_MS } from '../connection/call-options.js';

/** Something a {@link TimerQueue} can schedule: it remembers the one time it is due at. */
export interface Schedulable {
  /** When the item is due (`performance.now()` milliseconds); `NaN` when not scheduled. @internal */
  dueAt: number;
}

/**
 * One timer for any number of items: a binary min-heap of due times under a single
 * `setTimeout` armed for the earliest. Rescheduling an item pushes a new heap slot and leaves
 * the old one stale (recognised because its time is no longer the item's `dueAt`), so each
 * change is O(log n) and nothing is searched. Stale slots are dropped when they reach the top,
 * before the timer is armed, so they never cause a wake-up.
 * @internal
 */
export class TimerQueue<T extends Schedulable> {
  private readonly times: number[] = [];
  private readonly items: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;

  /** `due` is called for each item whose time has come, in time order, with the current time. */
  constructor(private readonly due: (item: T, now: number) => void) {}

  /** Schedules `item` at `at` (replacing its previous time); `Infinity` or `NaN` unschedules it. */
  schedule(item: T, at: number): void {
    if (at === item.dueAt) return;
    if (!Number.isFinite(at)) {
      item.dueAt = Number.NaN;
      return;
    }
    item.dueAt = at;
    this.push(at, item);
    if (at < this.armedAt) this.arm();
  }

  /** Unschedules `item`. */
  cancel(item: T): void {
    item.dueAt = Number.NaN;
  }

  /** Drops every item and the timer. */
  clear(): void {
    for (const item of this.items) item.dueAt = Number.NaN;
    this.times.length = 0;
    this.items.length = 0;
    this.disarm();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = performance.now();
    // Take every due slot first: what `due` reschedules waits for the next timer, so a callback
    // that schedules its item at or before `now` cannot loop here.
    const dueItems: T[] = [];
    const dueTimes: number[] = [];
    while (this.times.length > 0 && this.times[0]! <= now) {
      dueTimes.push(this.times[0]!);
      dueItems.push(this.pop());
    }
    for (let i = 0; i < dueItems.length; i++) {
      const item = dueItems[i]!;
      if (item.dueAt !== dueTimes[i]) continue;
      item.dueAt = Number.NaN;
      this.due(item, now);
    }
    this.arm();
  };

  private arm(): void {
    // Stale slots at the top would only cause empty wake-ups.
    while (this.times.length > 0 && this.items[0]!.dueAt !== this.times[0]) this.pop();
    const next = this.times[0];
    if (next === undefined) {
      this.disarm();
      return;
    }
    if (next >= this.armedAt && this.timer !== undefined) return;
    this.disarm();
    this.armedAt = next;
    // Capped: a longer delay would fire at once (a lease with a TTL of years), and a turn that
    // finds nothing due only re-arms.
    this.timer = setTimeout(this.fire, Math.min(MAX_DURATION_MS, Math.max(0, Math.ceil(next - performance.now()))));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private push(at: number, item: T): void {
    const { times, items } = this;
    let i = times.length;
    times.push(at);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= at) break;
      times[i] = times[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    times[i] = at;
    items[i] = item;
  }

  private pop(): T {
    const { times, items } = this;
    const top = items[0]!;
    const lastTime = times.pop()!;
    const lastItem = items.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && times[right]! < times[left]! ? right : left;
        if (times[child]! >= lastTime) break;
        times[i] = times[child]!;
        items[i] = items[child]!;
        i = child;
      }
      times[i] = lastTime;
      items[i] = lastItem;
    }
    return top;
  }
}
