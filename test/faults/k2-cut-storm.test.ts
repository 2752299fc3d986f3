/**
 * K2 (RELIABILITY 8.B, TestKVPutAtMostOnce): 50 rounds of put(k, round) through a fault proxy
 * that cuts every connection every 5 ms. A put is applied at most once per call; each call's
 * promise settles exactly once, within its deadline; no rejection is left unhandled.
 *
 * Two client configurations run the same rounds: the defaults, and one whose grpc-js reconnect
 * backoff is short. Under a continuous storm the default channel spends most of its time in
 * grpc-js's reconnect backoff (500 ms growing to 5 s), where calls fail fast before anything is
 * sent, so few or no puts may reach the server; the short backoff makes many more attempts
 * reach the server and be cut mid-flight, which is what exercises at-most-once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type EtcdOptions, EtcdError, type PutResult } from 'etcdkit';
import {
  errorName,
  FaultRecord,
  now,
  type ProxiedEtcd,
  round,
  SettlementTracker,
  sleep,
  spyUnaryCompletions,
  tally,
  useProxiedEtcd,
} from './support.js';

const ROUNDS = 50;
const CALL_TIMEOUT_MS = 2_000;
/** Allowed lateness of a settlement past its deadline (event-loop and timer slack). */
const SETTLE_MARGIN_MS = 100;
const CUT_EVERY_MS = 5;
/** Bounds of each cut loop, in count and time. */
const MAX_CUTS = 20_000;
const CUT_LOOP_BUDGET_MS = 60_000;

interface Variant {
  name: string;
  key: string;
  options: Omit<EtcdOptions, 'endpoints'>;
  /** Whether a run in which no put reached the server counts as a failure (else it is noted). */
  requireReach: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'default', key: 'k2/default', options: {}, requireReach: false },
  {
    name: 'fast-reconnect',
    key: 'k2/fast-reconnect',
    options: { grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 10, 'grpc.max_reconnect_backoff_ms': 50 } },
    requireReach: true,
  },
];

const record = new FaultRecord('K2', 'at-most-once under a cut storm');

describe('K2: at-most-once put under a cut storm', () => {
  const etcd = useProxiedEtcd(record, {
    summary: () =>
      VARIANTS.map((v) => {
        const f = record.figures[v.name] as Record<string, unknown> | undefined;
        return f
          ? `${v.name}: ok ${String(f['successes'])}, indeterminate ${String(f['indeterminate'])} (applied ${String(f['indeterminateApplied'])}), ` +
              `definite ${String(f['definiteFailures'])}, final version ${String(f['finalVersion'])}, ${String(f['cuts'])} cuts`
          : `${v.name}: not run`;
      }).join('; '),
  });

  beforeAll(() => {
    record.config = {
      rounds: ROUNDS,
      callTimeoutMs: CALL_TIMEOUT_MS,
      settleMarginMs: SETTLE_MARGIN_MS,
      cutEveryMs: CUT_EVERY_MS,
      maxCuts: MAX_CUTS,
      cutLoopBudgetMs: CUT_LOOP_BUDGET_MS,
      client: 'one client on the proxy endpoint per variant; rounds are sequential',
      variants: Object.fromEntries(VARIANTS.map((v) => [v.name, { key: v.key, options: v.options }])),
    };
  });

  for (const variant of VARIANTS) {
    it(`${variant.name}: applies each put at most once, settles every call once within its deadline`, async () => {
      await runVariant(variant, etcd);
    }, 120_000);
  }
});

