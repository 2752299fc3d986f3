import { describe, expect, it } from 'vitest';
import type { WatchBatch, WatchEvent } from '../../src/watch/events.js';
import { BatchQueue } from '../../src/watch/batch-queue.js';
import { WatchIterator } from '../../src/watch/watch-iterator.js';

const event = (name: string): WatchEvent => ({ type: 'put', kv: { key: Buffer.from(name) } }) as unknown as WatchEvent;
const batch = (...names: string[]): WatchBatch => ({ header: {}, events: names.map(event), progress: names.length === 0 }) as unknown as WatchBatch;
const names = (results: IteratorResult<WatchEvent, undefined>[]): (string | undefined)[] =>
  results.map((result) => (result.done ? undefined : result.value.kv.key.toString()));

function setup(perEvent = true): { queue: BatchQueue<WatchBatch>; iterator: WatchIterator<WatchEvent>; cancels: () => number } {
  const queue = new BatchQueue<WatchBatch>(100);
  let cancels = 0;
  const cancel = (): Promise<void> => {
    cancels++;
    queue.end();
    return Promise.resolve();
  };
  return { queue, iterator: new WatchIterator<WatchEvent>(queue, { cancel }, perEvent), cancels: () => cancels };
}

describe('WatchIterator', () => {
  it('yields the events of each batch in order and skips progress notifications', async () => {
    const { queue, iterator } = setup();
    queue.push(batch('a', 'b'), 2);
    queue.push(batch(), 0);
    queue.push(batch('c'), 1);
    const results = [await iterator.next(), await iterator.next(), await iterator.next()];
    expect(names(results)).toEqual(['a', 'b', 'c']);
  });

  it('answers next() calls made before any batch arrived in the order they were made', async () => {
    const { queue, iterator } = setup();
    const pending = [iterator.next(), iterator.next(), iterator.next(), iterator.next()];
    queue.push(batch('a'), 1);
    queue.push(batch(), 0);
    queue.push(batch('b', 'c'), 2);
    queue.push(batch('d'), 1);
    expect(names(await Promise.all(pending))).toEqual(['a', 'b', 'c', 'd']);
    // Once they are answered, a new call reads at once again.
    queue.push(batch('e'), 1);
    expect(names([await iterator.next()])).toEqual(['e']);
  });

  it('a progress notification arriving while next() waits keeps it waiting for the next event', async () => {
    const { queue, iterator } = setup();
    const first = iterator.next();
    queue.push(batch(), 0);
    const second = iterator.next();
    queue.push(batch(), 0);
    queue.push(batch('a'), 1);
    queue.push(batch('b'), 1);
    expect(names(await Promise.all([first, second]))).toEqual(['a', 'b']);
  }, 2_000);

  it('cancels the watcher when the queue ends, then reports done for good', async () => {
    const { queue, iterator, cancels } = setup();
    queue.push(batch('a'), 1);
    queue.end();
    expect(names([await iterator.next(), await iterator.next(), await iterator.next()])).toEqual(['a', undefined, undefined]);
    expect(cancels()).toBe(1);
  });

  it('cancels the watcher before rethrowing the error that ended it', async () => {
    const { queue, iterator, cancels } = setup();
    const failure = new Error('compacted');
    queue.end(failure);
    await expect(iterator.next()).rejects.toBe(failure);
    expect(cancels()).toBe(1);
    expect((await iterator.next()).done).toBe(true);
  });

  it('return() cancels before the first next() and while a next() waits', async () => {
    const first = setup();
    await first.iterator.return();
    expect(first.cancels()).toBe(1);
    expect((await first.iterator.next()).done).toBe(true);

    const second = setup();
    const waiting = second.iterator.next();
    await second.iterator.return();
    expect((await waiting).done).toBe(true);
    expect(second.cancels()).toBeGreaterThanOrEqual(1);
  });

  it('yields whole batches, progress notifications included, when not per event', async () => {
    const { queue } = setup(false);
    const iterator = new WatchIterator<WatchBatch>(queue, { cancel: () => Promise.resolve() }, false);
    queue.push(batch('a', 'b'), 2);
    queue.push(batch(), 0);
    const first = await iterator.next();
    const second = await iterator.next();
    expect(first.done === false && first.value.events.length).toBe(2);
    expect(second.done === false && second.value.progress).toBe(true);
  });
});
