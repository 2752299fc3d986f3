/**
 * F4 (RELIABILITY 8.F, TestBalancerUnderNetworkPartition{Put,Delete,Txn,LinearizableGet}): the
 * member the client is pinned to is cut off from its peers (peer proxies; clients still reach
 * it). Each operation is retried by the application with a CALL_TIMEOUT_MS deadline, as the Go
 * test does; it must succeed on another member within 5 s of the isolation, and the first
 * failure, if any, must be a typed EtcdError.
 *
 * The isolated member refuses calls that need a leader as soon as it knows it has none
 * (require-leader metadata on every such call), which moves the client to another member; a
 * call sent before that waits for its deadline. The linearizable get round isolates the
 * leader, the others a follower.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Compare, Etcd, EtcdError, Op } from 'etcdkit';
import { startEtcdCluster, type EtcdCluster, type EtcdMember } from 'etcdkit/testing';
import { errorName, FaultRecord, now, round, sleep } from './support.js';

const CALL_TIMEOUT_MS = 1_500;
const SUCCESS_BOUND_MS = 5_000;
const ROUND_BUDGET_MS = 15_000;

type Kind = 'put' | 'delete' | 'txn' | 'linearizable get';

const record = new FaultRecord('F4', 'pinned member isolated from its peers');

async function operate(etcd: Etcd, kind: Kind): Promise<void> {
  const options = { timeoutMs: CALL_TIMEOUT_MS };
  if (kind === 'put') await etcd.put('f4/k', 'put', options);
  else if (kind === 'delete') await etcd.delete('f4/k', options);
  else if (kind === 'txn') {
    await etcd.txn().if(Compare.version('f4/k').greater(-1)).then(Op.put('f4/k', 'txn')).commit(options);
  } else await etcd.get('f4/k', options);
}

/**
 * Writes the seed value before a round, retrying while the cluster settles: a healed member
 * comes back with a higher term and, without pre-vote, can cause a few seconds of elections.
 */
async function seed(etcd: Etcd): Promise<number> {
  const started = now();
  for (;;) {
    try {
      await etcd.put('f4/k', 'seed', { timeoutMs: 2_000 });
      return now() - started;
    } catch (error) {
      if (now() - started > ROUND_BUDGET_MS) throw error;
      await sleep(200);
    }
  }
}

/** Waits until the member reports a leader again (after heal). */
async function rejoined(member: EtcdMember, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leader = await member.status(500).then((s) => s.leader, () => '0');
    if (leader !== '0') return true;
    await sleep(100);
  }
  return false;
}

describe('F4: the pinned member is isolated', () => {
  let cluster: EtcdCluster | undefined;

  afterAll(async () => {
    await cluster?.close();
    record.config = {
      topology: '3-node cluster with a fault proxy in front of every peer port; the client talks to the members directly',
      fault: 'isolate the pinned member: its peer proxy refuses everything, the others drop its connections (X-Server-From)',
      callTimeoutMs: CALL_TIMEOUT_MS,
      successBoundMs: SUCCESS_BOUND_MS,
      retries: 'the application retries each failed call at once, up to the round budget; the SDK retries only what provably did not apply',
    };
    const rounds = record.figures['rounds'] as Array<{ kind: string; firstSuccessMs: number | null }> | undefined;
    await record.write(`first success after isolation: ${rounds?.map((r) => `${r.kind} ${r.firstSuccessMs} ms`).join(', ')}`);
  });

  it('put, delete, txn and linearizable get succeed on another member within 5 s', async () => {
    record.begin('rounds');
    cluster = await startEtcdCluster({ size: 3, peerProxies: true });
    record.etcdVersion = (await cluster.members[0]!.status()).version;
    const rounds: Array<Record<string, unknown>> = [];
    const kinds: Kind[] = ['put', 'delete', 'txn', 'linearizable get'];
    for (const kind of kinds) {
      const settle = new Etcd({ endpoints: cluster.endpoints });
      const settledMs = await seed(settle).finally(() => settle.close());
      const leader = await cluster.leader();
      const target = kind === 'linearizable get' ? leader : (await cluster.followers())[0]!;
      const others = cluster.members.filter((m) => m !== target).map((m) => m.endpoint);
      const etcd = new Etcd({ endpoints: [target.endpoint, ...others] });
      try {
        await etcd.get('f4/k');
        await cluster.isolate(target);
        const t0 = now();
        record.mark(`${kind}: isolated ${target.name}${target === leader ? ' (leader)' : ''}`);
        const failures: Array<{ atMs: number; error: string; maybeApplied?: boolean }> = [];
        let successMs: number | undefined;
        while (successMs === undefined && now() - t0 < ROUND_BUDGET_MS) {
          try {
            await operate(etcd, kind);
            successMs = now() - t0;
          } catch (error) {
            failures.push({
              atMs: round(now() - t0),
              error: error instanceof EtcdError ? error.name : `untyped ${errorName(error)}`,
              maybeApplied: error instanceof EtcdError ? error.maybeApplied : undefined,
            });
          }
        }
        const pinned = etcd.info().find((e) => e.pinned);
        rounds.push({
          kind,
          isolated: target.name,
          isolatedWasLeader: target === leader,
          settleBeforeRoundMs: round(settledMs),
          firstSuccessMs: successMs === undefined ? null : round(successMs),
          failures,
          pinnedAfter: pinned?.endpoint === target.endpoint ? 'the isolated member' : 'another member',
        });
        record.check(`${kind}: succeeded within ${SUCCESS_BOUND_MS} ms`, successMs !== undefined && successMs <= SUCCESS_BOUND_MS, successMs);
        record.check(`${kind}: every failure typed`, failures.every((f) => !f.error.startsWith('untyped')), failures);
        record.check(`${kind}: calls moved off the isolated member`, pinned?.endpoint !== target.endpoint, pinned?.endpoint);
      } finally {
        await cluster.heal();
        await etcd.close();
      }
      record.mark(`${kind}: healed`);
      record.check(`${kind}: the isolated member rejoined`, await rejoined(target, 15_000));
    }
    record.figures['rounds'] = rounds;
    record.end('rounds');
    expect(record.failed()).toEqual([]);
  }, 120_000);
});