async function runVariant(variant: Variant, etcd: ProxiedEtcd): Promise<void> {
  record.begin(variant.name);
  const firstCheck = record.checks.length;
  const proxy = etcd.proxy;
  const client = etcd.client(variant.options);
  const direct = etcd.directClient();
  const spy = spyUnaryCompletions();
  const tracker = new SettlementTracker();
  const rounds: Array<{ round: number; outcome: 'ok' | 'indeterminate' | 'definite'; elapsedMs: number; revision?: bigint; error?: string }> = [];
  const statsBefore = await proxy.stats();

  let stop = false;
  let cuts = 0;
  let cutErrors = 0;
  const cutStartedAt = now();
  record.mark(`${variant.name}: cut loop start`);
  const cutLoop = (async () => {
    const until = now() + CUT_LOOP_BUDGET_MS;
    while (!stop && cuts < MAX_CUTS && now() < until) {
      try {
        await proxy.cut();
        cuts++;
      } catch {
        cutErrors++;
      }
      await sleep(CUT_EVERY_MS);
    }
  })();

  try {
    for (let r = 0; r < ROUNDS; r++) {
      const { entry, promise } = tracker.track(`put round ${r}`, () => client.put(variant.key, String(r), { timeoutMs: CALL_TIMEOUT_MS }));
      const settled = await promise;
      const elapsedMs = settled.settledAt[0]! - entry.startedAt;
      if (settled.outcome === 'resolved') {
        rounds.push({ round: r, outcome: 'ok', elapsedMs, revision: (settled.value as PutResult).header.revision });
      } else {
        const error = settled.error;
        const indeterminate = error instanceof EtcdError && error.maybeApplied;
        rounds.push({
          round: r,
          outcome: indeterminate ? 'indeterminate' : 'definite',
          elapsedMs,
          error: errorName(error) + (error instanceof EtcdError ? `: ${error.serverMessage ?? error.message}` : ''),
        });
      }
    }
  } finally {
    stop = true;
    await cutLoop;
    record.mark(`${variant.name}: cut loop stop`, { cuts, cutErrors });
  }
  const cutLoopMs = now() - cutStartedAt;
  // Give grpc-js time to deliver any late completion before counting them.
  await sleep(500);
  spy.restore();

  // ---- Oracle: the key's full history, read directly (not through the proxy): every revision
  // from create to mod at which the key was modified is one applied put, carrying its round.
  const finalKv = await direct.get(variant.key);
  const history: Array<{ revision: bigint; value: number }> = [];
  if (finalKv) {
    for (let rev = finalKv.createRevision; rev <= finalKv.modRevision; rev++) {
      const kv = await direct.get(variant.key, { revision: rev });
      if (kv && kv.modRevision === rev) history.push({ revision: rev, value: Number(kv.text()) });
    }
  }
  const finalVersion = finalKv ? Number(finalKv.version) : 0;
  const successes = rounds.filter((r) => r.outcome === 'ok');
  const indeterminate = rounds.filter((r) => r.outcome === 'indeterminate');
  const definite = rounds.filter((r) => r.outcome === 'definite');
  const appliedRounds = history.map((h) => h.value);
  const appliedTwice = Object.entries(tally(appliedRounds.map(String))).filter(([, n]) => n > 1);
  const definiteApplied = definite.filter((r) => appliedRounds.includes(r.round));
  const successMissing = successes.filter((r) => !history.some((h) => h.value === r.round && h.revision === r.revision));
  const indeterminateApplied = indeterminate.filter((r) => appliedRounds.includes(r.round));
  const late = rounds.filter((r) => r.elapsedMs > CALL_TIMEOUT_MS + SETTLE_MARGIN_MS);
  const badCompletions = spy.calls.filter((c) => c.callbacks !== 1);
  const inFlightAfter = client.info().reduce((sum, e) => sum + e.inFlight, 0);
  const nonEtcdErrors = tracker.all.filter((t) => t.outcome === 'rejected' && !(t.error instanceof EtcdError));
  const statsAfter = await proxy.stats();
  const reached = successes.length + indeterminate.length;

  record.figures[variant.name] = {
    successes: successes.length,
    indeterminate: indeterminate.length,
    indeterminateApplied: indeterminateApplied.length,
    definiteFailures: definite.length,
    definiteByClass: tally(definite.map((r) => r.error!.split(':')[0]!)),
    indeterminateByClass: tally(indeterminate.map((r) => r.error!.split(':')[0]!)),
    failureMessages: tally(
      [...definite, ...indeterminate].map((r) => `${r.outcome}: ${r.error!.replace(/ \(\d{4}-[^)]*\)/g, '').slice(0, 120)}`),
    ),
    finalVersion,
    appliedRounds,
    cuts,
    cutLoopMs: round(cutLoopMs),
    meanCutIntervalMs: round(cutLoopMs / Math.max(1, cuts), 2),
    grpcUnaryAttempts: spy.calls.length,
    connectionsAccepted: statsAfter.accepted - statsBefore.accepted,
    settleMs: {
      max: round(Math.max(...rounds.map((r) => r.elapsedMs))),
      maxOvershootPastDeadline: round(Math.max(0, ...rounds.map((r) => r.elapsedMs - CALL_TIMEOUT_MS))),
    },
  };

  const v = variant.name;
  record.check(`${v}: final version <= successes + indeterminate`, finalVersion <= reached, {
    finalVersion,
    successes: successes.length,
    indeterminate: indeterminate.length,
  });
  record.check(`${v}: no round applied twice (no hidden mutation retry)`, appliedTwice.length === 0, appliedTwice);
  record.check(`${v}: no definite failure (maybeApplied false) was applied`, definiteApplied.length === 0, definiteApplied);
  record.check(`${v}: every acked put is in the history at its revision`, successMissing.length === 0, successMissing);
  record.check(`${v}: every promise settled exactly once`, tracker.pending().length === 0 && tracker.settledMoreThanOnce().length === 0);
  record.check(`${v}: grpc-js completed every unary call exactly once`, badCompletions.length === 0, badCompletions.slice(0, 5));
  record.check(`${v}: no call left in flight in the SDK`, inFlightAfter === 0, inFlightAfter);
  record.check(`${v}: every call settled within its deadline + ${SETTLE_MARGIN_MS} ms`, late.length === 0, late);
  record.check(`${v}: every rejection is an EtcdError`, nonEtcdErrors.length === 0, nonEtcdErrors.map((t) => String(t.error)));
  record.check(`${v}: the cut loop ran during the whole write phase`, cuts > 0 && cutErrors === 0, { cuts, cutErrors });
  if (variant.requireReach) {
    record.check(`${v}: validity: some puts reached the server (ok or indeterminate)`, reached > 0, reached);
  } else if (reached === 0) {
    record.notes.push(`${v}: no put reached the server in this run, so at-most-once was only checked vacuously`);
  }
  record.end(variant.name);
  expect(record.checks.slice(firstCheck).filter((c) => !c.ok)).toEqual([]);
}
