import { describe, expect, it } from 'vitest';
import {
  AlreadyConsumedError,
  CancelledError,
  CompactedError,
  Delete,
  type Etcd,
  InvalidArgumentError,
  Op,
  Watch,
  WatchCanceledError,
  type WatchBatch,
  type WatchBatchEvent,
  type Watcher,
} from 'etcdkit';
import { startFaultProxy } from 'etcdkit/testing';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

const etcd = useEtcd({ extraArgs: ['--experimental-watch-progress-notify-interval', '500ms', '--max-request-bytes', '65536'] });

/** Takes batches until `count` events arrived (bounded by time). */
async function take(watcher: Watcher, count: number, timeoutMs = 5_000): Promise<WatchBatch[]> {
  const batches: WatchBatch[] = [];
  let events = 0;
  const iterator = watcher[Symbol.asyncIterator]();
  const deadline = setTimeout(() => void watcher.cancel(), timeoutMs);
  try {
    while (events < count) {
      const next = await iterator.next();
      if (next.done) break;
      if (next.value.progress) continue;
      batches.push(next.value);
      events += next.value.events.length;
    }
  } finally {
    clearTimeout(deadline);
  }
  return batches;
}

const summary = (batches: WatchBatch[]) =>
  batches.flatMap((batch) => batch.events.map((event) => `${event.type} ${event.kv.keyText()}=${event.kv.text()}`));

