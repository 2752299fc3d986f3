import { describe, expect, it } from 'vitest';
import { CancelledError, InvalidArgumentError, Op, StmConflictError, type StmIsolation, type StmTx } from 'etcdkit';
import { gate } from './helpers/coordination.js';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

const etcd = useEtcd();

const num = (value: Buffer | undefined): number => Number(value?.toString() ?? '0');

/** What each level promises (Go's concurrency STM), per anomaly. */
const levels: Array<{ isolation: StmIsolation; writeSkew: boolean; lostUpdate: boolean; blindWriteChecked: boolean; readSkewCommitted: boolean; readSkewSeen: boolean }> = [
  { isolation: 'serializable-snapshot', writeSkew: false, lostUpdate: false, blindWriteChecked: true, readSkewCommitted: false, readSkewSeen: false },
  { isolation: 'serializable', writeSkew: false, lostUpdate: false, blindWriteChecked: false, readSkewCommitted: false, readSkewSeen: false },
  { isolation: 'repeatable-reads', writeSkew: false, lostUpdate: false, blindWriteChecked: false, readSkewCommitted: false, readSkewSeen: true },
  { isolation: 'read-committed', writeSkew: true, lostUpdate: true, blindWriteChecked: false, readSkewCommitted: true, readSkewSeen: true },
];

