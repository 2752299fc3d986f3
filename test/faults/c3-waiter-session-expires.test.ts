/**
 * C3 (RELIABILITY 8.D, etcd's TestMutexLockSessionExpired): a waiter's session expires while it
 * waits, for each kind of wait: the lock service, the Mutex recipe, and campaigns through the
 * election service and the recipe. The wait must reject with `SessionExpiredError` and never
 * resolve as acquired, also once the holder lets go.
 *
 * - network: the waiter's client talks through a fault proxy that freezes; its keep-alives stop,
 *   the server expires the lease (and the waiter's key), and the client's deadline passes.
 * - unnoticed: the waiter's lease is revoked by another client and the holder releases at once,
 *   before the waiter's keep-alive finds out: the server's lock and election services then
 *   report the waiter as the new owner of a key that no longer exists, and the client must
 *   find that out itself.
 *
 * Figures: time from the freeze (or the revoke) to the rejection.
 */
import { describe, expect, it } from 'vitest';
import { type Etcd, Mutex, type Namespace, SessionExpiredError, type Session } from 'etcdkit';
import { startFaultProxy } from 'etcdkit/testing';
import { until } from '../admin/support.js';
import { keysUnder, waitForKeys } from '../helpers/coordination.js';
import { useLeaseScenario } from './lease-probe.js';
import { FaultRecord, errorName, percentile, round, SettlementTracker } from './support.js';

const TTL = 2;
const UNNOTICED_RUNS = 5;

interface Releasable {
  release?(): Promise<void>;
  resign?(): Promise<void>;
}

/** Each kind of wait: take it on `view` with `session`. */
const kinds: Record<string, (view: Namespace, name: string, session: Session) => Promise<Releasable>> = {
  'lock service': (view, name, session) => view.lock.acquire(name, { session }),
  'Mutex recipe': (view, name, session) => new Mutex(view, name, { session }).lock(),
  'election service': (view, name, session) => view.election(name).campaign('waiter', { session }),
  'election recipe': (view, name, session) => view.election(name, { mode: 'recipe' }).campaign('waiter', { session }),
};

const letGo = (held: Releasable): Promise<void> => (held.release ? held.release() : held.resign!());

const record = new FaultRecord('C3', `a waiter's session expires while it waits (TTL ${TTL} s)`);
const scenario = useLeaseScenario(record, { ttl: TTL, kinds: Object.keys(kinds), unnoticedRuns: UNNOTICED_RUNS }, () => {
  const f = record.figures;
  return `network: freeze→rejection max ${JSON.stringify(f['networkRejectionMaxMs'])} ms (lost ≤ ${JSON.stringify(f['sessionLostAfterDeadlineMaxMs'])} ms after the lease deadline); unnoticed: ${JSON.stringify(f['unnoticedRejected'])} rejected, ${JSON.stringify(f['acquiredAfterExpiry'])} acquired after expiry`;
});

async function holderOf(client: Etcd, kind: string, name: string): Promise<{ held: Releasable; session: Session }> {
  const session = await client.session({ ttl: 10 });
  return { held: await kinds[kind]!(client, name, session), session };
}

