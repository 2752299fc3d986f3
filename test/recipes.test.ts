import { describe, expect, it } from 'vitest';
import { Barrier, CancelledError, DeadlineExceededError, DoubleBarrier, InvalidArgumentError, Queue, ReadWriteLock } from 'etcdkit';
import { interruptQueued, keysUnder, stateAfter, waitForKeys } from './helpers/coordination.js';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

const etcd = useEtcd();

describe('ReadWriteLock', () => {
  it('readers share; a writer waits for them; a reader after a waiting writer waits for it', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}rw`;
    const rw = new ReadWriteLock(client, name, { ttl: 10 });
    const [r1, r2] = await Promise.all([rw.read(), rw.read()]);
    const writer = rw.write();
    await waitForKeys(client, `${name}/write/`, 1);
    const lateReader = rw.read();
    await waitForKeys(client, `${name}/read/`, 3);
    expect(await stateAfter(writer, 200)).toBe('pending');
    expect(await stateAfter(lateReader, 0)).toBe('pending');
    await r1.release();
    expect(await stateAfter(writer, 200)).toBe('pending');
    await r2.release();
    const w = await writer;
    expect(w.fencingToken).toBeGreaterThan(r2.fencingToken);
    expect(await stateAfter(lateReader, 200)).toBe('pending');
    const secondWriter = rw.write();
    await w.release();
    const late = await lateReader;
    expect(await stateAfter(secondWriter, 200)).toBe('pending');
    await late.release();
    await (await secondWriter).release();
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
  });

  it('an aborted wait leaves no key; bad input is refused', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}rw-abort`;
    const rw = new ReadWriteLock(client, name, { ttl: 10 });
    const writer = await rw.write();
    await expect(rw.read({ timeoutMs: 200 })).rejects.toBeInstanceOf(DeadlineExceededError);
    const controller = new AbortController();
    const { error, keys } = await interruptQueued(client, `${name}/`, 2, () => rw.write({ signal: controller.signal }), () => controller.abort());
    expect(error).toBeInstanceOf(CancelledError);
    expect(keys).toEqual([writer.key.toString()]);
    await writer.release();
    expect(() => new ReadWriteLock(client, '')).toThrow(InvalidArgumentError);
    expect(() => new ReadWriteLock({} as never, 'x')).toThrow(InvalidArgumentError);
  });
});

describe('Barrier', () => {
  it('wait blocks while the barrier stands and goes on when it is released', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}gate`;
    const barrier = new Barrier(client, key);
    await barrier.wait({ timeoutMs: 1_000 }); // not standing: at once
    expect(await barrier.hold()).toBe(true);
    expect(await barrier.hold()).toBe(false);
    const waiters = [barrier.wait(), new Barrier(etcd.client(), key).wait()];
    expect(await stateAfter(Promise.all(waiters), 300)).toBe('pending');
    await expect(barrier.wait({ timeoutMs: 100 })).rejects.toBeInstanceOf(DeadlineExceededError);
    await barrier.release();
    await Promise.all(waiters);
  });

  it('a barrier held on a lease falls with the lease', async () => {
    const client = etcd.client();
    const barrier = new Barrier(client, `${etcd.prefix()}leased`);
    const { id } = await client.lease.grant(10);
    await barrier.hold({ lease: id });
    const waiting = barrier.wait();
    expect(await stateAfter(waiting, 200)).toBe('pending');
    await client.lease.revoke(id);
    await waiting;
  });
});

describe('DoubleBarrier', () => {
  it('enter waits for all participants, leave waits until all have left; nothing is left behind', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}double`;
    const participants = [0, 1, 2].map(() => new DoubleBarrier(etcd.client(), name, 3, { ttl: 10 }));
    const entered = participants.slice(0, 2).map((p) => p.enter());
    expect(await stateAfter(Promise.all(entered), 300)).toBe('pending');
    await Promise.all([...entered, participants[2]!.enter()]);
    const left = participants.slice(1).map((p) => p.leave());
    expect(await stateAfter(Promise.all(left), 300)).toBe('pending');
    await Promise.all([...left, participants[0]!.leave()]);
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
  });

  it('a participant beyond the count is refused and leaves no key', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}full`;
    const one = new DoubleBarrier(client, name, 1, { ttl: 10 });
    await one.enter();
    const error = await rejectionOf(() => new DoubleBarrier(client, name, 1, { ttl: 10 }).enter());
    expect((error as InvalidArgumentError).argument).toBe('count');
    expect((await keysUnder(client, `${name}/waiters/`)).length).toBe(1);
    await one.leave();
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
    expect(() => new DoubleBarrier(client, name, 0)).toThrow(InvalidArgumentError);
    expect(((await rejectionOf(() => one.leave())) as InvalidArgumentError).argument).toBe('barrier');
  });
});

describe('Queue', () => {
  it('first in, first out; dequeue waits for an item; each item goes to one consumer', async () => {
    const client = etcd.client();
    const prefix = `${etcd.prefix()}jobs`;
    const queue = new Queue(client, prefix);
    for (const job of ['a', 'b', 'c']) await queue.enqueue(job);
    expect((await queue.dequeue()).text()).toBe('a');
    expect((await queue.dequeue()).text()).toBe('b');
    expect((await queue.dequeue()).text()).toBe('c');
    const waiting = queue.dequeue();
    expect(await stateAfter(waiting, 200)).toBe('pending');
    await new Queue(etcd.client(), prefix).enqueue('d');
    expect((await waiting).text()).toBe('d');

    const items = Array.from({ length: 20 }, (_, i) => `item-${i}`);
    const consumers = [0, 1, 2, 3].map(() => new Queue(etcd.client(), prefix));
    const taken: string[] = [];
    const consuming = consumers.map(async (consumer) => {
      for (;;) {
        const result = await consumer.dequeue({ timeoutMs: 1_500 }).catch((error: unknown) => error);
        if (result instanceof DeadlineExceededError) return;
        taken.push((result as { text(): string }).text());
      }
    });
    for (const item of items) await queue.enqueue(item);
    await Promise.all(consuming);
    expect(taken.sort()).toEqual([...items].sort());
    expect(await keysUnder(client, `${prefix}/`)).toEqual([]);
  });
});
