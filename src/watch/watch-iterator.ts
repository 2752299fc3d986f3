import type { BatchQueue } from './batch-queue.js';
import type { WatchBatch, WatchEvent } from './events.js';

const NO_EVENTS: readonly WatchEvent[] = [];
const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * Reads a watcher's queue for its one consumer, batch by batch or event by event. Written by
 * hand rather than as async generators: a consumer waiting in `for await` holds one pending
 * promise, where two stacked generators held about 1.6 KB of heap (bench `watchers-10k`). It
 * keeps their behaviour: calls to `next()` are answered in the order they were made; the end
 * of the queue (done, or the error that ended the watcher) cancels the watcher before it is
 * reported; `return()` cancels the watcher at once, also before the first `next()` or while
 * one waits for events (fault test S2's endings).
 * @internal
 */
export class WatchIterator<T extends WatchBatch | WatchEvent> implements AsyncIterableIterator<T, undefined> {
  private events = NO_EVENTS;
  private index = 0;
  private finished = false;
  /** The pending read of the queue, if any. */
  private waiting: Promise<IteratorResult<T, undefined>> | undefined;
  /** What a new `next()` must be answered after; `undefined` when it may read at once. */
  private tail: Promise<IteratorResult<T, undefined>> | undefined;

  constructor(
    private readonly queue: BatchQueue<WatchBatch>,
    private readonly cancel: () => Promise<void>,
    private readonly perEvent: boolean,
  ) {}

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.tail === undefined) return this.take();
    // Another next() still waits: this one is answered after it, as an async generator does.
    const after = this.tail.then(this.takeNext, this.takeNext);
    this.tail = after;
    const release = (): void => {
      if (this.tail === after) this.tail = undefined;
    };
    after.then(release, release);
    return after;
  }

  /** Cancels the watcher, then ends the iteration. */
  async return(): Promise<IteratorReturnResult<undefined>> {
    this.finished = true;
    this.events = NO_EVENTS;
    await this.cancel();
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private readonly takeNext = (): Promise<IteratorResult<T, undefined>> => this.take();

  private take(): Promise<IteratorResult<T, undefined>> {
    if (this.index < this.events.length) return Promise.resolve({ value: this.events[this.index++] as T, done: false });
    if (this.finished) return Promise.resolve(DONE);
    const waiting = this.queue.next().then(this.received, this.failed);
    this.waiting = waiting;
    this.tail ??= waiting;
    return waiting;
  }

  private stopWaiting(): void {
    if (this.tail === this.waiting) this.tail = undefined;
    this.waiting = undefined;
  }

  private readonly received = (
    result: IteratorResult<WatchBatch, undefined>,
  ): IteratorResult<T, undefined> | Promise<IteratorResult<T, undefined>> => {
    this.stopWaiting();
    if (result.done) return this.finish();
    if (!this.perEvent) return { value: result.value as T, done: false };
    const events = result.value.events;
    // A progress notification carries no event: wait for the next batch.
    if (events.length === 0) return this.take();
    this.events = events;
    this.index = 1;
    return { value: events[0] as T, done: false };
  };

  private readonly failed = async (error: unknown): Promise<never> => {
    this.stopWaiting();
    await this.finish();
    throw error;
  };

  private async finish(): Promise<IteratorReturnResult<undefined>> {
    this.finished = true;
    this.events = NO_EVENTS;
    await this.cancel();
    return DONE;
  }
}
