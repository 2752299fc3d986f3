import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, startFaultProxy, type EtcdServer, type FaultProxy } from 'etcdkit/testing';
import { b64, get, processExists, put } from './gateway.js';

function health(endpoint: string, timeoutMs: number): Promise<Response> {
  return fetch(`http://${endpoint}/health`, { signal: AbortSignal.timeout(timeoutMs) });
}

describe('startFaultProxy()', () => {
  let etcd: EtcdServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    etcd = await startEtcd();
    proxy = await startFaultProxy({ target: etcd.endpoint });
  });

  afterEach(async () => {
    await proxy.setDelay(0);
    await proxy.heal();
  });

  afterAll(async () => {
    await proxy?.close();
    await etcd?.close();
  });

  it('forwards requests in normal mode and counts bytes', async () => {
    expect(proxy.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    await put(proxy.endpoint, 'via-proxy', 'ok');
    expect(await get(proxy.endpoint, 'via-proxy')).toBe('ok');
    const stats = await proxy.stats();
    expect(stats.mode).toBe('normal');
    expect(stats.accepted).toBeGreaterThanOrEqual(1);
    expect(stats.bytesToServer).toBe(stats.bytesFromClient);
    expect(stats.bytesToClient).toBe(stats.bytesFromServer);
    expect(stats.bytesFromServer).toBeGreaterThan(0);
  });

  it('cut() breaks a long-lived watch stream', async () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10_000);
    try {
      const res = await fetch(`http://${proxy.endpoint}/v3/watch`, {
        method: 'POST',
        body: JSON.stringify({ create_request: { key: b64('watched') } }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value as Uint8Array)).toContain('"created":true');
      expect((await proxy.stats()).live).toBeGreaterThanOrEqual(1);

      const stats = await proxy.cut();
      expect(stats.live).toBe(0);
      expect(stats.mode).toBe('normal');
      const outcome = await reader.read().then(
        (r) => (r.done ? 'ended' : 'data'),
        () => 'failed',
      );
      expect(outcome).not.toBe('data');
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    expect(await get(proxy.endpoint, 'via-proxy')).toBe('ok');
  });

  it('refuse() makes new requests fail until heal()', async () => {
    const refused = await proxy.refuse();
    expect(refused.live).toBe(0);
    // The first request may fail on a pooled connection the refuse() cut; the second dials.
    await expect(health(proxy.endpoint, 2_000)).rejects.toThrow();
    await expect(health(proxy.endpoint, 2_000)).rejects.toThrow();
    expect((await proxy.stats()).refused).toBeGreaterThanOrEqual(1);
    await proxy.heal();
    expect((await health(proxy.endpoint, 2_000)).ok).toBe(true);
  });

  it('freeze() makes a request hang; after heal() a new request passes', async () => {
    await proxy.freeze();
    const started = Date.now();
    await expect(health(proxy.endpoint, 1_000)).rejects.toThrow(/abort|timeout/i);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await proxy.heal();
    expect((await health(proxy.endpoint, 2_000)).ok).toBe(true);
  });

  it('blackhole() makes a request hang while the proxy still reads the bytes', async () => {
    const before = await proxy.blackhole();
    await expect(health(proxy.endpoint, 1_000)).rejects.toThrow(/abort|timeout/i);
    const after = await proxy.stats();
    expect(after.bytesFromClient).toBeGreaterThan(before.bytesFromClient);
    expect(after.bytesToServer).toBe(before.bytesToServer);
    await proxy.heal();
    expect((await health(proxy.endpoint, 2_000)).ok).toBe(true);
  });

  it('hold() accepts but dials the target only after heal()', async () => {
    await proxy.cut();
    await proxy.hold();
    let settled = false;
    const pending = health(proxy.endpoint, 5_000).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    expect((await proxy.stats()).held).toBe(1);
    await proxy.heal();
    expect((await pending).ok).toBe(true);
  });

  it('setDelay() adds latency to every chunk', async () => {
    await proxy.setDelay(150);
    const started = Date.now();
    expect((await health(proxy.endpoint, 5_000)).ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await expect(proxy.setDelay(-1)).rejects.toThrow(RangeError);
  });

  it('close() kills the proxy process and is idempotent', async () => {
    const other = await startFaultProxy({ target: etcd.endpoint });
    const pid = other.pid ?? -1;
    expect(processExists(pid)).toBe(true);
    expect((await health(other.endpoint, 2_000)).ok).toBe(true);
    await other.close();
    await other.close();
    await other[Symbol.asyncDispose]();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(other.pid).toBeUndefined();
    await expect(other.stats()).rejects.toThrow(/not running/);
    await expect(health(other.endpoint, 2_000)).rejects.toThrow();
  });
});
