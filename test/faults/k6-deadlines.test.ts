/**
 * K6 (RELIABILITY 8.B): deadlines and cancellation against a frozen server (SIGSTOP). Each call
 * rejects with a typed error within its deadline (target + 50 ms, asserted + 100 ms), an abort
 * cancels within 50 ms with the abort reason as `cause`, nothing is left pending after SIGCONT,
 * nothing settles twice, and `close()` rejects calls in flight and releases every handle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, ClientClosedError, DeadlineExceededError, Etcd, EtcdError } from 'etcdkit';
import { startEtcd, startFaultProxy, type EtcdServer } from 'etcdkit/testing';
import { activeResources, waitForResourcesAtMost } from '../helpers/etcd.js';
import { errorName, FaultRecord, now, round, type Settlement, SettlementTracker, sleep, spyUnaryCompletions } from './support.js';

const DEADLINES_MS = [500, 1_000, 2_000] as const;
/** Asserted bound past the deadline; RELIABILITY's target (reported) is 50 ms. */
const DEADLINE_SLACK_MS = 100;
const DEADLINE_TARGET_MS = 50;
/** Tolerated earliness (Date.now() granularity of the deadline). */
const EARLY_TOLERANCE_MS = 2;
const ABORT_AFTER_MS = 200;
const ABORT_BOUND_MS = 50;
const CLOSE_BOUND_MS = 100;
/** Upper bound on waiting for anything in this file; a promise still pending then is a failure. */
const GUARD_MS = 5_000;

const record = new FaultRecord('K6', 'deadlines and cancellation on a frozen server');

/** Waits for `promises`, but no longer than `ms`. */
async function settleWithin(promises: Array<Promise<unknown>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(promises), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof EtcdError)) return { name: errorName(error), message: String(error) };
  return { name: error.name, maybeApplied: error.maybeApplied, serverMessage: error.serverMessage, endpoint: error.endpoint };
}

