/**
 * K1 (RELIABILITY 8.B): kill -9 the leader of a 3-node cluster during 10k puts with
 * application-level retries, restart it, and check that no acknowledged write was lost, that
 * the SDK made no hidden mutation retries, and that the members converge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd, EtcdError, Range } from 'etcdkit';
import { startEtcdCluster, type EtcdCluster, type EtcdMember } from 'etcdkit/testing';
import { errorName, FaultRecord, hashKV, now, percentile, round, sleep, tally } from './support.js';

const KEYS = 10_000;
const WRITERS = 16;
/** The application retries a failed put up to this many times (so up to 6 SDK calls per key). */
const APP_RETRIES = 5;
/** Backoff of the application between its attempts on one key: 100, 200, 400, 800, 1600 ms. */
const APP_BACKOFF_MS = 100;
/**
 * Per-call deadline, as in the gateway experiment of RELIABILITY 6.1 (2 s per request). With a
 * deadline above etcd's own request timeout (5 s + 2 x election timeout = 7 s), puts stuck on a
 * member whose proposals went to the dead leader wait those 7 s instead (measured: 7.1-7.3 s).
 */
const CALL_TIMEOUT_MS = 2_000;
/** The whole write phase must end within this; beyond it writers stop issuing (bounded loop). */
const WRITE_BUDGET_MS = 75_000;
const PREFIX = 'k1/';

const keyOf = (index: number): string => `${PREFIX}k${String(index).padStart(5, '0')}`;

type Outcome = 'ok' | 'indeterminate' | 'definite';

interface Attempt {
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
  error?: string;
  revision?: bigint;
}

interface KeyHistory {
  index: number;
  attempts: Attempt[];
}

const record = new FaultRecord('K1', 'kill the leader in a 3-node cluster during 10k puts with retries');

