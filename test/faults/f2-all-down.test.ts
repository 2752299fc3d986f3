/**
 * F2 (RELIABILITY 8.F): every endpoint down, then up. A 3-node cluster sits behind one fault
 * proxy per member; the client knows only the proxies. All three refuse for OUTAGE_MS while a
 * reader keeps calling; then they heal. The same client recovers without being re-created;
 * while down, every call rejects typed within its deadline, dial attempts stay at or below
 * 2/s after warm-up, and the client process uses under 5% CPU.
 *
 * RELIABILITY asks for a 30 s outage; this runs OUTAGE_MS (10 s) to keep the suite short. The
 * dial rate is measured after WARM_UP_MS, when grpc-js's reconnect backoff has grown. Watches
 * and leases resuming after the outage belong to those parts' own fault tests (W1, L4).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EtcdError } from 'etcdkit';
import { FailoverRig } from './failover-support.js';
import { errorName, FaultRecord, now, percentile, round, sleep, tally } from './support.js';

const OUTAGE_MS = 10_000;
const WARM_UP_MS = 3_000;
const CALL_TIMEOUT_MS = 1_000;
const CALL_EVERY_MS = 250;
/** Allowed lateness of a rejection past its deadline. */
const SETTLE_MARGIN_MS = 100;
const MAX_DIALS_PER_S = 2;
const MAX_CPU = 0.05;
const RECOVERY_BUDGET_MS = 15_000;

const record = new FaultRecord('F2', 'all endpoints down for a while, then up');

describe('F2: all endpoints down, then up', () => {
  const rig = new FailoverRig();
  const proxies = rig.proxies;

  afterAll(async () => {
    await rig.close();
    record.config = {
      outageMs: OUTAGE_MS,
      note: 'RELIABILITY F2 asks for 30 s down; 10 s here to keep the suite short',
      warmUpMs: WARM_UP_MS,
      callTimeoutMs: CALL_TIMEOUT_MS,
      callEveryMs: CALL_EVERY_MS,
      maxDialsPerSecond: MAX_DIALS_PER_S,
      maxCpuShare: MAX_CPU,
      topology: '3-node cluster, one fault proxy per member in refuse mode during the outage; client knows only the proxies',
      client: 'default options (grpc-js reconnect backoff 250 ms growing to 2 s)',
      notCovered: 'watch and lease resumption (watch and lease fault tests W1/L4 cover them)',
    };
    await record.write(
      `recovery ${JSON.stringify(record.figures['recoveryMs'])} ms after heal, ` +
        `${JSON.stringify(record.figures['dialsPerSecondAfterWarmUp'])} dials/s while down, CPU ${JSON.stringify(record.figures['cpuShareWhileDown'])}`,
    );
  });

  it('rejects typed while down, dials slowly, and recovers without re-creation', async () => {
    record.begin('outage');
    const cluster = await rig.start(true);
    record.etcdVersion = (await cluster.members[0]!.status()).version;
    const etcd = rig.client({ endpoints: proxies.map((p) => p.endpoint) });
    await etcd.put('f2/before', '1');
    expect((await etcd.get('f2/before'))?.text()).toBe('1');

    const acceptedAt = async (): Promise<number> => (await Promise.all(proxies.map((p) => p.stats()))).reduce((n, s) => n + s.accepted, 0);
    await Promise.all(proxies.map((p) => p.refuse()));
    const downAt = now();
    record.mark('all proxies refuse');

    // The reader: one get every CALL_EVERY_MS, each with its own deadline, for the whole outage.
    const outcomes: Array<{ ms: number; error: string; late: number }> = [];
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const started = now();
        try {
          await etcd.get('f2/before', { timeoutMs: CALL_TIMEOUT_MS });
          outcomes.push({ ms: round(now() - started), error: 'none', late: 0 });
        } catch (error) {
          const ms = now() - started;
          outcomes.push({ ms: round(ms), error: error instanceof EtcdError ? error.name : `untyped ${errorName(error)}`, late: round(ms - CALL_TIMEOUT_MS) });
        }
        await sleep(CALL_EVERY_MS);
      }
    })();

    await sleep(WARM_UP_MS);
    const dialsAtWarmUp = await acceptedAt();
    const cpuStart = process.cpuUsage();
    const cpuWallStart = now();
    await sleep(OUTAGE_MS - WARM_UP_MS);
    const cpu = process.cpuUsage(cpuStart);
    const cpuWall = now() - cpuWallStart;
    const dialsAtEnd = await acceptedAt();
    stop = true;
    await reader;

    await Promise.all(proxies.map((p) => p.heal()));
    const healedAt = now();
    record.mark('all proxies healed', { downForMs: round(healedAt - downAt) });
    let recoveryMs: number | undefined;
    let attempts = 0;
    while (recoveryMs === undefined && now() - healedAt < RECOVERY_BUDGET_MS) {
      attempts++;
      try {
        await etcd.get('f2/before', { timeoutMs: CALL_TIMEOUT_MS });
        recoveryMs = now() - healedAt;
      } catch {
        await sleep(50);
      }
    }
    record.mark('first success after heal', { recoveryMs: recoveryMs === undefined ? null : round(recoveryMs) });
    await etcd.put('f2/after', '2');
    const after = (await etcd.get('f2/after'))?.text();

    const dialsPerSecond = (dialsAtEnd - dialsAtWarmUp) / ((OUTAGE_MS - WARM_UP_MS) / 1000);
    const cpuShare = (cpu.user + cpu.system) / 1000 / cpuWall;
    const failures = outcomes.filter((o) => o.error !== 'none');
    const worstLate = Math.max(0, ...failures.map((o) => o.late));
    record.figures['callsWhileDown'] = outcomes.length;
    record.figures['errorClassesWhileDown'] = tally(outcomes.map((o) => o.error));
    record.figures['rejectionMs'] = { p50: round(percentile(failures.map((o) => o.ms), 50)), max: round(Math.max(0, ...failures.map((o) => o.ms))) };
    record.figures['worstLatenessPastDeadlineMs'] = worstLate;
    record.figures['dialsDuringOutage'] = dialsAtEnd;
    record.figures['dialsPerSecondAfterWarmUp'] = round(dialsPerSecond, 2);
    record.figures['cpuShareWhileDown'] = round(cpuShare, 4);
    record.figures['recoveryMs'] = recoveryMs === undefined ? null : round(recoveryMs);
    record.figures['callsUntilRecovery'] = attempts;
    record.figures['infoAfter'] = etcd.info().map((e) => ({ endpoint: e.endpoint, state: e.state.status, failures: e.failures }));

    record.check('every call while down rejected with a typed EtcdError', outcomes.every((o) => !o.error.startsWith('untyped')), record.figures['errorClassesWhileDown']);
    record.check('no call succeeded while every endpoint refused', outcomes.every((o) => o.error !== 'none'));
    record.check(`every rejection within its deadline + ${SETTLE_MARGIN_MS} ms`, worstLate <= SETTLE_MARGIN_MS, worstLate);
    record.check(`dial attempts after warm-up <= ${MAX_DIALS_PER_S}/s`, dialsPerSecond <= MAX_DIALS_PER_S, round(dialsPerSecond, 2));
    record.check(`client CPU while down < ${MAX_CPU * 100}%`, cpuShare < MAX_CPU, round(cpuShare, 4));
    record.check('the same client recovers after heal', recoveryMs !== undefined, recoveryMs);
    record.check('writes work again', after === '2', after);
    record.end('outage');
    expect(record.failed()).toEqual([]);
  }, 60_000);
});
