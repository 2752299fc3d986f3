import { describe, expect, it } from 'vitest';
import {
  AlreadyConsumedError,
  CancelledError,
  DeadlineExceededError,
  Etcd,
  InvalidArgumentError,
  KeptLease,
  LeaseExistsError,
  LeaseExpiredError,
  LeaseNotFoundError,
  Session,
} from 'etcdkit';
import { openKeepAliveStreams } from './faults/lease-probe.js';
import { activeResources, rejectionOf, useEtcd, waitForResourcesAtMost } from './helpers/etcd.js';

const etcd = useEtcd();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An endpoint nothing listens on: a call that reached the network would fail with UnavailableError, not a validation error. */
const NOWHERE = ['127.0.0.1:1'];

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('lease calls', () => {
  it('grant, timeToLive with keys, list, keepAliveOnce and revoke', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}leased`;
    const granted = await client.lease.grant(30);
    expect(typeof granted.id).toBe('bigint');
    expect(granted.ttl).toBe(30);
    expect(granted.header.revision).toBeTypeOf('bigint');
    await client.put(key, 'v', { lease: granted.id });
    expect((await client.get(key))?.lease).toBe(granted.id);

    const ttl = await client.lease.timeToLive(granted.id, { keys: true });
    expect(ttl.id).toBe(granted.id);
    expect(ttl.grantedTtl).toBe(30);
    expect(ttl.ttl).toBeGreaterThan(25);
    expect(ttl.ttl).toBeLessThanOrEqual(30);
    expect(ttl.keys.map(String)).toEqual([key]);
    expect((await client.lease.timeToLive(granted.id)).keys).toEqual([]);
    expect(await client.lease.list()).toContain(granted.id);

    const once = await client.lease.keepAliveOnce(granted.id);
    expect(once).toMatchObject({ id: granted.id, ttl: 30 });

    await client.lease.revoke(granted.id);
    expect(await client.get(key)).toBeUndefined();
    expect(await client.lease.list()).not.toContain(granted.id);
  });

  it('a namespace view lists only its own keys of a lease, relative to the view', async () => {
    const client = etcd.client();
    const prefix = etcd.prefix();
    const app = client.namespace(`${prefix}app/`);
    expect(app.lease).toBe(app.lease);
    const { id } = await app.lease.grant(30);
    await app.put('a', '1', { lease: id });
    await app.put('b', '2', { lease: id });
    await client.put(`${prefix}outside`, '3', { lease: id });
    const inView = await app.lease.timeToLive(id, { keys: true });
    expect(inView.keys.map(String).sort()).toEqual(['a', 'b']);
    const all = await client.lease.timeToLive(id, { keys: true });
    expect(all.keys.map(String).sort()).toEqual([`${prefix}app/a`, `${prefix}app/b`, `${prefix}outside`]);
    await app.lease.revoke(id);
    expect(await client.get(`${prefix}outside`)).toBeUndefined();
  });
});

describe('lease inputs and server errors (RELIABILITY 6.2)', () => {
  it('rejects TTLs locally: 0, negative, fractions, non-numbers and above 9,000,000,000', async () => {
    const client = etcd.client({ endpoints: NOWHERE, timeoutMs: 500 });
    for (const ttl of [0, -5, 1.5, Number.NaN, Infinity, 9_000_000_001, '10', 10n]) {
      const error = await rejectionOf(() => client.lease.grant(ttl as number));
      expect(error, `ttl ${String(ttl)}`).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('ttl');
      expect(await rejectionOf(() => client.lease.grantKeptAlive(ttl as number))).toBeInstanceOf(InvalidArgumentError);
    }
    expect(((await rejectionOf(() => client.session({ ttl: 0 }))) as InvalidArgumentError).argument).toBe('options.ttl');
  });

  it('rejects lease IDs outside int64 and non-integers locally', async () => {
    const client = etcd.client({ endpoints: NOWHERE, timeoutMs: 500 });
    for (const id of [2n ** 63n, -(2n ** 63n) - 1n, 1.5, 2 ** 60, '7']) {
      for (const call of [
        () => client.lease.revoke(id as bigint),
        () => client.lease.timeToLive(id as bigint),
        () => client.lease.keepAliveOnce(id as bigint),
        () => client.lease.keep(id as bigint),
        () => client.lease.grant(5, { id: id as bigint }),
      ]) {
        expect(await rejectionOf(call), `id ${String(id)}`).toBeInstanceOf(InvalidArgumentError);
      }
      expect(() => client.lease.keepAlive(id as bigint)).toThrow(InvalidArgumentError);
    }
  });

  it('TTL 1 is granted as 2 by the server; 9,000,000,000 is accepted', async () => {
    const client = etcd.client();
    const small = await client.lease.grant(1);
    expect(small.ttl).toBe(2);
    const kept = await client.lease.grantKeptAlive(1);
    expect(kept.ttl).toBe(2);
    const huge = await client.lease.grant(9_000_000_000);
    expect(huge.ttl).toBe(9_000_000_000);
    await Promise.all([client.lease.revoke(small.id), kept.revoke(), client.lease.revoke(huge.id)]);
  });

  it('maps the server errors: lease exists, unknown lease on put, revoke and timeToLive', async () => {
    const client = etcd.client();
    const { id } = await client.lease.grant(30);
    const exists = await rejectionOf(() => client.lease.grant(30, { id }));
    expect(exists).toBeInstanceOf(LeaseExistsError);
    await client.lease.revoke(id);
    const unknown = 0x41f2a1fe77587105n;
    expect(await rejectionOf(() => client.put(`${etcd.prefix()}k`, 'v', { lease: unknown }))).toBeInstanceOf(LeaseNotFoundError);
    expect(await rejectionOf(() => client.lease.revoke(unknown))).toBeInstanceOf(LeaseNotFoundError);
    // etcd 3.4 answers TTL -1 for an unknown lease; the SDK reports it as not found.
    expect(await rejectionOf(() => client.lease.timeToLive(unknown))).toBeInstanceOf(LeaseNotFoundError);
    expect(await rejectionOf(() => client.lease.timeToLive(id, { keys: true }))).toBeInstanceOf(LeaseNotFoundError);
  });

  it('a keep-alive of an unknown lease (the server answers TTL 0) is lost with reason revoked', async () => {
    const client = etcd.client();
    const unknown = 0x41f2a1fe77587106n;
    const keepAlive = client.lease.keepAlive(unknown);
    const error = await rejectionOf(async () => {
      for await (const reply of keepAlive) throw new Error(`unexpected reply ${String(reply.ttl)}`);
    });
    expect(error).toBeInstanceOf(LeaseExpiredError);
    expect((error as LeaseExpiredError).reason).toBe('revoked');
    expect((error as LeaseExpiredError).leaseId).toBe(unknown);
    expect((await keepAlive.lost).reason).toBe('revoked');
    expect(await rejectionOf(() => client.lease.keepAliveOnce(unknown))).toBeInstanceOf(LeaseNotFoundError);
    expect(await rejectionOf(() => client.lease.keep(unknown))).toBeInstanceOf(LeaseNotFoundError);
  });

  it('an explicit ID of 2^63-1 round-trips as a bigint through grant, put, get, list, keep-alive and revoke', async () => {
    const client = etcd.client();
    const id = 0x7fffffffffffffffn;
    const key = `${etcd.prefix()}max-id`;
    const granted = await client.lease.grant(30, { id });
    expect(granted.id).toBe(id);
    await client.put(key, 'v', { lease: id });
    expect((await client.get(key))?.lease).toBe(id);
    expect(await client.lease.list()).toContain(id);
    expect((await client.lease.timeToLive(id, { keys: true })).id).toBe(id);
    expect((await client.lease.keepAliveOnce(id)).id).toBe(id);
    const kept = await client.lease.keep(id);
    expect(kept.id).toBe(id);
    expect(kept.ttl).toBe(30);
    await kept.revoke();
    expect((await kept.lost).reason).toBe('revoked-locally');
    expect(await client.get(key)).toBeUndefined();
  });
});

describe('keep-alive', () => {
  it('yields acknowledged refreshes at about a third of the granted TTL', async () => {
    const client = etcd.client();
    const { id, ttl } = await client.lease.grant(3);
    const times: number[] = [];
    for await (const reply of client.lease.keepAlive(id)) {
      expect(reply).toMatchObject({ id, ttl });
      expect(Object.isFrozen(reply)).toBe(true);
      times.push(performance.now());
      if (times.length === 3) break;
    }
    // The first refresh is sent at once (the TTL is not known before it), then every ~TTL/3.
    const gap = times[2]! - times[1]!;
    expect(gap).toBeGreaterThan(900);
    expect(gap).toBeLessThan(1_400);
    await client.lease.revoke(id);
  });

  it('every lease shares one stream, opened on first use and closed when no lease is kept', async () => {
    const client = etcd.client();
    await until(async () => (await openKeepAliveStreams(etcd.server)) === 0);
    const leases = await Promise.all(Array.from({ length: 10 }, () => client.lease.grantKeptAlive(5)));
    const iterator = client.lease.keepAlive(leases[0]!.id);
    const first = await iterator[Symbol.asyncIterator]().next();
    expect(first.done).toBe(false);
    expect(await openKeepAliveStreams(etcd.server)).toBe(1);
    await iterator.close();
    await Promise.all(leases.map((lease) => lease.close()));
    await until(async () => (await openKeepAliveStreams(etcd.server)) === 0);
    await Promise.all(leases.map((lease) => client.lease.revoke(lease.id)));
  });

  it('break stops keeping the lease: the server expires it after its TTL', async () => {
    const client = etcd.client();
    const { id } = await client.lease.grant(2);
    const keepAlive = client.lease.keepAlive(id);
    for await (const _ of keepAlive) break;
    expect((await keepAlive.lost).reason).toBe('stopped');
    await until(async () => (await rejectionOf(() => client.lease.timeToLive(id)).catch(() => undefined)) instanceof LeaseNotFoundError, 4_000);
  });

  it('a second for await throws AlreadyConsumedError', async () => {
    const client = etcd.client();
    const { id } = await client.lease.grant(10);
    const keepAlive = client.lease.keepAlive(id);
    const loop = (async () => {
      for await (const _ of keepAlive) return;
    })();
    const second = await rejectionOf(async () => {
      for await (const _ of keepAlive) return;
    });
    expect(second).toBeInstanceOf(AlreadyConsumedError);
    await loop;
    await client.lease.revoke(id);
  });

  it('aborting the signal ends the iteration with CancelledError and stops keeping the lease', async () => {
    const client = etcd.client();
    const { id } = await client.lease.grant(10);
    const controller = new AbortController();
    const reason = new Error('test abort');
    const keepAlive = client.lease.keepAlive(id, { signal: controller.signal });
    const error = await rejectionOf(async () => {
      for await (const _ of keepAlive) controller.abort(reason);
    });
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toBe(reason);
    expect((await keepAlive.lost).reason).toBe('stopped');
    const already = client.lease.keepAlive(id, { signal: controller.signal });
    expect(already.isLost).toBe(true);
    await client.lease.revoke(id);
  });

  it('handles of one lease are reference-counted: closing one keeps the others alive', async () => {
    const client = etcd.client();
    const kept = await client.lease.grantKeptAlive(2);
    const attached = await client.lease.keep(kept.id);
    const keepAlive = client.lease.keepAlive(kept.id);
    await kept.close();
    expect((await kept.lost).reason).toBe('stopped');
    const iterator = keepAlive[Symbol.asyncIterator]();
    await iterator.return?.();
    expect(attached.isLost).toBe(false);
    // The remaining handle keeps refreshing it.
    const before = attached.deadline;
    await until(() => attached.deadline > before, 2_000);
    expect(attached.isLost).toBe(false);
    expect((await client.lease.timeToLive(kept.id)).ttl).toBeGreaterThan(0);
    await attached.revoke();
    expect((await attached.lost).reason).toBe('revoked-locally');
  });

});

describe('KeptLease', () => {
  it('grantKeptAlive: id, granted TTL, a deadline that advances, and revoke deletes its keys', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}ephemeral`;
    const before = Date.now();
    const kept = await client.lease.grantKeptAlive(2);
    expect(kept).toBeInstanceOf(KeptLease);
    expect(kept.ttl).toBe(2);
    expect(kept.deadline).toBeGreaterThanOrEqual(before + 2_000 - 5);
    expect(kept.deadline).toBeLessThanOrEqual(Date.now() + 2_000 + 5);
    await client.put(key, 'v', { lease: kept.id });
    const first = kept.deadline;
    await until(() => kept.deadline > first, 2_000);
    expect(kept.deadline - first).toBeGreaterThan(500);
    expect(kept.isLost).toBe(false);
    expect((await client.get(key))?.text()).toBe('v');
    await kept.revoke();
    const lost = await kept.lost;
    expect(lost).toBeInstanceOf(LeaseExpiredError);
    expect(lost.reason).toBe('revoked-locally');
    expect(kept.isLost).toBe(true);
    expect(await client.get(key)).toBeUndefined();
    await kept.revoke(); // idempotent
  });

  it('close() stops keeping without revoking; await using closes', async () => {
    const client = etcd.client();
    let id: bigint | undefined;
    let lost: Promise<LeaseExpiredError> | undefined;
    {
      await using kept = await client.lease.grantKeptAlive(30);
      id = kept.id;
      lost = kept.lost;
    }
    expect((await lost)?.reason).toBe('stopped');
    expect((await client.lease.timeToLive(id)).ttl).toBeGreaterThan(0);
    await client.lease.revoke(id);
  });

  it('revoking a kept lease through lease.revoke() ends it with revoked-locally', async () => {
    const client = etcd.client();
    const kept = await client.lease.grantKeptAlive(10);
    await client.lease.revoke(kept.id);
    expect((await kept.lost).reason).toBe('revoked-locally');
  });

  it('a keep-alive that finds the lease gone while this client revokes it does not turn revoked-locally into revoked', async () => {
    // Keep-alives sent while the revoke is in flight: one the server handles after applying the
    // revoke answers TTL 0, and its reply can reach the client before the revoke's.
    const client = etcd.client();
    const trials = 40;
    const reasons: string[] = [];
    let goneAnswers = 0;
    for (let trial = 0; trial < trials; trial++) {
      const kept = await client.lease.grantKeptAlive(10);
      const revoke = trial % 2 === 0 ? client.lease.revoke(kept.id) : kept.revoke();
      const probes: Promise<void>[] = [];
      for (let probe = 0; probe < 10; probe++) {
        probes.push(
          client.lease.keepAliveOnce(kept.id).then(
            () => undefined,
            (error: unknown) => {
              expect(error).toBeInstanceOf(LeaseNotFoundError);
              goneAnswers++;
            },
          ),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }
      await revoke;
      await Promise.all(probes);
      reasons.push((await kept.lost).reason);
    }
    expect(goneAnswers).toBeGreaterThan(0);
    expect(reasons).toEqual(Array<string>(trials).fill('revoked-locally'));
  });

  it('a revoke that fails before it is sent leaves the lease kept; one of a lease already gone ends it as revoked at once', async () => {
    const client = etcd.client();
    const other = etcd.client();
    const kept = await client.lease.grantKeptAlive(10);
    const controller = new AbortController();
    controller.abort();
    expect(await rejectionOf(() => client.lease.revoke(kept.id, { signal: controller.signal }))).toBeInstanceOf(CancelledError);
    expect(await rejectionOf(() => kept.revoke({ signal: controller.signal }))).toBeInstanceOf(CancelledError);
    expect(kept.isLost).toBe(false);
    expect((await client.lease.keepAliveOnce(kept.id)).ttl).toBeGreaterThan(0);
    expect(kept.isLost).toBe(false);

    await other.lease.revoke(kept.id);
    expect(await rejectionOf(() => client.lease.revoke(kept.id))).toBeInstanceOf(LeaseNotFoundError);
    expect((await kept.lost).reason).toBe('revoked');
  });

  it('a revoke by another client is reported as revoked within a refresh period', async () => {
    const client = etcd.client();
    const other = etcd.client();
    const kept = await client.lease.grantKeptAlive(2);
    const revokedAt = performance.now();
    await other.lease.revoke(kept.id);
    const lost = await kept.lost;
    expect(lost.reason).toBe('revoked');
    expect(performance.now() - revokedAt).toBeLessThan(1_000);
  });

  it('keep(): a timeout when nothing answers, a cancelled signal', async () => {
    const silent = etcd.client({ endpoints: NOWHERE });
    expect(await rejectionOf(() => silent.lease.keep(5n, { timeoutMs: 300 }))).toBeInstanceOf(DeadlineExceededError);
    const controller = new AbortController();
    const pending = rejectionOf(() => silent.lease.keep(5n, { signal: controller.signal }));
    controller.abort();
    expect(await pending).toBeInstanceOf(CancelledError);
  });
});

