import { describe, expect, it } from 'vitest';
import {
  Compare,
  Delete,
  DuplicateKeyInTxnError,
  InvalidArgumentError,
  Op,
  Put,
  Range,
  TooManyTxnOpsError,
  Txn,
  TxnNotCommittedError,
  UpdateConflictError,
} from 'etcdkit';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

const etcd = useEtcd({ extraArgs: ['--max-txn-ops', '128'] });

describe('transactions', () => {
  it('runs the then branch when every comparison holds, with typed per-op results', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const rev = (await client.put(`${p}k`, 'v1')).header.revision;
    await client.put(`${p}flag`, 'on');
    const result = await client
      .txn()
      .if(Compare.modRevision(`${p}k`).equals(rev), Compare.value(`${p}flag`).equals('on'))
      .then(Op.put(`${p}k`, 'v2', { prevKv: true }), Op.get(`${p}k`), Op.delete(Delete.key(`${p}flag`).withPrevKv()))
      .else(Op.get(`${p}k`))
      .commit();
    expect(result.succeeded).toBe(true);
    if (!result.succeeded) return;
    const [put, get, del] = result.responses;
    expect(put.kind).toBe('put');
    expect(put.prevKv?.text()).toBe('v1');
    expect(get.kvs[0]?.text()).toBe('v2');
    expect(del.deleted).toBe(1n);
    expect(del.prevKvs[0]?.text()).toBe('on');
    expect(get.header.revision).toBe(result.header.revision);
  });

  it('runs the else branch when a comparison fails', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}k`, 'v1');
    const result = await client.txn().if(Compare.value(`${p}k`).equals('other')).then(Op.put(`${p}k`, 'x')).else(Op.get(`${p}k`)).commit();
    expect(result.succeeded).toBe(false);
    if (result.succeeded) return;
    expect(result.responses[0].kvs[0]?.text()).toBe('v1');
    expect((await client.get(`${p}k`))?.text()).toBe('v1');
  });

  it('evaluates every compare target and operator on the server', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const put = await client.put(`${p}a`, 'm');
    await client.put(`${p}a`, 'm');
    const rev = put.header.revision;
    const holds = async (compare: Compare) => (await client.txn().if(compare).commit()).succeeded;
    expect(await holds(Compare.value(`${p}a`).equals('m'))).toBe(true);
    expect(await holds(Compare.value(`${p}a`).notEquals('m'))).toBe(false);
    expect(await holds(Compare.value(`${p}a`).greater('a'))).toBe(true);
    expect(await holds(Compare.value(`${p}a`).less('a'))).toBe(false);
    expect(await holds(Compare.version(`${p}a`).equals(2))).toBe(true);
    expect(await holds(Compare.createRevision(`${p}a`).equals(rev))).toBe(true);
    expect(await holds(Compare.modRevision(`${p}a`).greater(rev))).toBe(true);
    expect(await holds(Compare.lease(`${p}a`).equals(0))).toBe(true);
    expect(await holds(Compare.exists(`${p}a`))).toBe(true);
    expect(await holds(Compare.missing(`${p}b`))).toBe(true);
    // Range and prefix forms apply to every key in the range.
    await client.put(`${p}b`, 'n');
    expect(await holds(Compare.version(`${p}`).withPrefix().greater(0))).toBe(true);
    expect(await holds(Compare.value(`${p}a`).withRange(`${p}c`).equals('m'))).toBe(false);
  });

  it('nests transactions', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const inner = Txn.if(Compare.missing(`${p}inner`)).then(Op.put(`${p}inner`, '1')).else(Op.get(`${p}inner`));
    const result = await client.txn().if(Compare.missing(`${p}outer`)).then(Op.put(`${p}outer`, '1'), Op.txn(inner)).commit();
    expect(result.succeeded).toBe(true);
    if (!result.succeeded) return;
    expect(result.responses[1].kind).toBe('txn');
    expect(result.responses[1].succeeded).toBe(true);
    expect((await client.get(`${p}inner`))?.text()).toBe('1');
  });

  it('binds an unbound transaction with etcd.txn(txn)', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const txn = Txn.if(Compare.missing(`${p}x`)).then(Op.put(`${p}x`, '1'));
    expect((await client.txn(txn).commit()).succeeded).toBe(true);
    expect((await client.txn(txn).commit()).succeeded).toBe(false);
  });

  it('awaiting a builder without commit() rejects with TxnNotCommittedError and sends nothing', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const builder = client.txn().if(Compare.missing(`${p}k`)).then(Op.put(`${p}k`, 'v'));
    expect(await rejectionOf(() => builder as unknown as Promise<unknown>)).toBeInstanceOf(TxnNotCommittedError);
    expect(await client.get(`${p}k`)).toBeUndefined();
  });

  it('accepts exactly 128 ops and maps the server refusal of 129 to TooManyTxnOpsError', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const ops = (n: number) => Array.from({ length: n }, (_, i) => Op.put(`${p}${i}`, 'v'));
    expect((await client.txn().then(...ops(128)).commit()).succeeded).toBe(true);
    const error = await rejectionOf(() => client.txn().then(...ops(129)).commit());
    expect(error).toBeInstanceOf(TooManyTxnOpsError);
    expect((error as TooManyTxnOpsError).maybeApplied).toBe(false);
  });

  it('maps put+put and put+delete of one key to DuplicateKeyInTxnError', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    expect(await rejectionOf(() => client.txn().then(Op.put(`${p}d`, '1'), Op.put(`${p}d`, '2')).commit())).toBeInstanceOf(
      DuplicateKeyInTxnError,
    );
    expect(await rejectionOf(() => client.txn().then(Op.put(`${p}d`, '1'), Op.delete(`${p}d`)).commit())).toBeInstanceOf(
      DuplicateKeyInTxnError,
    );
  });
});

describe('compare-and-swap helpers', () => {
  it('putIfAbsent writes only a missing key', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}once`;
    expect(await client.putIfAbsent(key, 'first')).toBe(true);
    expect(await client.putIfAbsent(key, 'second')).toBe(false);
    expect((await client.get(key))?.text()).toBe('first');
  });

  it('compareAndSwap by value, modRevision and version reports what it found', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}cas`;
    const rev = (await client.put(key, 'a')).header.revision;
    const ok = await client.compareAndSwap(key, { value: 'a' }, 'b');
    expect(ok.succeeded).toBe(true);
    expect(ok.found?.text()).toBe('a');
    const stale = await client.compareAndSwap(key, { modRevision: rev }, 'c');
    expect(stale.succeeded).toBe(false);
    expect(stale.found?.text()).toBe('b');
    expect((await client.compareAndSwap(key, { version: 2n }, 'd')).succeeded).toBe(true);
    expect((await client.get(key))?.text()).toBe('d');
    await expect(client.compareAndSwap(key, {} as never, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.compareAndSwap(key, { value: 'd', version: 3 }, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('compareAndDelete deletes only when the expectation holds', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}cad`;
    await client.put(key, 'a');
    expect((await client.compareAndDelete(key, { value: 'b' })).succeeded).toBe(false);
    const deleted = await client.compareAndDelete(key, { value: 'a' });
    expect(deleted.succeeded).toBe(true);
    expect(deleted.found?.text()).toBe('a');
    expect(await client.get(key)).toBeUndefined();
  });

  it('update is a correct read-modify-write under contention', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}counter`;
    const workers = 4;
    const increments = 10;
    let conflicts = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let i = 0; i < increments; i++) {
          const result = await client.update(key, (kv) => String(Number(kv?.text() ?? '0') + 1), { maxAttempts: 100 });
          conflicts += result.attempts - 1;
        }
      }),
    );
    expect((await client.get(key))?.text()).toBe(String(workers * increments));
    expect(conflicts).toBeGreaterThanOrEqual(0);
  });

  it('update returns the stored kv, keeps a key lease and can leave the key alone', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}u`;
    const created = await client.update(key, () => 'x');
    expect(created).toMatchObject({ updated: true, attempts: 1 });
    expect(created.kv?.text()).toBe('x');
    // Lease API comes later; grant one through the JSON gateway.
    const grant = await fetch(`${etcd.server.clientUrl}/v3/lease/grant`, { method: 'POST', body: JSON.stringify({ TTL: 60 }) });
    const lease = BigInt(((await grant.json()) as { ID: string }).ID);
    await client.put(key, 'leased', { lease });
    const updated = await client.update(key, (kv) => `${kv?.text()}+`);
    expect(updated.kv?.text()).toBe('leased+');
    expect(updated.kv?.lease).toBe(lease);
    const untouched = await client.update(key, () => undefined);
    expect(untouched.updated).toBe(false);
    expect(untouched.kv?.text()).toBe('leased+');
  });

  it('update gives up with UpdateConflictError when the key keeps changing', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}busy`;
    let n = 0;
    const error = await rejectionOf(() =>
      client.update(
        key,
        async (kv) => {
          await client.put(key, `interference-${n++}`);
          return `${kv?.text() ?? ''}!`;
        },
        { maxAttempts: 3 },
      ),
    );
    expect(error).toBeInstanceOf(UpdateConflictError);
    expect((error as UpdateConflictError).attempts).toBe(3);
  });
});

describe('namespace view', () => {
  it('prefixes keys on the way out and strips them on the way back', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const app = client.namespace(`${p}app/`);
    await app.put('a', '1');
    await app.put(Put.key('b').withValue('2'));
    await client.put(`${p}outside`, 'x');
    expect((await client.get(`${p}app/a`))?.text()).toBe('1');
    expect((await app.get('a'))?.keyText()).toBe('a');
    expect((await app.range(Range.all())).kvs.map((kv) => kv.keyText())).toEqual(['a', 'b']);
    expect((await app.range(Range.key('a').withFromKey())).kvs.map((kv) => kv.keyText())).toEqual(['a', 'b']);
    const seen: string[] = [];
    for await (const kv of app.rangeAll(Range.all(), { pageSize: 1 })) seen.push(kv.keyText());
    expect(seen).toEqual(['a', 'b']);
    const nested = app.namespace('deep/');
    await nested.put('x', 'y');
    expect((await client.get(`${p}app/deep/x`))?.text()).toBe('y');
    expect(nested.prefix.toString()).toBe(`${p}app/deep/`);
  });

  it('covers transactions, CAS helpers and deletes inside the namespace', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const app = client.namespace(`${p}app/`);
    const result = await app.txn().if(Compare.missing('k')).then(Op.put('k', 'v', { prevKv: true }), Op.get(Range.all())).commit();
    expect(result.succeeded).toBe(true);
    if (result.succeeded) expect(result.responses[1].kvs.map((kv) => kv.keyText())).toEqual(['k']);
    expect(await app.putIfAbsent('k', 'again')).toBe(false);
    expect((await app.compareAndSwap('k', { value: 'v' }, 'w')).found?.keyText()).toBe('k');
    expect((await app.update('n', () => '1')).kv?.keyText()).toBe('n');
    await client.put(`${p}keep`, 'x');
    expect((await app.delete(Delete.all().withPrevKv())).prevKvs.map((kv) => kv.keyText())).toEqual(['k', 'n']);
    expect((await client.get(`${p}keep`))?.text()).toBe('x');
  });
});
