import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  Compare,
  DeadlineExceededError,
  EtcdError,
  InvalidArgumentError,
  LockHandle,
  LockLostError,
  Mutex,
  Op,
  SessionExpiredError,
} from 'etcdkit';
import { interruptQueued, keysUnder, stateAfter, waitForKeys } from './helpers/coordination.js';
import { activeResources, rejectionOf, useEtcd, waitForResourcesAtMost } from './helpers/etcd.js';

const etcd = useEtcd();

/** An endpoint nothing listens on: a call that reached the network would fail with UnavailableError, not a validation error. */
const NOWHERE = ['127.0.0.1:1'];

describe('the lock service (etcd.lock)', () => {
  it('acquire: key <name>/<lease hex>, fencing token = create revision, release deletes it', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}jobs`;
    const lock = await client.lock.acquire(name, { ttl: 10 });
    expect(lock).toBeInstanceOf(LockHandle);
    expect(lock.key.toString()).toBe(`${name}/${lock.leaseId.toString(16)}`);
    const kv = await client.get(lock.key);
    expect(kv?.createRevision).toBe(lock.fencingToken);
    expect(kv?.lease).toBe(lock.leaseId);
    expect(lock.isHeld).toBe(true);
    await lock.release();
    expect(lock.isHeld).toBe(false);
    expect((await lock.lost).reason).toBe('released');
    expect(await client.get(lock.key)).toBeUndefined();
    // A session granted for the lock is revoked with it.
    await expect(client.lease.timeToLive(lock.leaseId)).rejects.toThrow(/not found/);
    await lock.release(); // idempotent
  });

  it('a second acquire waits for the release and gets a larger fencing token', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}queue`;
    const first = await client.lock.acquire(name, { ttl: 10 });
    const second = client.lock.acquire(name, { ttl: 10 });
    expect(await stateAfter(second, 300)).toBe('pending');
    const released = performance.now();
    await first.release();
    const handle = await second;
    const handoffMs = performance.now() - released;
    expect(handle.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(handoffMs).toBeLessThan(1_000);
    await handle.release();
  });

  it('withLock runs the function under the lock and releases it, also when the function throws', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}with`;
    const result = await client.lock.withLock(name, async (lock) => {
      expect(await keysUnder(client, `${name}/`)).toEqual([lock.key.toString()]);
      return lock.fencingToken;
    });
    expect(typeof result).toBe('bigint');
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
    await expect(
      client.lock.withLock(name, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await keysUnder(client, `${name}/`)).toEqual([]);
  });

  it('an acquire that times out or is aborted leaves no key behind, and the next waiter is not blocked', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}abort`;
    const holder = await client.lock.acquire(name, { ttl: 10 });
    const session = await client.session({ ttl: 10 });

    const timedOut = await rejectionOf(() => client.lock.acquire(name, { session, timeoutMs: 300 }));
    expect(timedOut).toBeInstanceOf(DeadlineExceededError);
    expect(await keysUnder(client, `${name}/`)).toEqual([holder.key.toString()]);

    const controller = new AbortController();
    const { error, keys } = await interruptQueued(
      client,
      `${name}/`,
      2,
      () => client.lock.acquire(name, { ttl: 10, signal: controller.signal }),
      () => controller.abort(new Error('changed my mind')),
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toEqual(new Error('changed my mind'));
    expect(keys).toEqual([holder.key.toString()]);

    const next = client.lock.acquire(name, { session });
    await holder.release();
    const handle = await next;
    expect(handle.leaseId).toBe(session.leaseId);
    await handle.release();
    expect(session.isLost).toBe(false); // a borrowed session stays open
    await session.close();
  });

  it('holds of one session on one name take turns in this process instead of sharing the key', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}shared`;
    const session = await client.session({ ttl: 10 });
    const first = await client.lock.acquire(name, { session });
    const second = client.lock.acquire(name, { session });
    expect(await stateAfter(second, 300)).toBe('pending');
    await first.release();
    const handle = await second;
    expect(handle.key).toEqual(first.key);
    expect(handle.fencingToken).toBeGreaterThan(first.fencingToken);
    await handle.release();
    await session.close();
  });

  it('with { lease }, the lease is kept alive while held and not revoked at release', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}lease`;
    const { id } = await client.lease.grant(10);
    const lock = await client.lock.acquire(name, { lease: id });
    expect(lock.leaseId).toBe(id);
    await lock.release();
    expect((await client.lease.timeToLive(id)).ttl).toBeGreaterThan(0);
    await client.lease.revoke(id);
  });

  it('guarded ops run only while held; a deleted key is reported as lost before the rejection', async () => {
    const client = etcd.client();
    const prefix = etcd.prefix();
    const lock = await client.lock.acquire(`${prefix}guard`, { ttl: 10 });
    const [put, get] = await lock.guarded([Op.put(`${prefix}data`, 'one'), Op.get(`${prefix}data`)]);
    expect(put.kind).toBe('put');
    expect(get.kvs[0]?.text()).toBe('one');
    const custom = await lock.txn().then(Op.put(`${prefix}data`, 'two')).commit();
    expect(custom.succeeded).toBe(true);
    expect((await client.txn().if(lock.isOwner()).commit()).succeeded).toBe(true);

    await client.delete(lock.key); // someone removes the lock key
    let lostFirst = false;
    void lock.lost.then(() => (lostFirst = true));
    const error = await rejectionOf(() => lock.guarded([Op.put(`${prefix}data`, 'three')]));
    expect(lostFirst).toBe(true);
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as LockLostError).reason).toBe('deleted');
    expect(lock.signal.aborted).toBe(true);
    expect((await client.get(`${prefix}data`))?.text()).toBe('two');
    await lock.release();
  });

  it('lost resolves with session-lost when the lease is revoked elsewhere, and guarded ops are refused', async () => {
    const client = etcd.client();
    const other = etcd.client();
    const prefix = etcd.prefix();
    const lock = await client.lock.acquire(`${prefix}revoked`, { ttl: 3 });
    await other.lease.revoke(lock.leaseId);
    const reason = await lock.lost;
    expect(reason.reason).toBe('session-lost');
    await expect(lock.guarded([Op.put(`${prefix}x`, 'y')])).rejects.toBeInstanceOf(LockLostError);
    expect(await client.get(`${prefix}x`)).toBeUndefined();
    await lock.release();
  });

  it('a waiter whose session ends while it waits rejects with SessionExpiredError and leaves no key', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}expire`;
    const holder = await client.lock.acquire(name, { ttl: 10 });
    const session = await client.session({ ttl: 3 });
    const { error, keys } = await interruptQueued(
      client,
      `${name}/`,
      2,
      () => client.lock.acquire(name, { session }),
      () => etcd.client().lease.revoke(session.leaseId),
    );
    expect(error).toBeInstanceOf(SessionExpiredError);
    expect(keys).toEqual([holder.key.toString()]);
    await holder.release();
  });

  it('works in a namespace view, with names and keys relative to it', async () => {
    const client = etcd.client();
    const prefix = etcd.prefix();
    const view = client.namespace(prefix);
    const lock = await view.lock.acquire('jobs', { ttl: 10 });
    expect(lock.key.toString()).toBe(`jobs/${lock.leaseId.toString(16)}`);
    expect(await keysUnder(client, prefix)).toEqual([`${prefix}jobs/${lock.leaseId.toString(16)}`]);
    await lock.guarded([Op.put('state', 'locked')]);
    expect((await client.get(`${prefix}state`))?.text()).toBe('locked');
    // The root client's lock on the same absolute name waits for the view's.
    const root = client.lock.acquire(`${prefix}jobs`, { ttl: 10 });
    expect(await stateAfter(root, 300)).toBe('pending');
    await lock.release();
    await (await root).release();
  });

  it('bad input fails before anything is sent', async () => {
    const client = etcd.client({ endpoints: NOWHERE });
    const session = await etcd.client().session({ ttl: 10 });
    for (const [call, argument] of [
      [() => client.lock.acquire(''), 'name'],
      [() => client.lock.acquire('x', { ttl: 10, session }), 'options.session'],
      [() => client.lock.acquire('x', { ttl: 0 }), 'options.ttl'],
      [() => client.lock.acquire('x', { timeoutMs: -1 }), 'options.timeoutMs'],
      [() => client.lock.acquire('x', { session: {} as never }), 'options.session'],
      [() => client.lock.withLock('x', 'nope' as never), 'fn'],
    ] as const) {
      const error = await rejectionOf(call);
      expect(error, String(argument)).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
    }
    await session.close();
  });
});

describe('closing the client', () => {
  it('ends held locks and waits, and leaves no handle open', async () => {
    const baseline = activeResources();
    const client = etcd.client();
    const name = `${etcd.prefix()}close`;
    const held = await client.lock.acquire(name, { ttl: 10 });
    const waiting = new Mutex(client, name, { ttl: 10 }).lock().catch((error: unknown) => error);
    await waitForKeys(client, `${name}/`, 2);
    await client.close();
    expect((await held.lost).reason).toBe('session-lost');
    expect(await waiting).toBeInstanceOf(EtcdError);
    expect(await waitForResourcesAtMost(baseline)).toEqual({});
  });
});

describe('Mutex (the client-side recipe)', () => {
  it('lock, isOwner in a transaction, unlock', async () => {
    const client = etcd.client();
    const prefix = etcd.prefix();
    const session = await client.session({ ttl: 10 });
    const mutex = new Mutex(client, `${prefix}m`, { session });
    expect((await client.txn().if(mutex.isOwner()).commit()).succeeded).toBe(false);
    const lock = await mutex.lock();
    expect(lock.key.toString()).toBe(`${prefix}m/${session.leaseId.toString(16)}`);
    expect(mutex.handle).toBe(lock);
    const guarded = await client.txn().if(mutex.isOwner()).then(Op.put(`${prefix}v`, '1')).commit();
    expect(guarded.succeeded).toBe(true);
    await expect(mutex.lock()).rejects.toBeInstanceOf(InvalidArgumentError);
    await mutex.unlock();
    expect(mutex.handle).toBeUndefined();
    expect(await keysUnder(client, `${prefix}m/`)).toEqual([]);
    await session.close();
  });

  it('serves waiters in arrival order, each waiting on the key just before its own', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}fifo`;
    const holder = await new Mutex(client, name, { ttl: 10 }).lock();
    const order: number[] = [];
    const waiters = [0, 1, 2].map(() => new Mutex(client, name, { ttl: 3 }));
    const locks: Array<Promise<LockHandle>> = [];
    for (const [index, mutex] of waiters.entries()) {
      locks.push(
        mutex.lock().then((lock) => {
          order.push(index);
          return lock;
        }),
      );
      await waitForKeys(client, `${name}/`, index + 2);
    }
    // The middle waiter's session ends: the last one must still wait for the first.
    const middle = waiters[1]!;
    await holder.release();
    const first = await locks[0]!;
    const [, middleKey] = await keysUnder(client, `${name}/`);
    await etcd.client().lease.revoke((await client.get(middleKey!))!.lease);
    expect(await rejectionOf(() => locks[1]!)).toBeInstanceOf(SessionExpiredError);
    expect(middle.handle).toBeUndefined();
    expect(await stateAfter(locks[2]!, 300)).toBe('pending');
    await first.release();
    const last = await locks[2]!;
    expect(order).toEqual([0, 2]);
    expect(last.fencingToken).toBeGreaterThan(first.fencingToken);
    await last.release();
  });

  it('tryLock takes a free lock, and on a held one resolves undefined leaving no key', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}try`;
    const first = new Mutex(client, name, { ttl: 10 });
    const taken = await first.tryLock();
    expect(taken).toBeInstanceOf(LockHandle);
    const second = new Mutex(client, name, { ttl: 10 });
    expect(await second.tryLock()).toBeUndefined();
    expect(await keysUnder(client, `${name}/`)).toEqual([taken!.key.toString()]);
    await first.unlock();
    const now = await second.tryLock();
    expect(now).toBeInstanceOf(LockHandle);
    await now!.release();
  });

  it('excludes holders of the lock service on the same name, and the other way round', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}both`;
    const viaService = await client.lock.acquire(name, { ttl: 10 });
    const mutex = new Mutex(client, name, { ttl: 10 });
    expect(await mutex.tryLock()).toBeUndefined();
    const waiting = mutex.lock();
    expect(await stateAfter(waiting, 300)).toBe('pending');
    await viaService.release();
    const viaMutex = await waiting;
    const service = client.lock.acquire(name, { ttl: 10 });
    expect(await stateAfter(service, 300)).toBe('pending');
    await viaMutex.release();
    await (await service).release();
  });

  it('an aborted lock() removes its key; the session stays usable', async () => {
    const client = etcd.client();
    const name = `${etcd.prefix()}abort`;
    const holder = await client.lock.acquire(name, { ttl: 10 });
    const session = await client.session({ ttl: 10 });
    const mutex = new Mutex(client, name, { session });
    const controller = new AbortController();
    const { error, keys } = await interruptQueued(client, `${name}/`, 2, () => mutex.lock({ signal: controller.signal }), () => controller.abort());
    expect(error).toBeInstanceOf(CancelledError);
    expect(keys).toEqual([holder.key.toString()]);
    await expect(mutex.lock({ timeoutMs: 200 })).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(await keysUnder(client, `${name}/`)).toEqual([holder.key.toString()]);
    await holder.release();
    await (await mutex.lock()).release();
    expect(session.isLost).toBe(false);
    await session.close();
  });

  it('the fencing condition of an old hold fails after a new hold of the same session', async () => {
    const client = etcd.client();
    const prefix = etcd.prefix();
    const session = await client.session({ ttl: 10 });
    const mutex = new Mutex(client, `${prefix}fence`, { session });
    const old = await mutex.lock();
    const oldOwner = old.isOwner();
    await mutex.unlock();
    const fresh = await mutex.lock();
    expect((await client.txn().if(oldOwner).commit()).succeeded).toBe(false);
    expect((await client.txn().if(fresh.isOwner()).commit()).succeeded).toBe(true);
    expect((await client.txn().if(Compare.createRevision(fresh.key).equals(fresh.fencingToken)).commit()).succeeded).toBe(true);
    await old.release(); // a stale handle's release leaves the new hold alone
    expect(await client.get(fresh.key)).toBeDefined();
    await fresh.release();
    await session.close();
  });
});
