import { describe, expect, it } from 'vitest';
import { type Mirror, type MirrorChange } from 'etcdkit';
import { startFaultProxy } from 'etcdkit/testing';
import { useEtcd } from './helpers/etcd.js';

const etcd = useEtcd();

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Collects a mirror's changes in the background. */
function collect(mirror: Mirror): MirrorChange[] {
  const changes: MirrorChange[] = [];
  void (async () => {
    for await (const change of mirror) changes.push(change);
  })().catch(() => undefined); // the client's close ends it with ClientClosedError
  return changes;
}

const contents = (mirror: Mirror) => Object.fromEntries([...mirror.entries()].map(([key, kv]) => [key, kv.text()]));

describe('mirror', () => {
  it('loads a consistent snapshot, then follows every change', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    await client.put(`${p}a`, '1');
    await client.put(`${p}b`, '2');
    await using mirror = client.mirror(p, { pageSize: 1 });
    await mirror.ready;
    expect(contents(mirror)).toEqual({ [`${p}a`]: '1', [`${p}b`]: '2' });
    const changes = collect(mirror);
    const put = await client.put(`${p}c`, '3');
    await client.delete(`${p}a`);
    await until(() => changes.length === 2);
    expect(changes.map((change) => `${change.type} ${change.type === 'resync' ? '' : change.key}`)).toEqual([
      `put ${p}c`,
      `delete ${p}a`,
    ]);
    expect(contents(mirror)).toEqual({ [`${p}b`]: '2', [`${p}c`]: '3' });
    expect(mirror.revision).toBe(put.header.revision + 1n);
    expect(mirror.get(`${p}c`)?.text()).toBe('3');
  });

  it('re-reads the prefix after a compaction overtook it while disconnected, and reports the difference', async () => {
    await using proxy = await startFaultProxy({ target: etcd.server.endpoint });
    const writer = etcd.client();
    const p = etcd.prefix();
    await writer.put(`${p}stays`, 'x');
    await writer.put(`${p}goes`, 'y');
    const client = etcd.client({ endpoints: [proxy.endpoint] });
    await using mirror = client.mirror(p);
    await mirror.ready;
    const changes = collect(mirror);
    await proxy.refuse();
    await writer.put(`${p}new`, 'z');
    await writer.delete(`${p}goes`);
    const last = await writer.put(`${p}stays`, 'x2');
    await writer.compact(last.header.revision);
    await proxy.heal();
    await until(() => mirror.resyncs === 1 && mirror.revision >= last.header.revision);
    await until(() => changes.length >= 4);
    expect(changes[0]).toEqual({ type: 'resync', revision: expect.any(BigInt) as bigint });
    expect(
      changes
        .slice(1)
        .map((change) => `${change.type} ${change.type === 'resync' ? '' : change.key}`)
        .sort(),
    ).toEqual([`delete ${p}goes`, `put ${p}new`, `put ${p}stays`]);
    expect(contents(mirror)).toEqual({ [`${p}stays`]: 'x2', [`${p}new`]: 'z' });
    await mirror.close();
    expect(await mirror.ended).toBeUndefined();
  });

  it('mirrors a namespace with relative keys', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const app = client.namespace(`${p}app/`);
    await app.put('x', '1');
    await using mirror = app.mirror('');
    await app.put('y', '2');
    await mirror.ready;
    expect(contents(mirror)['x']).toBe('1');
  });
});