describe('C3: a waiter whose session expires', () => {
  it('network: a frozen waiter rejects with SessionExpiredError within the TTL, and never acquires', async () => {
    record.begin('network');
    const direct = scenario.client();
    const proxy = await startFaultProxy({ target: scenario.server.endpoint });
    scenario.track(proxy);
    const waiterClient = scenario.client({ endpoints: [proxy.endpoint] });
    const tracker = new SettlementTracker();
    const runs = await Promise.all(
      Object.keys(kinds).map(async (kind, index) => {
        const name = `c3/net/${index}`;
        const holder = await holderOf(direct, kind, name);
        const session = await waiterClient.session({ ttl: TTL });
        const { entry, promise } = tracker.track(kind, () => kinds[kind]!(waiterClient, name, session));
        // Read on the clock the lease's deadline is reported in (the monotonic clock as epoch
        // milliseconds): Date.now() drifts from it over a long run, and once read 1 ms early.
        const lostAt = session.lost.then(() => Math.round(performance.timeOrigin + performance.now()));
        await waitForKeys(direct, `${name}/`, 2);
        return { kind, name, holder, entry, promise, session, lostAt };
      }),
    );
    await proxy.freeze();
    const frozenAt = performance.now();
    record.mark('proxy frozen');
    await Promise.race([Promise.all(runs.map((run) => run.promise)), new Promise((resolve) => setTimeout(resolve, TTL * 1000 + 5_000))]);
    for (const run of runs) await letGo(run.holder.held);
    await proxy.heal();
    record.mark('holders released, proxy healed');
    await Promise.all(runs.map((run) => run.promise));
    const rejectionMs: number[] = [];
    const lostAfterDeadline: number[] = [];
    for (const run of runs) {
      const ms = round((run.entry.settledAt[0] ?? Number.NaN) - frozenAt);
      rejectionMs.push(ms);
      // The lease's local deadline: its last acknowledged refresh's send time + TTL.
      const lostAfterDeadlineMs = (await run.lostAt) - run.session.lease.deadline;
      lostAfterDeadline.push(lostAfterDeadlineMs);
      record.figures[`network ${run.kind}`] = { outcome: run.entry.outcome, error: errorName(run.entry.error), afterFreezeMs: ms, lostAfterDeadlineMs };
      record.check(`network ${run.kind}: rejected with SessionExpiredError`, run.entry.error instanceof SessionExpiredError, errorName(run.entry.error));
      record.check(`network ${run.kind}: within TTL + 1.5 s of the freeze`, ms <= TTL * 1000 + 1_500, ms);
      const left = await until(() => keysUnder(direct, `${run.name}/`), (keys) => keys.length === 0, 5_000);
      record.check(`network ${run.kind}: no key left`, left.length === 0, left);
      await run.holder.session.close();
    }
    record.figures['networkRejectionMaxMs'] = Math.max(...rejectionMs);
    record.figures['sessionLostAfterDeadlineMaxMs'] = Math.max(...lostAfterDeadline);
    record.check('each session was reported lost within 250 ms of its lease deadline', lostAfterDeadline.every((ms) => ms >= 0 && ms <= 250), lostAfterDeadline);
    record.end('network');
    expect(record.failed()).toEqual([]);
  });

  it('unnoticed: a lease revoked elsewhere just before the holder lets go is never elected or granted', async () => {
    record.begin('unnoticed');
    const client = scenario.client();
    const other = scenario.client();
    let rejected = 0;
    let acquired = 0;
    const latencies: number[] = [];
    for (const kind of Object.keys(kinds)) {
      for (let run = 0; run < UNNOTICED_RUNS; run++) {
        const name = `c3/unnoticed/${kind.replace(' ', '-')}/${run}`;
        const holder = await holderOf(client, kind, name);
        const session = await client.session({ ttl: 10 });
        const waiting = kinds[kind]!(client, name, session).then(
          (held) => ({ held }),
          (error: unknown) => ({ error }),
        );
        await waitForKeys(client, `${name}/`, 2);
        const revokedAt = performance.now();
        await other.lease.revoke(session.leaseId);
        await letGo(holder.held);
        const outcome = await waiting;
        latencies.push(performance.now() - revokedAt);
        if ('held' in outcome) {
          acquired++;
          record.notes.push(`${kind} run ${run}: resolved as acquired after its lease was revoked`);
          await letGo(outcome.held);
        } else if (outcome.error instanceof SessionExpiredError) {
          rejected++;
        } else {
          record.notes.push(`${kind} run ${run}: rejected with ${errorName(outcome.error)}`);
        }
        await holder.session.close();
      }
    }
    const total = Object.keys(kinds).length * UNNOTICED_RUNS;
    Object.assign(record.figures, {
      unnoticedRejected: rejected,
      acquiredAfterExpiry: acquired,
      unnoticedRejectionP50Ms: round(percentile(latencies, 50)),
      unnoticedRejectionMaxMs: round(Math.max(...latencies)),
    });
    record.check('never resolved as acquired after its lease was gone', acquired === 0, acquired);
    record.check('every wait rejected with SessionExpiredError', rejected === total, `${rejected}/${total}`);
    record.end('unnoticed');
    expect(record.failed()).toEqual([]);
  });
});