describe('K6: deadlines and cancellation on a frozen server', () => {
  let server: EtcdServer | undefined;
  const clients: Etcd[] = [];

  beforeAll(async () => {
    server = await startEtcd({ keepDataOnFailure: true });
    record.etcdVersion = (await server.status()).version;
    record.config = {
      deadlinesMs: DEADLINES_MS,
      deadlineAssertedSlackMs: DEADLINE_SLACK_MS,
      deadlineTargetSlackMs: DEADLINE_TARGET_MS,
      abortAfterMs: ABORT_AFTER_MS,
      abortBoundMs: ABORT_BOUND_MS,
      closeBoundMs: CLOSE_BOUND_MS,
      fault: 'SIGSTOP the single member (server.pause()), SIGCONT after the calls settled',
    };
  });

  afterAll(async () => {
    if (server?.paused) server.resume();
    await Promise.all(clients.map((c) => c.close()));
    const deadline = record.figures['deadlines'] as Array<{ overshootMs: number }> | undefined;
    const worst = deadline ? Math.max(...deadline.map((d) => d.overshootMs)) : Number.NaN;
    await record.write(
      `max deadline overshoot ${round(worst, 1)} ms (target ${DEADLINE_TARGET_MS}: ${worst <= DEADLINE_TARGET_MS ? 'met' : 'missed'}), ` +
        `abort latency ${JSON.stringify(record.figures['abortLatencyMs'])} ms, ` +
        `close rejections ${JSON.stringify(record.figures['closeRejectionMs'])} ms, leaked handles ${JSON.stringify(record.figures['excessHandlesAfterClose'])}`,
    );
    if (record.verdict !== 'pass') server?.recordFailure('K6 failed');
    await server?.close();
  });

  it('deadline and abort reject on time with typed errors; nothing pending or late after SIGCONT', async () => {
    record.begin('deadlines');
    const firstCheck = record.checks.length;
    const s = server!;
    const client = new Etcd({ endpoints: s.endpoints });
    clients.push(client);
    // Connect first, so the calls below are sent on an established connection.
    await client.put('k6/warmup', 'x');
    expect((await client.get('k6/warmup'))?.text()).toBe('x');

    const spy = spyUnaryCompletions();
    const tracker = new SettlementTracker();
    const deadlineCalls: Array<{ kind: 'read' | 'write'; timeoutMs: number; entry: Settlement; p: Promise<Settlement> }> = [];
    const abortReason = new Error('K6: aborted by the test');
    const controller = new AbortController();
    let abortedAt = Number.NaN;
    try {
      s.pause();
      record.mark('SIGSTOP');
      for (const timeoutMs of DEADLINES_MS) {
        const readKey = `k6/warmup`;
        const writeKey = `k6/deadline-w${timeoutMs}`;
        const read = tracker.track(`get timeout ${timeoutMs}`, () => client.get(readKey, { timeoutMs }));
        deadlineCalls.push({ kind: 'read', timeoutMs, entry: read.entry, p: read.promise });
        const write = tracker.track(`put timeout ${timeoutMs}`, () => client.put(writeKey, 'v', { timeoutMs }));
        deadlineCalls.push({ kind: 'write', timeoutMs, entry: write.entry, p: write.promise });
      }
      const signal = controller.signal;
      const abortRead = tracker.track('get aborted', () => client.get('k6/warmup', { signal }));
      const abortWrite = tracker.track('put aborted', () => client.put('k6/abort-w', 'v', { signal }));
      const abortTimer = setTimeout(() => {
        abortedAt = now();
        record.mark('abort()');
        controller.abort(abortReason);
      }, ABORT_AFTER_MS);
      await settleWithin([...deadlineCalls.map((c) => c.p), abortRead.promise, abortWrite.promise], Math.max(...DEADLINES_MS) + GUARD_MS);
      clearTimeout(abortTimer);
      record.mark('calls settled (server still stopped)', { pending: tracker.pending().map((t) => t.label) });

      // ---- Deadlines.
      const deadlines = [];
      for (const call of deadlineCalls) {
        const entry = call.entry;
        const elapsed = entry.settledAt.length ? entry.settledAt[0]! - entry.startedAt : Number.NaN;
        const error = entry.error;
        deadlines.push({
          kind: call.kind,
          timeoutMs: call.timeoutMs,
          outcome: entry.outcome,
          elapsedMs: round(elapsed),
          overshootMs: round(elapsed - call.timeoutMs),
          ...describeError(error),
        });
        const label = `${call.kind} with timeoutMs ${call.timeoutMs}`;
        record.check(`${label} rejects with DeadlineExceededError`, error instanceof DeadlineExceededError, describeError(error));
        record.check(
          `${label} rejects within [deadline - ${EARLY_TOLERANCE_MS}, deadline + ${DEADLINE_SLACK_MS}] ms`,
          elapsed >= call.timeoutMs - EARLY_TOLERANCE_MS && elapsed <= call.timeoutMs + DEADLINE_SLACK_MS,
          round(elapsed),
        );
        // Error-mapping rule: a write whose request reached the (frozen) server may have been
        // applied; a read never is a mutation.
        const expected = call.kind === 'write';
        record.check(
          `${label}: maybeApplied is ${expected}`,
          error instanceof EtcdError && error.maybeApplied === expected,
          describeError(error),
        );
      }
      record.figures['deadlines'] = deadlines;
      const worstOvershoot = Math.max(...deadlines.map((d) => d.overshootMs));
      record.figures['deadlineOvershootMs'] = {
        max: worstOvershoot,
        targetMs: DEADLINE_TARGET_MS,
        targetMet: worstOvershoot <= DEADLINE_TARGET_MS,
      };

      // ---- Abort.
      const abortLatency: Record<string, number> = {};
      for (const [label, { entry }] of [
        ['read', abortRead],
        ['write', abortWrite],
      ] as const) {
        const error = entry.error;
        const latency = entry.settledAt.length ? entry.settledAt[0]! - abortedAt : Number.NaN;
        abortLatency[label] = round(latency, 2);
        record.check(`aborted ${label} rejects with CancelledError`, error instanceof CancelledError, describeError(error));
        record.check(`aborted ${label}: cause is the abort reason`, error instanceof Error && error.cause === abortReason);
        record.check(`aborted ${label} rejects within ${ABORT_BOUND_MS} ms of abort()`, latency >= 0 && latency <= ABORT_BOUND_MS, latency);
        const expected = label === 'write';
        record.check(
          `aborted ${label}: maybeApplied is ${expected} (the request was sent to the stopped server)`,
          error instanceof EtcdError && error.maybeApplied === expected,
          describeError(error),
        );
        record.figures[`abort${label === 'read' ? 'Read' : 'Write'}Error`] = describeError(error);
      }
      record.figures['abortLatencyMs'] = abortLatency;
    } finally {
      if (s.paused) {
        s.resume();
        record.mark('SIGCONT');
      }
    }

    // ---- After SIGCONT: nothing pending, nothing settles late.
    await sleep(1_000);
    spy.restore();
    record.check('no tracked promise is pending after SIGCONT', tracker.pending().length === 0, tracker.pending().map((t) => t.label));
    record.check('no promise settled twice', tracker.settledMoreThanOnce().length === 0);
    const badCompletions = spy.calls.filter((c) => c.callbacks !== 1);
    record.check(
      'grpc-js completed each call exactly once (no late resolve after the reject)',
      badCompletions.length === 0,
      badCompletions,
    );
    record.check('no call in flight in the SDK', client.info().every((e) => e.inFlight === 0), client.info());
    record.figures['grpcUnaryCallsWhileStopped'] = spy.calls.length;

    // ---- Whether the writes that gave up were applied once the server ran again. A write
    // reported maybeApplied: false must not be there.
    const writeKeys = [...DEADLINES_MS.map((ms) => `k6/deadline-w${ms}`), 'k6/abort-w'];
    const applied: Record<string, boolean> = {};
    for (const key of writeKeys) applied[key] = (await client.get(key, { timeoutMs: 5_000 })) !== undefined;
    record.figures['writesAppliedAfterSigcont'] = applied;
    const writeEntries = tracker.all.filter((t) => t.label.startsWith('put'));
    const contradictions = writeEntries.filter((t) => {
      const key = t.label === 'put aborted' ? 'k6/abort-w' : `k6/deadline-w${t.label.split(' ').pop()}`;
      return applied[key] && !(t.error instanceof EtcdError && t.error.maybeApplied);
    });
    record.check('no write reported maybeApplied false was applied', contradictions.length === 0, contradictions.map((t) => t.label));

    // ---- The client works again.
    const t = now();
    const put = await client.put('k6/after', 'again', { timeoutMs: 5_000 });
    const got = await client.get('k6/after', { timeoutMs: 5_000 });
    record.figures['firstCallAfterSigcontMs'] = round(now() - t);
    record.check('the client works again after SIGCONT', got?.text() === 'again' && got.modRevision === put.header.revision);
    record.end('deadlines');
    expect(record.checks.slice(firstCheck).filter((c) => !c.ok)).toEqual([]);
  }, 30_000);

  it('close() rejects calls in flight with ClientClosedError and releases every handle', async () => {
    record.begin('close');
    const firstCheck = record.checks.length;
    const s = server!;
    // Let the previous test's client finish closing, then take the baseline before creating this one.
    await sleep(200);
    const baseline = activeResources();
    record.figures['handleBaseline'] = Object.fromEntries(baseline);
    const client = new Etcd({ endpoints: s.endpoints });
    await client.put('k6/close-warmup', 'x');
    const tracker = new SettlementTracker();
    let closedAt: number;
    try {
      s.pause();
      record.mark('SIGSTOP (close test)');
      const calls = [
        tracker.track('get in flight', () => client.get('k6/close-warmup')).promise,
        tracker.track('put in flight', () => client.put('k6/close-w', 'v')).promise,
        tracker.track('put in flight, timeoutMs 20000', () => client.put('k6/close-w2', 'v', { timeoutMs: 20_000 })).promise,
      ];
      await sleep(200);
      closedAt = now();
      record.mark('client.close()');
      await client.close();
      await settleWithin(calls, GUARD_MS);
      const afterClose = tracker.track('get after close', () => client.get('k6/close-warmup')).promise;
      await settleWithin([afterClose], GUARD_MS);
    } finally {
      if (s.paused) {
        s.resume();
        record.mark('SIGCONT (close test)');
      }
    }
    const rejectionMs: Record<string, number> = {};
    const errors: Record<string, unknown> = {};
    for (const entry of tracker.all) {
      const latency = entry.settledAt.length ? entry.settledAt[0]! - Math.max(closedAt, entry.startedAt) : Number.NaN;
      rejectionMs[entry.label] = round(latency, 2);
      errors[entry.label] = describeError(entry.error);
      record.check(`${entry.label}: rejects with ClientClosedError`, entry.error instanceof ClientClosedError, describeError(entry.error));
      record.check(`${entry.label}: rejects within ${CLOSE_BOUND_MS} ms of close()`, latency >= 0 && latency <= CLOSE_BOUND_MS, latency);
    }
    record.figures['closeRejectionMs'] = rejectionMs;
    record.figures['closeErrors'] = errors;
    const excess = await waitForResourcesAtMost(baseline, 3_000);
    record.figures['excessHandlesAfterClose'] = excess;
    record.check('active handles back to the baseline after close()', Object.keys(excess).length === 0, excess);

    // Were the writes cut off by close() applied once the server ran again? If so, their
    // error must not have claimed maybeApplied: false.
    const reader = new Etcd({ endpoints: s.endpoints });
    clients.push(reader);
    const applied: Record<string, boolean> = {};
    for (const key of ['k6/close-w', 'k6/close-w2']) applied[key] = (await reader.get(key, { timeoutMs: 5_000 })) !== undefined;
    record.figures['closedWritesAppliedAfterSigcont'] = applied;
    for (const [label, key] of [
      ['put in flight', 'k6/close-w'],
      ['put in flight, timeoutMs 20000', 'k6/close-w2'],
    ] as const) {
      const entry = tracker.all.find((t) => t.label === label)!;
      const maybeApplied = entry.error instanceof EtcdError && entry.error.maybeApplied;
      record.check(
        `${label}: a write cut off by close() after it was sent says maybeApplied true`,
        maybeApplied,
        { ...describeError(entry.error), appliedAfterSigcont: applied[key] },
      );
    }
    record.end('close');
    expect(record.checks.slice(firstCheck).filter((c) => !c.ok)).toEqual([]);
  }, 30_000);

  it('close() also rejects a call waiting in a retry backoff, and leaves no timer behind', async () => {
    record.begin('close during backoff');
    const firstCheck = record.checks.length;
    // The only endpoint refuses every connection, so a read fails fast and sleeps between its
    // retries (backoff 50, 100, 200, 400 ms with jitter): close() lands in one of those sleeps.
    await using proxy = await startFaultProxy({ target: server!.endpoint });
    await proxy.refuse();
    await sleep(200);
    const baseline = activeResources();
    const client = new Etcd({ endpoints: [proxy.endpoint], retry: { initialBackoffMs: 400, maxBackoffMs: 1_000 } });
    const tracker = new SettlementTracker();
    const { entry, promise } = tracker.track('get retrying against a refusing endpoint', () =>
      client.get('k6/any', { timeoutMs: 10_000 }),
    );
    await sleep(150);
    const closedAt = now();
    record.mark('client.close() during backoff', { settledBeforeClose: entry.outcome !== 'pending' });
    await client.close();
    const closeReturnedMs = now() - closedAt;
    await settleWithin([promise], GUARD_MS);
    const latency = entry.settledAt.length ? entry.settledAt[0]! - closedAt : Number.NaN;
    // Handles right after close() resolved and the call settled: a sleeping backoff timer would show here.
    const excessAtOnce = await waitForResourcesAtMost(baseline, 0);
    const excess = await waitForResourcesAtMost(baseline, 3_000);
    record.figures['closeDuringBackoff'] = {
      settledBeforeClose: entry.settledAt.length > 0 && entry.settledAt[0]! < closedAt,
      rejectionAfterCloseMs: round(latency, 2),
      closeReturnedMs: round(closeReturnedMs, 2),
      error: describeError(entry.error),
      excessHandlesAtOnce: excessAtOnce,
      excessHandlesAfter3s: excess,
      proxy: await proxy.stats(),
    };
    record.check('call in backoff was still pending when close() ran', !(entry.settledAt[0]! < closedAt));
    record.check('call in backoff rejects with ClientClosedError', entry.error instanceof ClientClosedError, describeError(entry.error));
    record.check(`call in backoff rejects within ${CLOSE_BOUND_MS} ms of close()`, latency >= 0 && latency <= CLOSE_BOUND_MS, round(latency, 2));
    record.check('no handle (backoff timer) left once close() resolved and the call settled', Object.keys(excessAtOnce).length === 0, excessAtOnce);
    record.check('active handles back to the baseline', Object.keys(excess).length === 0, excess);
    record.end('close during backoff');
    expect(record.checks.slice(firstCheck).filter((c) => !c.ok)).toEqual([]);
  }, 30_000);
});
