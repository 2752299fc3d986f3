import { describe, expect, it } from 'vitest';
import { CompactedError, Delete, FutureRevisionError, KeyNotFoundError, LeaseNotFoundError, Put, Range } from 'etcdkit';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

const etcd = useEtcd();

async function seed(prefix: string, count: number) {
  const client = etcd.client();
  const revisions: bigint[] = [];
  for (let i = 0; i < count; i++) {
    revisions.push((await client.put(`${prefix}${String(i).padStart(2, '0')}`, `v${i}`)).header.revision);
  }
  return { client, revisions };
}

const keys = (kvs: Array<{ keyText(): string }>) => kvs.map((kv) => kv.keyText());

describe('put and get', () => {
  it('writes and reads back a key with bigint metadata', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}k`;
    const first = await client.put(key, 'one');
    const second = await client.put(key, Buffer.from('two'));
    expect(second.header.revision).toBe(first.header.revision + 1n);
    const kv = await client.get(key);
    expect(kv?.text()).toBe('two');
    expect(kv?.createRevision).toBe(first.header.revision);
    expect(kv?.modRevision).toBe(second.header.revision);
    expect(kv?.version).toBe(2n);
    expect(kv?.lease).toBe(0n);
    expect(typeof second.header.memberId).toBe('bigint');
    expect(await client.get(`${key}-missing`)).toBeUndefined();
  });

  it('returns the previous value with prevKv, and json() decodes', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}json`;
    await client.put(key, JSON.stringify({ a: 1 }));
    const result = await client.put(key, '{"a":2}', { prevKv: true });
    expect(result.prevKv?.json<{ a: number }>()).toEqual({ a: 1 });
    expect((await client.put(Put.key(key).withValue('x'))).prevKv).toBeUndefined();
  });

  it('ignoreValue keeps the value, ignoreLease keeps the lease, and both fail on a missing key', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}ignore`;
    await client.put(key, 'kept');
    await client.put(Put.key(key).withIgnoreValue());
    expect((await client.get(key))?.text()).toBe('kept');
    await client.put(Put.key(key).withValue('new').withIgnoreLease());
    expect((await client.get(key))?.text()).toBe('new');
    expect(await rejectionOf(() => client.put(Put.key(`${key}-missing`).withIgnoreValue()))).toBeInstanceOf(KeyNotFoundError);
    expect(await rejectionOf(() => client.put(Put.key(`${key}-missing`).withValue('v').withIgnoreLease()))).toBeInstanceOf(
      KeyNotFoundError,
    );
  });

  it('a put on an unknown lease fails with LeaseNotFoundError and is not applied', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}leased`;
    const error = await rejectionOf(() => client.put(key, 'v', { lease: 0x41f2a1fe77587105n }));
    expect(error).toBeInstanceOf(LeaseNotFoundError);
    expect((error as LeaseNotFoundError).maybeApplied).toBe(false);
    expect(await client.get(key)).toBeUndefined();
  });

  it('round-trips binary keys and values: NUL, invalid UTF-8, trailing 0xff', async () => {
    const client = etcd.client();
    const base = Buffer.from(etcd.prefix());
    const weird = [Buffer.from([0x00]), Buffer.from([0xc3, 0x28]), Buffer.from([0x61, 0xff]), Buffer.from([0xff, 0xff])].map((tail) =>
      Buffer.concat([base, tail]),
    );
    for (const key of weird) await client.put(key, key);
    for (const key of weird) expect((await client.get(key))?.value).toEqual(key);
    // A prefix ending in 0xff still selects exactly its keys.
    const ffPrefix = Buffer.concat([base, Buffer.from([0x61, 0xff])]);
    const underFf = await client.range(Range.key(ffPrefix).withPrefix());
    expect(underFf.kvs.map((kv) => kv.key)).toEqual([ffPrefix]);
    const all = await client.range(Range.key(base).withPrefix());
    expect(all.count).toBe(BigInt(weird.length));
  });
});

