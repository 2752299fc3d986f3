/**
 * A lock contender in its own process, for the C1 and C2 scenarios (RELIABILITY 8.D): run with
 * `node --import tsx coordination-worker.ts '<json config>'`. It reports every step as one JSON
 * line on stdout, with wall-clock times (epoch ms, sub-millisecond) so the parent can order the
 * steps of several processes.
 *
 * - `cycles`: `cycles` times: lock, read the counter, write counter + 1, unlock; through the lock
 *   service or the Mutex recipe. Reports each hold interval with its fencing token.
 * - `holder`: takes the lock once, then loops: read both counters, wait `gapMs` (the critical
 *   section), write the unfenced counter with a plain put and the fenced one through a guarded
 *   transaction, until the guarded write is refused. Reports each write, the loss, and every
 *   transaction it sent.
 */
import { Etcd, LockLostError, Mutex, Op } from '../../src/index.js';

interface Config {
  mode: 'cycles' | 'holder';
  endpoints: string[];
  name: string;
  counter: string;
  fenced?: string;
  cycles?: number;
  recipe?: boolean;
  ttl?: number;
  gapMs?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const at = (): number => performance.timeOrigin + performance.now();
const report = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...event, at: at() }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))}\n`);
};
const num = (text: string | undefined): number => Number(text ?? '0');

async function cycles(etcd: Etcd): Promise<void> {
  const session = await etcd.session({ ttl: config.ttl ?? 10 });
  const mutex = config.recipe ? new Mutex(etcd, config.name, { session }) : undefined;
  const intervals: Array<[string, number, number, number]> = [];
  for (let i = 0; i < (config.cycles ?? 0); i++) {
    const lock = mutex ? await mutex.lock() : await etcd.lock.acquire(config.name, { session });
    const acquiredAt = at();
    const read = num((await etcd.get(config.counter))?.text());
    await etcd.put(config.counter, String(read + 1));
    const releasingAt = at();
    await lock.release();
    intervals.push([lock.fencingToken.toString(), acquiredAt, releasingAt, read]);
  }
  report({ event: 'done', intervals });
  await session.close();
}

async function holder(etcd: Etcd, sentTxns: number[]): Promise<void> {
  const session = await etcd.session({ ttl: config.ttl ?? 2 });
  const lock = await etcd.lock.acquire(config.name, { session });
  void lock.lost.then((error) => report({ event: 'lost', reason: error.reason }));
  report({ event: 'acquired', token: lock.fencingToken, pid: process.pid });
  for (;;) {
    const unfenced = num((await etcd.get(config.counter))?.text());
    const fenced = num((await etcd.get(config.fenced!))?.text());
    await new Promise((resolve) => setTimeout(resolve, config.gapMs ?? 100));
    const put = await etcd.put(config.counter, String(unfenced + 1));
    report({ event: 'unfenced', wrote: unfenced + 1, revision: put.header.revision });
    const attemptAt = at();
    try {
      const [written] = await lock.guarded([Op.put(config.fenced!, String(fenced + 1))]);
      report({ event: 'fenced', wrote: fenced + 1, revision: written.header.revision, attemptAt });
    } catch (error) {
      report({ event: 'refused', attemptAt, error: error instanceof LockLostError ? error.reason : String(error), sentTxns });
      break;
    }
  }
  await lock.release().catch(() => undefined);
}

const sentTxns: number[] = [];
const etcd = new Etcd({ endpoints: config.endpoints, hooks: { onCallStart: (call) => void (call.method === 'KV.Txn' && sentTxns.push(at())) } });
try {
  await (config.mode === 'cycles' ? cycles(etcd) : holder(etcd, sentTxns));
} catch (error) {
  report({ event: 'error', error: String(error) });
  process.exitCode = 1;
} finally {
  await etcd.close();
}
