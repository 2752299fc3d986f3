import { describe, expect, it } from 'vitest';
import { CancelledError, ClientClosedError, Etcd, LeaseNotFoundError } from 'etcdkit';
import { startFaultProxy } from 'etcdkit/testing';
import { activeResources, rejectionOf, useEtcd, waitForResourcesAtMost } from './helpers/etcd.js';

const etcd = useEtcd();

describe('client lifecycle', () => {
  it('connects lazily and reports each endpoint in info()', async () => {
    const client = etcd.client();
    expect(client.info()).toEqual([
      expect.objectContaining({
        endpoint: etcd.server.endpoint,
        state: { status: 'idle' },
        connectivity: 'idle',
        pinned: true,
        failures: 0,
        inFlight: 0,
        streams: 0,
        health: { status: 'unknown' },
      }),
    ]);
    await client.put(`${etcd.prefix()}k`, 'v');
    expect(client.info()[0]?.state).toEqual({ status: 'ready' });
  });

  it('close() closes every connection, returns active handles to the baseline, and later calls reject', async () => {
    await using proxy = await startFaultProxy({ target: etcd.server.endpoint });
    const baseline = activeResources();
    const client = new Etcd({ endpoints: [proxy.endpoint] });
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.put(`${etcd.prefix()}h${i}`, 'v')));
    expect((await proxy.stats()).live).toBe(1);
    await client.close();
    await client.close(); // idempotent
    expect(client.closed).toBe(true);
    expect(await waitForResourcesAtMost(baseline)).toEqual({});
    // Closed on the wire, not only unreferenced.
    const deadline = Date.now() + 2_000;
    while ((await proxy.stats()).live !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await proxy.stats()).live).toBe(0);
    const error = await rejectionOf(() => client.get('k'));
    expect(error).toBeInstanceOf(ClientClosedError);
  });

  it('supports await using', async () => {
    const baseline = activeResources();
    {
      await using client = new Etcd({ endpoints: etcd.server.endpoints });
      await client.get('k');
    }
    expect(await waitForResourcesAtMost(baseline)).toEqual({});
  });

  it('an already-aborted signal rejects at once with CancelledError carrying the reason', async () => {
    const client = etcd.client();
    const reason = new Error('user gave up');
    const error = await rejectionOf(() => client.get('k', { signal: AbortSignal.abort(reason) }));
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toBe(reason);
  });

  it("a failed call's error has a stack that reaches the caller", async () => {
    const client = etcd.client();
    const key = `${etcd.prefix()}stack`;
    await client.put(key, 'v');
    const error = await rejectionOf(() => client.put(key, 'v', { lease: 0x7eadbeefn }));
    expect(error).toBeInstanceOf(LeaseNotFoundError);
    expect((error as Error).stack).toMatch(/LeaseNotFoundError[^\n]*\n\s+at /);
    expect((error as Error).message).toContain('KV.Put');
    expect((error as Error).stack).toContain('connection.test.ts');
  });

  it('credentials against a server without auth are accepted: calls go out without a token', async () => {
    const client = etcd.client({ auth: { username: 'root', password: 'anything' } });
    const key = `${etcd.prefix()}no-auth`;
    await client.put(key, 'v');
    expect((await client.get(key))?.text()).toBe('v');
  });
});

describe('retries', () => {
  it('a call made while no connection can be opened waits for one until its deadline', async () => {
    await using proxy = await startFaultProxy({ target: etcd.server.endpoint });
    const client = etcd.client({ endpoints: [proxy.endpoint] });
    const key = `${etcd.prefix()}waits`;
    await proxy.refuse();
    const put = client.put(key, 'v', { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const refusedSoFar = (await proxy.stats()).refused;
    await proxy.heal();
    await put;
    // More attempts than maxAttempts (5) were made, none of which reached the server.
    expect(refusedSoFar).toBeGreaterThan(1);
    expect((await client.get(key))?.version).toBe(1n);
  });

  it('while every endpoint is down, calls and streams wait for grpc-js to reconnect instead of polling it', async () => {
    await using first = await startFaultProxy({ target: etcd.server.endpoint });
    await using second = await startFaultProxy({ target: etcd.server.endpoint });
    const ends: { method: string; attempts: number }[] = [];
    const reconnects: string[] = [];
    const client = etcd.client({
      endpoints: [first.endpoint, second.endpoint],
      hooks: {
        onCallEnd: (event) => ends.push({ method: event.method, attempts: event.attempts }),
        onStreamReconnect: (event) => reconnects.push(event.method),
      },
    });
    const key = `${etcd.prefix()}all-down`;
    const watcher = client.watch(key);
    await watcher.created;
    await Promise.all([first.refuse(), second.refuse()]);
    // The watch stream breaks, both channels fail to reconnect and stay in TRANSIENT_FAILURE.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const reconnectsBefore = reconnects.length;
    const put = client.put(key, 'v', { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // 3 s of outage: the stream was not reopened, though grpc-js kept dialling both endpoints.
    expect(reconnects.length).toBe(reconnectsBefore);
    expect((await first.stats()).refused + (await second.stats()).refused).toBeGreaterThan(2);
    await Promise.all([first.heal(), second.heal()]);
    await put;
    // One attempt failed at once in TRANSIENT_FAILURE, the next went out after the reconnection
    // (polling with the retry backoff made about ten in 3 s).
    expect(ends.find((end) => end.method === 'KV.Put')?.attempts).toBeLessThanOrEqual(3);
    // The watch resumed too and sees the put.
    for await (const event of watcher.events()) {
      expect(event.kv.value.toString()).toBe('v');
      break;
    }
  });
});
