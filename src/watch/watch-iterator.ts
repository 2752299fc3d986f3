import type { BatchQueue, QueueWaiter } from './batch-queue.js';
import type { WatchBatch, WatchEvent } from './events.js';

const NO_EVENTS: readonly WatchEvent[] = [];
const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

type Result<T> = IteratorResult<T, undefined>;

/**
 * Reads a watcher's queue for its one consumer, batch by batch or event by event. Written by
 * hand rather than as async generators, and waiting on the queue as its {@link QueueWaiter}
 * without closures of its own: a consumer waiting in `for await` costs one pending promise
 * here, where two stacked generators cost about 1.4 KB of heap (bench `watchers-10k`). It keeps
 * their behaviour: calls to `next()` are answered in the order they were made; the end of the
 * queue (done, or the error that ended the watcher) cancels the watcher before it is reported;
 * `return()` cancels the watcher at once, also before the first `next()` or while one waits for
 * events (fault test S2's endings).
 * @internal
 */
export class WatchIterator<T extends WatchBatch | WatchEvent> implements AsyncIterableIterator<T, undefined>, QueueWaiter<WatchBatch> {
  private events = NO_EVENTS;
  private index = 0;
  private finished = false;
  /** Settles the pending read of the queue, if any. */
  private resolve: ((result: Result<T> | Promise<Result<T>>) => void) | undefined;
  /** The pending read of the queue, if any. */
  private waiting: Promise<Result<T>> | undefined;
  /** What a new `next()` must be answered after; `undefined` when it may read at once. */
  private tail: Promise<Result<T>> | undefined;

  constructor(
    private readonly queue: BatchQueue<WatchBatch>,
    private readonly watcher: { cancel(): Promise<void> },
    private readonly perEvent: boolean,
  ) {}

  next(): Promise<Result<T>> {
    if (this.tail === undefined) return this.take();
    // Another next() still waits: this one is answered after it, as an async generator does.
    const take = (): Promise<Result<T>> => this.take();
    const after = this.tail.then(take, take);
    this.tail = after;
    const release = (): void => {
      if (this.tail === after) this.tail = undefined;
    };
    after.then(release, release);
    return after;
  }

  /** Cancels the watcher, then ends the iteration. */
  return(): Promise<IteratorReturnResult<undefined>> {
    return this.finish();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** @internal The queue has a batch, or ended. */
  deliver(result: Result<WatchBatch>): void {
    // Wake the pending read before accepting: for a progress notification, accept() starts
    // the next read, which must not be mistaken for this one.
    const resolve = this.stopWaiting();
    resolve?.(this.accept(result));
  }

  /** @internal The queue ended with `error`. */
  fail(error: Error): void {
    const resolve = this.stopWaiting();
    resolve?.(this.failed(error));
  }

  private take(): Promise<Result<T>> {
    if (this.index < this.events.length) return Promise.resolve({ value: this.events[this.index++] as T, done: false });
    if (this.finished) return Promise.resolve(DONE);
    let result: Result<WatchBatch> | undefined;
    try {
      result = this.queue.take(this);
    } catch (error) {
      return this.failed(error);
    }
    if (result !== undefined) return Promise.resolve(this.accept(result));
    const waiting = new Promise<Result<T>>((resolve) => {
      this.resolve = resolve;
    });
    this.waiting = waiting;
    this.tail ??= waiting;
    return waiting;
  }

  /** Ends the pending read; returns what settles it. */
  private stopWaiting(): ((result: Result<T> | Promise<Result<T>>) => void) | undefined {
    const resolve = this.resolve;
    if (this.tail === this.waiting) this.tail = undefined;
    this.resolve = undefined;
    this.waiting = undefined;
    return resolve;
  }

  private accept(result: Result<WatchBatch>): Result<T> | Promise<Result<T>> {
    if (result.done) return this.finish();
    if (!this.perEvent) return { value: result.value as T, done: false };
    const events = result.value.events;
    // A progress notification carries no event: wait for the next batch.
    if (events.length === 0) return this.take();
    this.events = events;
    this.index = 1;
    return { value: events[0] as T, done: false };
  }

  private async failed(error: unknown): Promise<never> {
    await this.finish();
    throw error;
  }

  private async finish(): Promise<IteratorReturnResult<undefined>> {
    this.finished = true;
    this.events = NO_EVENTS;
    await this.watcher.cancel();
    return DONE;
  }
}