describe('range options', () => {
  it('prefix, range and fromKey select the right keys', async () => {
    const prefix = etcd.prefix();
    const { client } = await seed(prefix, 5);
    expect(keys((await client.range(Range.key(prefix).withPrefix())).kvs)).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix}0${i}`));
    expect(keys((await client.range(Range.key(`${prefix}01`).withRange(`${prefix}03`))).kvs)).toEqual([`${prefix}01`, `${prefix}02`]);
    const fromKey = await client.range(Range.key(`${prefix}03`).withFromKey());
    expect(keys(fromKey.kvs).slice(0, 2)).toEqual([`${prefix}03`, `${prefix}04`]);
  });

  it('limit sets more and keeps the total count', async () => {
    const prefix = etcd.prefix();
    const { client } = await seed(prefix, 5);
    const result = await client.range(Range.key(prefix).withPrefix().withLimit(2));
    expect(result.kvs).toHaveLength(2);
    expect(result.more).toBe(true);
    expect(result.count).toBe(5n);
  });

  it('sorts by every target in both orders', async () => {
    const prefix = etcd.prefix();
    const client = etcd.client();
    // Written in an order where key, value and revision orders all differ.
    await client.put(`${prefix}b`, '1');
    await client.put(`${prefix}a`, '3');
    await client.put(`${prefix}c`, '2');
    await client.put(`${prefix}b`, '4');
    const sorted = async (target: 'key' | 'value' | 'createRevision' | 'modRevision' | 'version', order: 'ascend' | 'descend') =>
      keys((await client.range(Range.key(prefix).withPrefix().withSort(target, order))).kvs).map((k) => k.slice(prefix.length));
    expect(await sorted('key', 'descend')).toEqual(['c', 'b', 'a']);
    expect(await sorted('value', 'ascend')).toEqual(['c', 'a', 'b']);
    expect(await sorted('createRevision', 'ascend')).toEqual(['b', 'a', 'c']);
    expect(await sorted('modRevision', 'descend')).toEqual(['b', 'c', 'a']);
    expect((await sorted('version', 'descend'))[0]).toBe('b');
  });

  it('reads at a past revision, and serializable reads answer', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}rev`;
    const first = await client.put(key, 'old');
    await client.put(key, 'new');
    expect((await client.get(key, { revision: first.header.revision }))?.text()).toBe('old');
    expect((await client.range(Range.key(key).withRevision(first.header.revision))).kvs[0]?.text()).toBe('old');
    expect((await client.get(key, { serializable: true }))?.text()).toBe('new');
    expect((await client.range(Range.key(key).withSerializable())).kvs[0]?.text()).toBe('new');
  });

  it('keysOnly drops values; countOnly returns only the count', async () => {
    const prefix = etcd.prefix();
    const { client } = await seed(prefix, 3);
    const keysOnly = await client.range(Range.key(prefix).withPrefix().withKeysOnly());
    expect(keysOnly.kvs).toHaveLength(3);
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0)).toBe(true);
    const countOnly = await client.range(Range.key(prefix).withPrefix().withCountOnly());
    expect(countOnly.kvs).toHaveLength(0);
    expect(countOnly.count).toBe(3n);
  });

  it('filters by min/max mod and create revision', async () => {
    const prefix = etcd.prefix();
    const { client, revisions } = await seed(prefix, 4);
    await client.put(`${prefix}00`, 'modified');
    const base = Range.key(prefix).withPrefix();
    expect(keys((await client.range(base.withMinCreateRevision(revisions[2]!))).kvs)).toEqual([`${prefix}02`, `${prefix}03`]);
    expect(keys((await client.range(base.withMaxCreateRevision(revisions[1]!))).kvs)).toEqual([`${prefix}00`, `${prefix}01`]);
    expect(keys((await client.range(base.withMinModRevision(revisions[3]!))).kvs)).toEqual([`${prefix}00`, `${prefix}03`]);
    expect(keys((await client.range(base.withMaxModRevision(revisions[1]!))).kvs)).toEqual([`${prefix}01`]);
  });

  it('a future revision fails with FutureRevisionError', async () => {
    const client = etcd.client();
    const now = (await client.put(`${etcd.prefix()}k`, 'v')).header.revision;
    expect(await rejectionOf(() => client.get('k', { revision: now + 1000n }))).toBeInstanceOf(FutureRevisionError);
  });
});

describe('delete', () => {
  it('deletes one key, a prefix and a range, with prevKv', async () => {
    const prefix = etcd.prefix();
    const { client } = await seed(prefix, 5);
    expect((await client.delete(`${prefix}00`)).deleted).toBe(1n);
    const ranged = await client.delete(Delete.key(`${prefix}01`).withRange(`${prefix}03`).withPrevKv());
    expect(ranged.deleted).toBe(2n);
    expect(ranged.prevKvs.map((kv) => kv.text())).toEqual(['v1', 'v2']);
    expect((await client.delete(Delete.key(`${prefix}03`).withFromKey().withPrevKv())).prevKvs[0]?.keyText()).toBe(`${prefix}03`);
    expect((await client.range(Range.key(prefix).withPrefix())).count).toBe(0n);
    expect((await client.delete(`${prefix}missing`)).deleted).toBe(0n);
  });
});

describe('rangeAll', () => {
  it('pages through a large range at one pinned revision', async () => {
    const prefix = etcd.prefix();
    const { client } = await seed(prefix, 25);
    const seen: string[] = [];
    let wroteDuring = false;
    for await (const kv of client.rangeAll(prefix, { pageSize: 4 })) {
      seen.push(kv.keyText());
      if (!wroteDuring) {
        // Writes after the first page are not part of the snapshot.
        wroteDuring = true;
        await client.put(`${prefix}99-late`, 'x');
        await client.delete(`${prefix}24`);
      }
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`));
  });

  it('honours a Range with a limit as a total cap, and rejects sorting and bad page sizes', async () => {
    const prefix = etcd.prefix();
    const { client } = await seed(prefix, 7);
    const capped: string[] = [];
    for await (const kv of client.rangeAll(Range.key(prefix).withPrefix().withLimit(5), { pageSize: 2 })) capped.push(kv.keyText());
    expect(capped).toHaveLength(5);
    expect(() => client.rangeAll(Range.key(prefix).withPrefix().withSort('value'))).toThrow(/withSort/);
    expect(() => client.rangeAll(prefix, { pageSize: 0 })).toThrow(/pageSize/);
  });
});

describe('compact', () => {
  it('compacts history: older revisions fail with CompactedError, the latest stays readable', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}c`;
    const first = await client.put(key, '1');
    const second = await client.put(key, '2');
    await client.compact(second.header.revision, { physical: true });
    const error = await rejectionOf(() => client.get(key, { revision: first.header.revision }));
    expect(error).toBeInstanceOf(CompactedError);
    expect((await client.get(key, { revision: second.header.revision }))?.text()).toBe('2');
    // Compacting at or below the current compaction is itself reported as Compacted.
    expect(await rejectionOf(() => client.compact(first.header.revision))).toBeInstanceOf(CompactedError);
  });
});