describe('Session', () => {
  it('a session keeps its lease alive; close() revokes it and deletes its keys', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}member`;
    const session = await client.session({ ttl: 2 });
    expect(session).toBeInstanceOf(Session);
    expect(session.ttl).toBe(2);
    await client.put(key, 'here', { lease: session.leaseId });
    const first = session.lease.deadline;
    await until(() => session.lease.deadline > first, 2_000);
    expect(session.isLost).toBe(false);
    expect(await client.get(key)).toBeDefined();
    await session.close();
    await session.done;
    expect((await session.lost).reason).toBe('revoked-locally');
    expect(await client.get(key)).toBeUndefined();
  });

  it('default TTL 60; an existing lease can back a session; orphan() does not revoke', async () => {
    const client = etcd.client();
    const session = await client.session();
    expect(session.ttl).toBe(60);
    await session.close();
    const { id } = await client.lease.grant(20);
    const attached = await client.namespace('ns/').session({ lease: id });
    expect(attached.leaseId).toBe(id);
    await attached.orphan();
    expect((await attached.lost).reason).toBe('stopped');
    expect((await client.lease.timeToLive(id)).ttl).toBeGreaterThan(0);
    await client.lease.revoke(id);
  });
});

describe('lifecycle', () => {
  it('close() ends every keep-alive with reason stopped and leaves no handle behind', async () => {
    const baseline = activeResources();
    const client = new Etcd({ endpoints: etcd.server.endpoints });
    const kept = await client.lease.grantKeptAlive(10);
    const { id } = await client.lease.grant(10);
    const keepAlive = client.lease.keepAlive(id);
    const loop = rejectionOf(async () => {
      for await (const _ of keepAlive) {
        /* keep reading */
      }
    });
    const session = await client.session({ ttl: 10 });
    await sleep(50);
    await client.close();
    expect((await kept.lost).reason).toBe('stopped');
    const error = await loop;
    expect(error).toBeInstanceOf(LeaseExpiredError);
    expect((error as LeaseExpiredError).reason).toBe('stopped');
    expect((await session.lost).reason).toBe('stopped');
    expect(() => client.lease.keepAlive(id)).toThrow();
    expect(await waitForResourcesAtMost(baseline)).toEqual({});
    const cleanup = etcd.client();
    await Promise.all([kept.id, id, session.leaseId].map((lease) => cleanup.lease.revoke(lease)));
  });
});
