/**
 * C6 (RELIABILITY 8.D; microsoft/etcd3 #158): etcd (one node) is killed and restarted while
 * three candidates keep campaigning (two through the election service, one with the recipe),
 * with outages shorter than the TTL, about 3×TTL and about 10×TTL (TTL 2 s). A leader acts
 * every 50 ms through a guarded transaction tagged with its term (the leader key's create
 * revision) until its leadership is lost, then campaigns again.
 *
 * → At most one candidate acts as leader at any revision: each applied action, read back from
 *   etcd, is checked against the leader at its revision (the oldest candidate key, read at that
 *   revision). No campaign stays stuck: every campaign started before the last restart has
 *   settled (a campaign whose session died rejects with SessionExpiredError). After each
 *   restart one leader emerges and acts.
 * Figures: dual-leader overlap (two candidates believing they lead at once), action
 * violations, time from each restart to the first action, campaign outcomes.
 */
import { describe, expect, it } from 'vitest';
import { type Etcd, LeadershipLostError, Op, Range } from 'etcdkit';
import { useLeaseScenario } from './lease-probe.js';
import { errorName, FaultRecord, round, sleep, tally } from './support.js';

const TTL = 2;
/** The ~10×TTL outage (20 s) runs in the full tier (`FAULT_TIER=full`), to keep the default suite short. */
const FULL_TIER = process.env['FAULT_TIER'] === 'full';
const OUTAGES_MS = FULL_TIER ? [0, 3 * TTL * 1000, 10 * TTL * 1000] : [0, 3 * TTL * 1000];
const ACT_EVERY_MS = 50;
const SETTLE_MS = 3_000;
const NAME = 'c6/election';
const ACTIONS = 'c6/actions/';

interface Belief {
  candidate: number;
  term: bigint;
  from: number;
  to: number;
}

interface Campaign {
  candidate: number;
  startedAt: number;
  settledAt?: number;
  outcome?: string;
}

const record = new FaultRecord('C6', `etcd restarts during an election: outages < TTL, ~3×TTL and ~10×TTL (TTL ${TTL} s)`);
const scenario = useLeaseScenario(record, { ttl: TTL, outagesMs: OUTAGES_MS, candidates: ['service', 'service', 'recipe'], actEveryMs: ACT_EVERY_MS }, () => {
  const f = record.figures;
  return `dual-leader overlap ${JSON.stringify(f['dualLeaderOverlaps'])}, action violations ${JSON.stringify(f['actionViolations'])}/${JSON.stringify(f['actions'])}, stuck campaigns ${JSON.stringify(f['stuckCampaigns'])}, restart→first action ${JSON.stringify(f['restartToFirstActionMs'])} ms`;
});

describe('C6: etcd restart during an election', () => {
  it('≤ 1 leader acting per revision, no campaign stuck, a leader after every restart', async () => {
    record.begin('restarts');
    const server = scenario.server;
    const modes = ['service', 'service', 'recipe'] as const;
    const clients: Etcd[] = modes.map(() => scenario.client({ grpcOptions: { 'grpc.max_reconnect_backoff_ms': 500 } }));
    const beliefs: Belief[] = [];
    const campaigns: Campaign[] = [];
    const actedAt: number[] = [];
    let stop = false;

    const candidate = async (index: number): Promise<void> => {
      const election = clients[index]!.election(NAME, { mode: modes[index] });
      let seq = 0;
      while (!stop) {
        const campaign: Campaign = { candidate: index, startedAt: performance.now() };
        campaigns.push(campaign);
        let leadership;
        try {
          leadership = await election.campaign(`candidate-${index}`, { ttl: TTL, signal: stopSignal.signal });
          campaign.outcome = 'elected';
        } catch (error) {
          campaign.outcome = errorName(error);
          campaign.settledAt = performance.now();
          await sleep(100);
          continue;
        }
        campaign.settledAt = performance.now();
        const belief: Belief = { candidate: index, term: leadership.revision, from: performance.now(), to: Number.POSITIVE_INFINITY };
        beliefs.push(belief);
        void leadership.lost.then(() => (belief.to = Math.min(belief.to, performance.now())));
        while (!stop && leadership.isHeld) {
          try {
            await leadership.guarded([Op.put(`${ACTIONS}${index}/${seq++}`, leadership.revision.toString())], { timeoutMs: 1_000 });
            actedAt.push(performance.now());
          } catch (error) {
            if (error instanceof LeadershipLostError) break;
          }
          await sleep(ACT_EVERY_MS);
        }
        belief.to = Math.min(belief.to, performance.now());
        await leadership.resign({ timeoutMs: 1_000 }).catch(() => undefined);
      }
    };
    const stopSignal = new AbortController();
    const running = modes.map((_, index) => candidate(index));

    await sleep(2_000);
    const restartToFirstAction: number[] = [];
    const outages: number[] = [];
    let lastRestartAt = 0;
    for (const outage of OUTAGES_MS) {
      const killedAt = performance.now();
      await server.kill();
      record.mark(`kill -9 etcd (down ${outage} ms, then restart)`);
      await sleep(outage);
      await server.start();
      lastRestartAt = performance.now();
      outages.push(round(lastRestartAt - killedAt));
      record.mark('etcd restarted and healthy');
      await sleep(SETTLE_MS);
      const first = actedAt.find((at) => at > lastRestartAt);
      restartToFirstAction.push(first === undefined ? Number.NaN : round(first - lastRestartAt));
    }
    stop = true;
    stopSignal.abort();
    await Promise.all(running);
    record.mark('candidates stopped');

    // The oracle: every applied action against the leader at its revision.
    const checker = scenario.client();
    const applied = await checker.range(Range.key(ACTIONS).withPrefix());
    let violations = 0;
    for (const action of applied.kvs) {
      const leader = await checker.range(Range.key(`${NAME}/`).withPrefix().withSort('createRevision', 'ascend').withLimit(1).withRevision(action.modRevision));
      if (leader.kvs[0]?.createRevision.toString() !== action.text()) violations++;
    }
    let overlaps = 0;
    for (const [i, a] of beliefs.entries()) {
      for (const b of beliefs.slice(i + 1)) if (a.candidate !== b.candidate && a.from < b.to && b.from < a.to) overlaps++;
    }
    const stuck = campaigns.filter((c) => c.settledAt === undefined && c.startedAt < lastRestartAt).length;
    const terms = new Set(beliefs.map((b) => b.term)).size;
    Object.assign(record.figures, {
      dualLeaderOverlaps: overlaps,
      actionViolations: violations,
      actions: applied.kvs.length,
      terms,
      outagesMs: outages,
      restartToFirstActionMs: restartToFirstAction,
      stuckCampaigns: stuck,
      campaignOutcomes: tally(campaigns.map((c) => c.outcome ?? 'pending at stop')),
    });
    record.check('no applied action by a candidate that was not the leader at its revision', violations === 0, violations);
    record.check('no two candidates believed they led at the same time', overlaps === 0, overlaps);
    record.check('no campaign started before the last restart stayed pending', stuck === 0, stuck);
    record.check('a leader acted after every restart', restartToFirstAction.every((ms) => Number.isFinite(ms)), restartToFirstAction);
    record.check('leaders acted', applied.kvs.length > 0, applied.kvs.length);
    record.end('restarts');
    expect(record.failed()).toEqual([]);
  }, 120_000);
});
