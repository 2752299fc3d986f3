/** A consumer waiting for a queue: told once, when the next item (or the end) is there. @internal */
export interface QueueWaiter<T> {
  deliver(result: IteratorResult<T, undefined>): void;
  fail(error: Error): void;
}

/**
 * A queue between one producer (the shared watch stream) and one consumer (a `for await`
 * loop). It holds whole batches, counts their weight (events), and refuses a batch that would
 * push the weight over the limit while something is already waiting, so a slow consumer is
 * detected instead of growing memory without bound. A single batch is always accepted.
 * @internal
 */
export class BatchQueue<T> {
  private readonly items: Array<{ item: T; weight: number }> = [];
  private head = 0;
  private weight = 0;
  private waiter: QueueWaiter<T> | undefined;
  private ended = false;
  private failure: Error | undefined;

  constructor(private readonly maxWeight: number) {}

  /** Total weight buffered and not yet taken. */
  get buffered(): number {
    return this.weight;
  }

  /** Whether the queue was ended (items may still be waiting to be taken). */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Adds a batch; returns false, adding nothing, when it would overflow the limit. */
  push(item: T, weight: number): boolean {
    if (this.ended) return true;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.deliver({ value: item, done: false });
      return true;
    }
    if (this.items.length > this.head && this.weight + weight > this.maxWeight) return false;
    this.items.push({ item, weight });
    this.weight += weight;
    return true;
  }

  /** Ends the queue: what is buffered is still delivered, then `done` (or `error`, thrown). */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.waiter && this.items.length === this.head) {
      const waiter = this.waiter;
      this.waiter = undefined;
      if (error === undefined) waiter.deliver({ value: undefined, done: true });
      else waiter.fail(error);
    }
  }

  /** Ends the queue at once, dropping what is buffered. */
  discard(error?: Error): void {
    this.items.length = 0;
    this.head = 0;
    this.weight = 0;
    this.end(error);
  }

  /** The next batch; waits for one while the queue is open. */
  next(): Promise<IteratorResult<T, undefined>> {
    // An error thrown by take() rejects the promise.
    return new Promise((resolve, reject) => {
      const result = this.take({ deliver: resolve, fail: reject });
      if (result !== undefined) resolve(result);
    });
  }

  /**
   * The next batch now, or `done`; `undefined` when there is none yet, and then `waiter` is
   * told once when there is (the one waiter replaces any earlier one). Throws the error the
   * queue was ended with, once what was buffered has been taken.
   */
  take(waiter: QueueWaiter<T>): IteratorResult<T, undefined> | undefined {
    if (this.head < this.items.length) {
      const entry = this.items[this.head]!;
      this.items[this.head] = undefined as never;
      this.head++;
      this.weight -= entry.weight;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
      return { value: entry.item, done: false };
    }
    if (this.ended) {
      if (this.failure !== undefined) throw this.failure;
      return { value: undefined, done: true };
    }
    this.waiter = waiter;
    return undefined;
  }
}