describe('K1: leader kill -9 during 10k puts', () => {
  let cluster: EtcdCluster | undefined;
  const clients: Etcd[] = [];

  beforeAll(async () => {
    cluster = await startEtcdCluster({ size: 3, keepDataOnFailure: true });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (record.verdict !== 'pass') cluster?.recordFailure('K1 failed');
    await cluster?.close();
  });

  it('loses no acked write, makes no hidden retries, and the members converge', async () => {
    record.begin('run');
    const c = cluster!;
    const firstStatus = await c.members[0]!.status();
    record.etcdVersion = firstStatus.version;
    record.config = {
      members: 3,
      keys: KEYS,
      writers: WRITERS,
      appRetries: APP_RETRIES,
      appBackoffMs: `${APP_BACKOFF_MS} * 2^(attempt-1)`,
      callTimeoutMs: CALL_TIMEOUT_MS,
      memberEndpoints: c.endpoints,
      leaderFirst: process.env['K1_LEADER_FIRST'] === '1',
      etcdFlags: 'defaults (heartbeat 100 ms, election 1000 ms, pre-vote off)',
      faultTrigger: 'kill -9 the leader when 1/3 of the keys are issued; restart it when 2/3 are issued',
    };
    record.notes.push('Fault times are triggered by progress, not randomised, so there is no seed.');

    const leaderChangesBefore = await leaderChanges(c.members);
    // K1_LEADER_FIRST=1 lists the leader first, so the killed member is the pinned endpoint
    // (by default the endpoints are in member order and the leader is wherever it was elected).
    let endpoints = c.endpoints;
    if (process.env['K1_LEADER_FIRST'] === '1') {
      const leader = await c.leader();
      endpoints = [leader.endpoint, ...c.endpoints.filter((e) => e !== leader.endpoint)];
    }
    record.config['clientEndpoints'] = endpoints;
    const client = new Etcd({ endpoints, timeoutMs: CALL_TIMEOUT_MS });
    clients.push(client);

    const histories: KeyHistory[] = Array.from({ length: KEYS }, (_, index) => ({ index, attempts: [] }));
    let nextIndex = 0;
    const t0 = now();
    const writeDeadline = t0 + WRITE_BUDGET_MS;

    // Fault controller: progress-triggered kill and restart of the leader.
    let killedAt = Number.NaN;
    let restartIssuedAt = Number.NaN;
    let restartedAt = Number.NaN;
    let victim: EtcdMember | undefined;
    let controllerError: unknown;
    const controller = (async () => {
      while (nextIndex < KEYS / 3 && now() < writeDeadline) await sleep(5);
      victim = await c.leader();
      record.mark('leader found', { leader: victim.name, issued: nextIndex });
      await victim.kill();
      killedAt = now();
      record.mark('kill -9 leader', { member: victim.name, pid: 'killed', issued: nextIndex });
      while (nextIndex < (2 * KEYS) / 3 && now() < writeDeadline) await sleep(5);
      restartIssuedAt = now();
      record.mark('restart issued', { member: victim.name, issued: nextIndex });
      await victim.restart({ timeoutMs: 30_000 });
      restartedAt = now();
      record.mark('restarted member healthy', { member: victim.name, issued: nextIndex });
    })().catch((error: unknown) => {
      controllerError = error;
    });

    const writer = async (): Promise<void> => {
      for (;;) {
        if (now() > writeDeadline) return;
        const index = nextIndex++;
        if (index >= KEYS) return;
        const history = histories[index]!;
        for (let attempt = 0; attempt <= APP_RETRIES && now() < writeDeadline; attempt++) {
          if (attempt > 0) await sleep(APP_BACKOFF_MS * 2 ** (attempt - 1));
          const startedAt = now();
          try {
            const result = await client.put(keyOf(index), String(index));
            history.attempts.push({ startedAt, endedAt: now(), outcome: 'ok', revision: result.header.revision });
            break;
          } catch (error) {
            const indeterminate = error instanceof EtcdError && error.maybeApplied;
            history.attempts.push({
              startedAt,
              endedAt: now(),
              outcome: indeterminate ? 'indeterminate' : 'definite',
              error: errorName(error) + (error instanceof EtcdError ? `: ${error.serverMessage ?? error.message}` : ''),
            });
          }
        }
      }
    };
    record.mark('writers start');
    await Promise.all(Array.from({ length: WRITERS }, writer));
    const writesEndedAt = now();
    record.mark('writers done', { issued: Math.min(nextIndex, KEYS) });
    await controller;
    expect(controllerError, 'the fault controller failed').toBeUndefined();
    expect(victim, 'the fault was injected').toBeDefined();

    // ---- Oracle: a linearizable range of the prefix on every member, a client per member.
    const perMember = new Map<string, Map<string, { value: string; modRevision: bigint; version: bigint }>>();
    for (const member of c.members) {
      const reader = new Etcd({ endpoints: [member.endpoint], timeoutMs: 15_000 });
      clients.push(reader);
      const result = await reader.range(Range.key(PREFIX).withPrefix());
      const kvs = new Map<string, { value: string; modRevision: bigint; version: bigint }>();
      for (const kv of result.kvs) kvs.set(kv.keyText(), { value: kv.text(), modRevision: kv.modRevision, version: kv.version });
      perMember.set(member.name, kvs);
      await reader.close();
    }
    record.mark('oracle ranges read');

    // ---- Per-key analysis.
    let acked = 0;
    let lost = 0;
    let exhausted = 0;
    let indeterminate = 0;
    let indeterminateApplied = 0;
    let definite = 0;
    let hiddenRetries = 0;
    let definiteApplied = 0;
    let unackedButPresent = 0;
    const lostSamples: unknown[] = [];
    const violationSamples: unknown[] = [];
    const errorsByClass: string[] = [];
    const callsPerKey: number[] = [];
    const reference = perMember.get(victim!.name === 'm1' ? 'm2' : 'm1')!;
    for (const history of histories) {
      const key = keyOf(history.index);
      const calls = history.attempts.length;
      if (calls === 0) continue;
      callsPerKey.push(calls);
      const ack = history.attempts.find((a) => a.outcome === 'ok');
      const ind = history.attempts.filter((a) => a.outcome === 'indeterminate').length;
      const def = history.attempts.filter((a) => a.outcome === 'definite').length;
      indeterminate += ind;
      definite += def;
      for (const a of history.attempts) if (a.error) errorsByClass.push(`${a.outcome}: ${a.error.split(':')[0]}`);
      if (ack) acked++;
      else exhausted++;
      for (const [name, kvs] of perMember) {
        const kv = kvs.get(key);
        if (ack && (kv === undefined || kv.value !== String(history.index) || kv.modRevision !== ack.revision)) {
          lost++;
          if (lostSamples.length < 10) lostSamples.push({ key, member: name, ack: ack.revision, found: kv });
        }
      }
      const kv = reference.get(key);
      const version = kv === undefined ? 0 : Number(kv.version);
      if (!ack && kv !== undefined) unackedButPresent++;
      // Every SDK call may have applied at most once: version <= calls issued for the key.
      if (version > calls) {
        hiddenRetries++;
        if (violationSamples.length < 10) violationSamples.push({ key, version, calls, attempts: history.attempts });
      }
      // Definite failures (maybeApplied false) must not have applied: version <= acked + indeterminate.
      const applicable = (ack ? 1 : 0) + ind;
      if (version > applicable) {
        definiteApplied++;
        if (violationSamples.length < 10) violationSamples.push({ key, version, applicable, attempts: history.attempts });
      }
      indeterminateApplied += Math.max(0, Math.min(ind, version - (ack ? 1 : 0)));
    }

    // ---- Convergence: same revision on every member, same hashKV at that revision.
    const statuses = await convergedStatuses(c.members, 15_000);
    const revisions = statuses.map((s) => s.revision);
    const revision = revisions[0]!;
    const hashes = await Promise.all(c.members.map((m) => hashKV(m.endpoint, revision)));
    const leaderChangesAfter = await leaderChanges(c.members);
    record.mark('convergence checked', { revision });

    // ---- Figures.
    const okAttempts = histories.flatMap((h) => h.attempts.filter((a) => a.outcome === 'ok'));
    const latencies = histories.flatMap((h) => h.attempts.map((a) => a.endedAt - a.startedAt));
    const okLatencies = okAttempts.map((a) => a.endedAt - a.startedAt);
    const firstAckAfterKill = Math.min(...okAttempts.filter((a) => a.endedAt > killedAt).map((a) => a.endedAt));
    const firstAckIssuedAfterKill = Math.min(
      ...okAttempts.filter((a) => a.startedAt > killedAt).map((a) => a.endedAt),
    );
    const throughput = (from: number, to: number): number =>
      round(okAttempts.filter((a) => a.endedAt >= from && a.endedAt < to).length / ((to - from) / 1000));
    const survivors = c.members.filter((m) => m !== victim);
    record.figures['acked'] = acked;
    record.figures['lost'] = lost;
    record.figures['exhaustedUnacked'] = exhausted;
    record.figures['unackedButPresent'] = unackedButPresent;
    record.figures['sdkCalls'] = callsPerKey.reduce((a, b) => a + b, 0);
    record.figures['maxCallsPerKey'] = Math.max(...callsPerKey);
    record.figures['indeterminate'] = indeterminate;
    record.figures['indeterminateApplied'] = indeterminateApplied;
    record.figures['definiteFailures'] = definite;
    record.figures['failuresByClass'] = tally(errorsByClass);
    record.figures['unavailabilityMs'] = {
      killToFirstAck: round(firstAckAfterKill - killedAt),
      killToFirstAckOfCallIssuedAfterKill: round(firstAckIssuedAfterKill - killedAt),
    };
    record.figures['throughputPutsPerSec'] = {
      beforeKill: throughput(t0, killedAt),
      killToRestartHealthy: throughput(killedAt, restartedAt),
      afterRestart: throughput(restartedAt, writesEndedAt),
      overall: throughput(t0, writesEndedAt),
    };
    record.figures['latencyMs'] = {
      p50: round(percentile(okLatencies, 50)),
      p99: round(percentile(okLatencies, 99)),
      max: round(Math.max(...latencies)),
      p99AllCalls: round(percentile(latencies, 99)),
    };
    record.figures['leaderChanges'] = {
      before: leaderChangesBefore,
      after: leaderChangesAfter,
      note: `${victim!.name} was killed and restarted, so its counter restarted from 0`,
    };
    record.figures['killedLeader'] = victim!.name;
    record.figures['killedLeaderWasPinnedEndpoint'] = victim!.endpoint === endpoints[0];
    record.figures['phasesMs'] = {
      kill: round(killedAt - t0),
      restartIssued: round(restartIssuedAt - t0),
      restartHealthy: round(restartedAt - t0),
      writesEnded: round(writesEndedAt - t0),
    };
    record.figures['finalRevision'] = revisions;
    record.figures['hashKV'] = hashes.map((h, i) => ({ member: c.members[i]!.name, ...h }));
    record.figures['clientInfoAfter'] = client.info().map((e) => ({ endpoint: e.endpoint, state: e.state, pinned: e.pinned, failures: e.failures }));

    // ---- Properties.
    const survivorDeltas = survivors.map((m) => (leaderChangesAfter[m.name] ?? 0) - (leaderChangesBefore[m.name] ?? 0));
    record.check('every key was issued within the budget', histories.every((h) => h.attempts.length > 0), {
      issued: callsPerKey.length,
    });
    record.check('no acked write lost (value and mod_revision of the last ack, on every member)', lost === 0, lostSamples);
    record.check('per key version <= SDK calls issued (no hidden mutation retries)', hiddenRetries === 0, violationSamples);
    record.check('no definite failure (maybeApplied false) was applied', definiteApplied === 0, violationSamples);
    record.check(
      'all members hold the same keys',
      [...perMember.values()].every((kvs) => kvs.size === reference.size),
      Object.fromEntries([...perMember].map(([name, kvs]) => [name, kvs.size])),
    );
    record.check('all members report the same revision', new Set(revisions).size === 1, revisions);
    record.check('all members have the same hashKV at that revision', new Set(hashes.map((h) => h.hash)).size === 1, hashes);
    record.check('surviving members saw the leader change', survivorDeltas.every((d) => d >= 1), survivorDeltas);
    record.check('write phase under 90 s', writesEndedAt - t0 < 90_000, round(writesEndedAt - t0));
    if (survivorDeltas.some((d) => d > 2)) {
      record.notes.push(`unexpected leader changes on survivors: ${survivorDeltas.join(', ')} (expected 1-2)`);
    }
    record.end('run');
    await record.write(
      `acked ${acked}/${KEYS}, lost ${lost}, indeterminate ${indeterminate} (applied ${indeterminateApplied}), ` +
        `unavailable ${round(firstAckIssuedAfterKill - killedAt, 0)} ms, p99 ${round(percentile(okLatencies, 99), 0)} ms, ` +
        `puts/s before/during/after ${JSON.stringify(record.figures['throughputPutsPerSec'])}, ` +
        `leader changes ${JSON.stringify(survivorDeltas)}`,
    );
    expect(record.failed()).toEqual([]);
  }, 120_000);
});

async function leaderChanges(members: readonly EtcdMember[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const member of members) {
    out[member.name] = member.running ? await member.metric('etcd_server_leader_changes_seen_total') : Number.NaN;
  }
  return out;
}

/** Polls every member's status (bounded) until they all report the same revision. */
async function convergedStatuses(members: readonly EtcdMember[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(members.map((m) => m.status(2_000)));
    if (new Set(statuses.map((s) => s.revision)).size === 1 || Date.now() > deadline) return statuses;
    await sleep(100);
  }
}
