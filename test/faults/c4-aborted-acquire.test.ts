/**
 * C4 (RELIABILITY 8.D; Jepsen's lock.clj note, etcd #21128): an acquire given up while it waits,
 * through its AbortSignal or its timeout, must leave no key behind (the prefix has no key of its
 * session), so the next waiter is not blocked; and when the abort races the grant (the server
 * granted the lock just as the caller gave up), the lock must be released. Both the lock service
 * and the Mutex recipe, with a session of the caller's (the key is deleted) and with one granted
 * for the acquire (the lease is revoked).
 * Figures: leftovers (must be 0), race outcomes, and how many aborts came after the holder's
 * release had completed (the server had granted, or was about to).
 */
import { describe, expect, it } from 'vitest';
import { CancelledError, DeadlineExceededError, type Etcd, type LockHandle, Mutex, type WaitOptions } from 'etcdkit';
import { keysUnder, waitForKeys } from '../helpers/coordination.js';
import { useLeaseScenario } from './lease-probe.js';
import { errorName, FaultRecord, sleep } from './support.js';

const DELAYS_MS = [0, 2, 4, 6, 8, 10, 12, 14];

type Acquire = (client: Etcd, name: string, options: WaitOptions) => Promise<LockHandle>;
const kinds: Record<string, Acquire> = {
  'lock service': (client, name, options) => client.lock.acquire(name, options),
  'Mutex recipe': (client, name, { signal, timeoutMs, ...choice }) => new Mutex(client, name, choice).lock({ signal, timeoutMs }),
};

const record = new FaultRecord('C4', 'aborted acquire: no key left behind, a grant racing the abort is released');
const scenario = useLeaseScenario(record, { delaysMs: DELAYS_MS, kinds: Object.keys(kinds), sessions: ['borrowed', 'granted'] }, () => {
  const f = record.figures;
  return `leftovers ${JSON.stringify(f['leftovers'])}; race: ${JSON.stringify(f['race'])}`;
});

describe('C4: aborted acquire', () => {
  it('an abort or a timeout while waiting leaves no key, and the next waiter gets the lock', async () => {
    record.begin('abort');
    const client = scenario.client();
    let leftovers = 0;
    for (const [kind, acquire] of Object.entries(kinds)) {
      for (const how of ['signal', 'timeout'] as const) {
        const name = `c4/wait/${kind.replace(' ', '-')}/${how}`;
        const holder = await acquire(client, name, { ttl: 10 });
        const session = await client.session({ ttl: 10 });
        const controller = new AbortController();
        const waiting = acquire(client, name, how === 'signal' ? { session, signal: controller.signal } : { session, timeoutMs: 300 });
        await waitForKeys(client, `${name}/`, 2);
        controller.abort();
        const error = await waiting.then(
          () => undefined,
          (e: unknown) => e,
        );
        const expected = how === 'signal' ? CancelledError : DeadlineExceededError;
        record.check(`${kind}, ${how}: rejected with ${expected.name}`, error instanceof expected, errorName(error));
        const keys = await keysUnder(client, `${name}/`);
        const mine = keys.filter((key) => key.endsWith(`/${session.leaseId.toString(16)}`));
        leftovers += mine.length;
        record.check(`${kind}, ${how}: no key of the waiter's session`, mine.length === 0, keys);
        const next = acquire(client, name, { ttl: 10, timeoutMs: 3_000 });
        await holder.release();
        const started = performance.now();
        const handle = await next.catch((e: unknown) => e);
        record.check(`${kind}, ${how}: the next waiter gets the lock`, !(handle instanceof Error), errorName(handle));
        record.figures[`${kind}, ${how}: next waiter after release, ms`] = Math.round(performance.now() - started);
        if (!(handle instanceof Error)) await (handle as LockHandle).release();
        await session.close();
      }
    }
    record.figures['leftovers'] = leftovers;
    record.end('abort');
    expect(record.failed()).toEqual([]);
  });

  it('an abort racing the grant: either acquired (and released by its holder) or rejected with no key left', async () => {
    record.begin('race');
    const client = scenario.client();
    const race = { iterations: 0, acquired: 0, aborted: 0, abortedAfterRelease: 0, leftovers: 0, blocked: 0 };
    for (const [kind, acquire] of Object.entries(kinds)) {
      for (const sessionKind of ['borrowed', 'granted'] as const) {
        for (const delay of DELAYS_MS) {
          race.iterations++;
          const name = `c4/race/${kind.replace(' ', '-')}/${sessionKind}/${delay}`;
          const holder = await acquire(client, name, { ttl: 10 });
          const session = sessionKind === 'borrowed' ? await client.session({ ttl: 10 }) : undefined;
          const controller = new AbortController();
          const waiting = acquire(client, name, session ? { session, signal: controller.signal } : { ttl: 10, signal: controller.signal });
          await waitForKeys(client, `${name}/`, 2);
          let releasedAt = Number.POSITIVE_INFINITY;
          const released = holder.release().then(() => (releasedAt = performance.now()));
          await sleep(delay);
          const abortAt = performance.now();
          controller.abort();
          const outcome = await waiting.then(
            (handle) => ({ handle }),
            (error: unknown) => ({ error }),
          );
          await released;
          if ('handle' in outcome) {
            race.acquired++;
            await outcome.handle.release();
          } else {
            race.aborted++;
            if (abortAt > releasedAt) race.abortedAfterRelease++;
            if (!(outcome.error instanceof CancelledError)) record.notes.push(`${name}: rejected with ${errorName(outcome.error)}`);
          }
          const keys = await keysUnder(client, `${name}/`);
          race.leftovers += keys.length;
          const canary = await acquire(client, name, { ttl: 10, timeoutMs: 2_000 }).catch((error: unknown) => error);
          if (canary instanceof Error) race.blocked++;
          else await (canary as LockHandle).release();
          await session?.close();
        }
      }
    }
    record.figures['race'] = race;
    record.figures['leftovers'] = (record.figures['leftovers'] as number) + race.leftovers;
    record.check('race: no key left in any iteration', race.leftovers === 0, race.leftovers);
    record.check('race: the next acquire was never blocked', race.blocked === 0, race.blocked);
    record.check('race: every iteration either acquired or was cancelled', race.acquired + race.aborted === race.iterations);
    record.end('race');
    expect(record.failed()).toEqual([]);
  });
});