async function watcherGauge(): Promise<number> {
  return etcd.server.metric('etcd_debugging_mvcc_watcher_total');
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('watch basics', () => {
  it('delivers changes made after created resolves, with bigint revisions', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}k`;
    const watcher = client.watch(key);
    await watcher.created;
    const put = await client.put(key, 'v1');
    await client.delete(key);
    const batches = await take(watcher, 2);
    expect(summary(batches)).toEqual([`put ${key}=v1`, `delete ${key}=`]);
    expect(batches[0]!.events[0]!.kv.modRevision).toBe(put.header.revision);
    expect(watcher.resumeRevision).toBe(put.header.revision + 2n);
    await watcher.cancel();
    expect(watcher.active).toBe(false);
  });

  it('selects keys by prefix, range, fromKey and all', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const prefix = client.watch(Watch.key(p).withPrefix());
    const range = client.watch(Watch.key(`${p}b`).withRange(`${p}d`));
    const fromKey = client.watch(Watch.key(`${p}c`).withFromKey());
    const all = client.watch(Watch.all());
    await Promise.all([prefix.created, range.created, fromKey.created, all.created]);
    for (const k of ['a', 'b', 'c', 'd']) await client.put(`${p}${k}`, k);
    const keys = async (watcher: Watcher, n: number) => summary(await take(watcher, n)).map((line) => line.split(' ')[1]!.split('=')[0]!.slice(p.length));
    expect(await keys(prefix, 4)).toEqual(['a', 'b', 'c', 'd']);
    expect(await keys(range, 2)).toEqual(['b', 'c']);
    expect((await keys(fromKey, 2)).slice(0, 2)).toEqual(['c', 'd']);
    expect(await keys(all, 4)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('replays history from a start revision, with prevKv, and filters puts or deletes', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}h`;
    const first = await client.put(key, '1');
    await client.put(key, '2');
    await client.delete(key);
    const history = client.watch(Watch.key(key).withStartRevision(first.header.revision).withPrevKv());
    const batches = await take(history, 3);
    expect(summary(batches)).toEqual([`put ${key}=1`, `put ${key}=2`, `delete ${key}=`]);
    const events = batches.flatMap((batch) => batch.events);
    expect(events[0]!.prevKv).toBeUndefined();
    expect(events[1]!.prevKv?.text()).toBe('1');
    expect(events[2]!.prevKv?.text()).toBe('2');
    const noPut = client.watch(Watch.key(key).withStartRevision(first.header.revision).withNoPut());
    expect(summary(await take(noPut, 1))).toEqual([`delete ${key}=`]);
    const noDelete = client.watch(Watch.key(key).withStartRevision(first.header.revision).withNoDelete());
    expect(summary(await take(noDelete, 2))).toEqual([`put ${key}=1`, `put ${key}=2`]);
  });

  it('keeps every event of one revision in one batch', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const watcher = client.watch(Watch.key(p).withPrefix());
    await watcher.created;
    await client.txn().then(Op.put(`${p}1`, 'a'), Op.put(`${p}2`, 'b'), Op.put(`${p}3`, 'c')).commit();
    const [batch] = await take(watcher, 3);
    expect(batch!.events).toHaveLength(3);
    expect(new Set(batch!.events.map((event) => event.kv.modRevision)).size).toBe(1);
  });

  it('reassembles fragmented responses into one batch', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const value = Buffer.alloc(18_000, 0x61);
    for (let i = 0; i < 40; i++) await client.put(`${p}${String(i).padStart(2, '0')}`, value);
    const watcher = client.watch(Watch.key(p).withPrefix().withPrevKv().withFragment());
    await watcher.created;
    // One small request deleting 40 keys: one revision whose events carry ~720 KB of previous
    // values, over what the server sends whole (--max-request-bytes + 512 KiB), so it arrives
    // in fragments.
    await client.delete(Delete.key(p).withPrefix());
    const batches = await take(watcher, 40);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.events).toHaveLength(40);
    expect(batches[0]!.events.every((event) => event.type === 'delete' && event.prevKv?.value.length === 18_000)).toBe(true);
  });

  it('delivers per-watcher progress notifications that advance the resume revision', async () => {
    const client = etcd.client();
    const watcher = client.watch(Watch.key(`${etcd.prefix()}quiet`).withProgressNotify());
    await watcher.created;
    const other = await client.put(`${etcd.prefix()}elsewhere`, 'x');
    for await (const batch of watcher) {
      if (!batch.progress) continue;
      expect(batch.events).toHaveLength(0);
      if (batch.header.revision >= other.header.revision) {
        expect(watcher.resumeRevision).toBe(batch.header.revision + 1n);
        break;
      }
    }
  });

  it('events() waiting across progress notifications yields the next event', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}quiet-events`;
    const watcher = client.watch(Watch.key(key).withProgressNotify());
    await watcher.created;
    const events = watcher.events()[Symbol.asyncIterator]();
    const next = events.next();
    // The server sends a progress notification every 500 ms: let two arrive while next() waits.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(watcher.stats.batches).toBeGreaterThanOrEqual(2);
    await client.put(key, 'v');
    const result = await next;
    expect(result.done === false && result.value.kv.value.toString()).toBe('v');
    await events.return?.();
    expect(watcher.active).toBe(false);
  }, 10_000);

  it('watchProgress() reports the current revision without moving any resume revision', async () => {
    const client = etcd.client();
    expect(await client.watchProgress()).toBeUndefined();
    const watcher = client.watch(`${etcd.prefix()}p`);
    await watcher.created;
    const before = watcher.resumeRevision;
    const now = (await client.put(`${etcd.prefix()}other`, 'x')).header.revision;
    expect(await client.watchProgress()).toBeGreaterThanOrEqual(now);
    expect(watcher.resumeRevision).toBe(before);
  });
});

describe('watch lifecycle', () => {
  it('leaving the loop cancels the watcher on the server', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}gone`;
    await client.watch(`${etcd.prefix()}keep-stream-open`).created;
    const baseline = await watcherGauge();
    const watcher = client.watch(key);
    await watcher.created;
    expect(await watcherGauge()).toBe(baseline + 1);
    await client.put(key, 'v');
    for await (const batch of watcher) {
      expect(batch.events).toHaveLength(1);
      break;
    }
    expect(watcher.active).toBe(false);
    await waitFor(async () => (await watcherGauge()) === baseline);
  });

  it('cancel(), await using and an abort signal end the watcher; close() ends the rest', async () => {
    const client = etcd.client();
    const cancelled = client.watch(`${etcd.prefix()}a`);
    await cancelled.created;
    await cancelled.cancel();
    await cancelled.cancel();
    expect(await cancelled.ended).toBeUndefined();
    {
      await using disposed = client.watch(`${etcd.prefix()}b`);
      await disposed.created;
    }
    const controller = new AbortController();
    const aborted = client.watch(`${etcd.prefix()}c`, { signal: controller.signal });
    await aborted.created;
    const reason = new Error('enough');
    controller.abort(reason);
    const error = await rejectionOf(async () => {
      for await (const _ of aborted) {
        /* nothing arrives */
      }
    });
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toBe(reason);
    const open = client.watch(`${etcd.prefix()}d`);
    await open.created;
    await client.close();
    expect((await open.ended)?.name).toBe('ClientClosedError');
  });

  it('stops waiting for a cancel the server never confirms after a second, each cancel on its own deadline', async () => {
    await using proxy = await startFaultProxy({ target: etcd.server.endpoint });
    const client = etcd.client({ endpoints: [proxy.endpoint] });
    // A third watcher keeps the stream open: cancelling the last one would close it instead.
    const [first, second, third] = ['a', 'b', 'c'].map((name) => client.watch(`${etcd.prefix()}${name}`)) as [Watcher, Watcher, Watcher];
    await Promise.all([first.created, second.created, third.created]);
    await proxy.blackhole();
    const started = performance.now();
    let secondDone = false;
    const firstMs = first.cancel().then(() => performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const secondMs = second.cancel().then(() => {
      secondDone = true;
      return performance.now() - started;
    });
    expect(await firstMs).toBeGreaterThanOrEqual(990);
    expect(secondDone).toBe(false);
    expect(await secondMs).toBeGreaterThanOrEqual(1_390);
    expect(await secondMs).toBeLessThan(5_000);
    expect([first.active, second.active, third.active]).toEqual([false, false, true]);
    await client.close();
    expect((await third.ended)?.name).toBe('ClientClosedError');
  });

  it('allows one consumer only', async () => {
    const client = etcd.client();
    const watcher = client.watch(`${etcd.prefix()}one`);
    const iterator = watcher[Symbol.asyncIterator]();
    expect(() => watcher.events()).toThrow(AlreadyConsumedError);
    expect(() => watcher[Symbol.asyncIterator]()).toThrow(AlreadyConsumedError);
    await iterator.return?.();
  });

  it('ends with CompactedError carrying the compact revision when started below it', async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}compacted`;
    const first = await client.put(key, '1');
    const second = await client.put(key, '2');
    await client.compact(second.header.revision);
    const watcher = client.watch(Watch.key(key).withStartRevision(first.header.revision));
    const error = await rejectionOf(async () => {
      for await (const _ of watcher) {
        /* nothing before the error */
      }
    });
    expect(error).toBeInstanceOf(CompactedError);
    expect((error as CompactedError).compactRevision).toBe(second.header.revision);
  });

  it('works with watch ID 0 and fails only the watcher whose create the server refused', async () => {
    const client: Etcd = etcd.client();
    const p = etcd.prefix();
    const first = client.watch(`${p}zero`); // first watcher of a fresh client: ID 0
    // A create the server refuses ("watcher range is empty"), bypassing the local check.
    const bad = Watch.key(`${p}z`) as unknown as { derive(fields: object): Watch; fields: object };
    const refused = client.watch(bad.derive({ ...bad.fields, rangeEnd: Buffer.from(`${p}a`) }));
    const second = client.watch(`${p}after`);
    await Promise.all([first.created, second.created]);
    expect(await refused.ended).toBeInstanceOf(WatchCanceledError);
    await client.put(`${p}zero`, '0');
    await client.put(`${p}after`, '1');
    expect(summary(await take(first, 1))).toEqual([`put ${p}zero=0`]);
    expect(summary(await take(second, 1))).toEqual([`put ${p}after=1`]);
  });

  it('validates locally', () => {
    const client = etcd.client();
    expect(() => Watch.key('')).toThrow(InvalidArgumentError);
    expect(() => Watch.key('b').withRange('a')).toThrow(/sort after/);
    expect(() => Watch.key('a').withStartRevision(-1)).toThrow(InvalidArgumentError);
    expect(() => client.watch('a', { maxBufferedEvents: 0 })).toThrow(/maxBufferedEvents/);
  });
});

describe('namespace watch', () => {
  it('strips the prefix from keys in events', async () => {
    const client = etcd.client();
    const p = etcd.prefix();
    const app = client.namespace(`${p}app/`);
    const watcher = app.watch(Watch.all());
    await watcher.created;
    await client.put(`${p}outside`, 'no');
    await app.put('inside', 'yes');
    expect(summary(await take(watcher, 1))).toEqual(['put inside=yes']);
  });
});

describe('watch lag hook', () => {
  it('reports each batch with its lag behind the server and behind the consumer', async () => {
    const reports: WatchBatchEvent[] = [];
    const client = etcd.client({ hooks: { onWatchBatch: (event) => reports.push(event) } });
    const p = etcd.prefix();
    const first = await client.put(`${p}watched`, '1');
    await client.put(`${p}other`, '2');
    const last = await client.put(`${p}other`, '3');
    const watcher = client.watch(Watch.key(`${p}watched`).withStartRevision(first.header.revision));
    await take(watcher, 1);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ events: 1, revision: first.header.revision, endpoint: etcd.server.endpoint });
    // The server was already at `last` when it sent the catch-up batch for `first`.
    expect(reports[0]!.lagRevisions).toBe(last.header.revision - first.header.revision);
    expect(reports[0]!.bufferedEvents).toBeGreaterThanOrEqual(0);
  });
});