describe('etcd.stm', () => {
  it('reads, writes and deletes commit atomically; own writes are visible; result, revision and attempts', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}a`, '100');
    await client.put(`${p}gone`, 'x');
    const outcome = await client.stm(async (tx) => {
      const a = num(await tx.get(`${p}a`));
      tx.put(`${p}a`, String(a - 30));
      tx.put(`${p}b`, String(num(await tx.get(`${p}b`)) + 30));
      expect((await tx.get(`${p}a`))?.toString()).toBe('70');
      tx.delete(`${p}gone`);
      expect(await tx.get(`${p}gone`)).toBeUndefined();
      expect(await tx.rev(`${p}gone`)).toBeGreaterThan(0n); // the stored revision, not the buffered delete
      return a;
    });
    expect(outcome).toMatchObject({ result: 100, attempts: 1 });
    expect(outcome.revision).toBe((await client.get(`${p}a`))?.modRevision);
    expect((await client.get(`${p}a`))?.text()).toBe('70');
    expect((await client.get(`${p}b`))?.text()).toBe('30');
    expect(await client.get(`${p}gone`)).toBeUndefined();
  });

  it.each(levels)('$isolation: write skew is $writeSkew (allowed when true)', async ({ isolation, writeSkew }) => {
    // Two doctors on call; each goes off call if the other is still on: at least one must stay.
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}alice`, '1');
    await client.put(`${p}bob`, '1');
    const offCall = (me: string) => async (tx: StmTx) => {
      const onCall = num(await tx.get(`${p}alice`)) + num(await tx.get(`${p}bob`));
      if (onCall >= 2) tx.put(`${p}${me}`, '0');
    };
    const bothRead = gate();
    const bobDone = gate();
    let firstRun = true;
    const alice = client.stm(
      async (tx) => {
        const onCall = num(await tx.get(`${p}alice`)) + num(await tx.get(`${p}bob`));
        if (firstRun) {
          firstRun = false;
          bothRead.open();
          await bobDone.opened;
        }
        if (onCall >= 2) tx.put(`${p}alice`, '0');
      },
      { isolation },
    );
    await bothRead.opened;
    await client.stm(offCall('bob'), { isolation });
    bobDone.open();
    const a = await alice;
    const stillOnCall = num((await client.get(`${p}alice`))?.value) + num((await client.get(`${p}bob`))?.value);
    expect(stillOnCall === 0).toBe(writeSkew);
    expect(a.attempts).toBe(writeSkew ? 1 : 2);
  });

  it.each(levels)('$isolation: a lost update is $lostUpdate (allowed when true)', async ({ isolation, lostUpdate }) => {
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}counter`, '0');
    const increment = async (tx: StmTx): Promise<void> => tx.put(`${p}counter`, String(num(await tx.get(`${p}counter`)) + 1));
    const read = gate();
    const otherDone = gate();
    let firstRun = true;
    const slow = client.stm(
      async (tx) => {
        const value = num(await tx.get(`${p}counter`));
        if (firstRun) {
          firstRun = false;
          read.open();
          await otherDone.opened;
        }
        tx.put(`${p}counter`, String(value + 1));
      },
      { isolation },
    );
    await read.opened;
    await client.stm(increment, { isolation });
    otherDone.open();
    await slow;
    expect((await client.get(`${p}counter`))?.text()).toBe(lostUpdate ? '1' : '2');
  });

  it.each(levels)('$isolation: a concurrent write to a key written but not read is checked: $blindWriteChecked', async ({ isolation, blindWriteChecked }) => {
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}input`, 'x');
    await client.put(`${p}target`, 'original');
    let firstRun = true;
    const outcome = await client.stm(
      async (tx) => {
        await tx.get(`${p}input`); // sets the snapshot
        if (firstRun) {
          firstRun = false;
          await client.put(`${p}target`, 'someone else');
        }
        tx.put(`${p}target`, 'mine');
      },
      { isolation },
    );
    expect(outcome.attempts).toBe(blindWriteChecked ? 2 : 1);
    expect((await client.get(`${p}target`))?.text()).toBe('mine');
  });

  it.each(levels)('$isolation: read skew seen by a run: $readSkewSeen, committed: $readSkewCommitted', async ({ isolation, readSkewSeen, readSkewCommitted }) => {
    // a + b is always 100; a transfer between the two reads must not show another total.
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}a`, '50');
    await client.put(`${p}b`, '50');
    const totals: number[] = [];
    let firstRun = true;
    await client.stm(
      async (tx) => {
        const a = num(await tx.get(`${p}a`));
        if (firstRun) {
          firstRun = false;
          await client.txn().then(Op.put(`${p}a`, '30'), Op.put(`${p}b`, '70')).commit();
        }
        const total = a + num(await tx.get(`${p}b`));
        totals.push(total);
        tx.put(`${p}total`, String(total));
      },
      { isolation },
    );
    expect(totals[0] !== 100).toBe(readSkewSeen);
    expect((await client.get(`${p}total`))?.text() !== '100').toBe(readSkewCommitted);
  });

  it('repeatable-reads: a key read twice in one run reads the same, even if it changed in between', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}k`, 'before');
    const seen: string[] = [];
    await client.stm(
      async (tx) => {
        seen.push((await tx.get(`${p}k`))!.toString());
        if (seen.length === 1) await client.put(`${p}k`, 'after');
        seen.push((await tx.get(`${p}k`))!.toString());
        tx.put(`${p}out`, 'x');
      },
      { isolation: 'repeatable-reads' },
    );
    expect(seen).toEqual(['before', 'before', 'after', 'after']);
  });

  it('rejects with StmConflictError when the retries run out; nothing is written', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    let runs = 0;
    const error = await rejectionOf(() =>
      client.stm(
        async (tx) => {
          runs++;
          await tx.get(`${p}hot`);
          await client.put(`${p}hot`, String(runs)); // a writer always gets in between
          tx.put(`${p}result`, 'x');
        },
        { retries: 2 },
      ),
    );
    expect(error).toBeInstanceOf(StmConflictError);
    expect((error as StmConflictError).attempts).toBe(3);
    expect(runs).toBe(3);
    expect(await client.get(`${p}result`)).toBeUndefined();
  });

  it('an error thrown by the function rejects the call as is, nothing written; a signal cancels it', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const boom = new Error('boom');
    expect(
      await rejectionOf(() =>
        client.stm(async (tx) => {
          tx.put(`${p}x`, '1');
          throw boom;
        }),
      ),
    ).toBe(boom);
    expect(await client.get(`${p}x`)).toBeUndefined();
    const controller = new AbortController();
    const cancelled = client.stm(async (tx) => {
      controller.abort();
      await tx.get(`${p}x`);
      tx.put(`${p}x`, '1');
    }, { signal: controller.signal });
    expect(await rejectionOf(() => cancelled)).toBeInstanceOf(CancelledError);
    expect(await client.get(`${p}x`)).toBeUndefined();
  });

  it('prefetch reads keys in one round trip; a namespace view uses relative keys', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}one`, '1');
    await client.put(`${p}two`, '2');
    const view = client.namespace(p);
    const outcome = await view.stm(
      async (tx) => {
        const sum = num(await tx.get('one')) + num(await tx.get('two'));
        tx.put('sum', String(sum));
        return sum;
      },
      { prefetch: ['one', 'two'] },
    );
    expect(outcome.result).toBe(3);
    expect((await client.get(`${p}sum`))?.text()).toBe('3');
  });

  it('a tx used after its run, and bad options, are refused', async () => {
    const client = etcd.client();
    let kept: StmTx | undefined;
    await client.stm((tx) => {
      kept = tx;
    });
    expect(() => kept!.put('k', 'v')).toThrow(InvalidArgumentError);
    for (const [options, argument] of [
      [{ isolation: 'snapshot' as never }, 'options.isolation'],
      [{ retries: -1 }, 'options.retries'],
      [{ prefetch: [''] }, 'options.prefetch[0]'],
    ] as const) {
      const error = await rejectionOf(() => client.stm(() => undefined, options));
      expect((error as InvalidArgumentError).argument).toBe(argument);
    }
    expect(((await rejectionOf(() => client.stm('x' as never))) as InvalidArgumentError).argument).toBe('fn');
  });
});
