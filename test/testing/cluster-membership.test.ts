import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdCluster, startFaultProxy, type EtcdCluster, type EtcdMember } from 'etcdkit/testing';
import { get, put } from './gateway.js';

/**
 * Member add through the JSON gateway (the SDK is not used here). etcd 3.4 refuses to add a
 * voting member ("unhealthy cluster") until every member has been connected for 5 s, so this
 * retries that answer for a while.
 */
async function memberAdd(endpoint: string, peerUrl: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`http://${endpoint}/v3/cluster/member/add`, {
      method: 'POST',
      body: JSON.stringify({ peerURLs: [peerUrl] }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = await res.text();
    if (res.ok) return;
    if (!body.includes('unhealthy cluster') || Date.now() > deadline) throw new Error(`member add failed: HTTP ${res.status} ${body}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function memberNames(endpoint: string): Promise<string[]> {
  const res = await fetch(`http://${endpoint}/v3/cluster/member/list`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(5_000) });
  const reply = (await res.json()) as { members?: { name?: string }[] };
  return (reply.members ?? []).map((member) => member.name ?? '').sort();
}

/** Polls a member's status until `accept` holds for its leader field, for at most `timeoutMs`. */
async function leaderOf(member: EtcdMember, accept: (leader: string) => boolean, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leader = await member.status(1_000).then((s) => s.leader, () => '?');
    if (accept(leader) || Date.now() > deadline) return leader;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('startEtcdCluster({ peerProxies: true })', () => {
  let cluster: EtcdCluster;

  beforeAll(async () => {
    cluster = await startEtcdCluster({ size: 3, peerProxies: true });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('members advertise their peer proxy, and the cluster works through the proxies', async () => {
    for (const member of cluster.members) expect(member.peerUrl).not.toBe(`http://127.0.0.1:${member.endpoint.split(':')[1]}`);
    const leader = await cluster.leader();
    await put(leader.endpoint, 'through-proxies', 'yes');
    for (const member of cluster.members) expect(await get(member.endpoint, 'through-proxies')).toBe('yes');
  });

  it('newMember() prepares a member that joins the running cluster once added and started', async () => {
    const joining = await cluster.newMember();
    expect(joining.name).toBe('m4');
    expect(joining.running).toBe(false);
    expect(cluster.members).toContain(joining);
    const leader = await cluster.leader();
    await memberAdd(leader.endpoint, joining.peerUrl);
    await joining.start({ timeoutMs: 20_000 });
    expect(await memberNames(leader.endpoint)).toEqual(['m1', 'm2', 'm3', 'm4']);
    await put(leader.endpoint, 'after-join', 'ok');
    const deadline = Date.now() + 10_000;
    while ((await get(joining.endpoint, 'after-join').catch(() => undefined)) !== 'ok' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await get(joining.endpoint, 'after-join')).toBe('ok');
    await expect(cluster.newMember({ name: 'm4' })).rejects.toThrow(/exists already/);
  }, 45_000);
  it('isolate() cuts a follower off from its peers (it loses its leader) and heal() brings it back', async () => {
    const [follower] = await cluster.followers();
    if (follower === undefined) throw new Error('no follower');
    await cluster.isolate(follower);
    expect(await leaderOf(follower, (leader) => leader === '0', 10_000)).toBe('0');
    // The majority keeps a leader and serves writes; the isolated member still answers clients.
    const leader = await cluster.leader();
    expect(leader).not.toBe(follower);
    await put(leader.endpoint, 'while-isolated', '1');
    expect(await follower.health(500)).toBe(false);
    await cluster.heal();
    expect(await leaderOf(follower, (value) => value !== '0' && value !== '?', 15_000)).not.toBe('0');
    await follower.waitHealthy(15_000);
    expect(await get(follower.endpoint, 'while-isolated')).toBe('1');
  }, 45_000);

});

describe('FaultProxy.blockSenders', () => {
  it('drops connections whose requests carry a blocked X-Server-From, and only those', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await using proxy = await startFaultProxy({ target: `127.0.0.1:${port}` });
    try {
      const send = (from: string): Promise<string> =>
        fetch(`http://${proxy.endpoint}/`, { headers: { 'X-Server-From': from }, signal: AbortSignal.timeout(2_000) }).then(
          (res) => res.text(),
          () => 'dropped',
        );
      await proxy.blockSenders(['abc1']);
      expect(await send('abc1')).toBe('dropped');
      expect(await send('ff02')).toBe('ok');
      const stats = await proxy.blockSenders([]);
      expect(stats.blocked).toBeGreaterThan(0);
      expect(await send('abc1')).toBe('ok');
      await expect(proxy.blockSenders(['not-hex'])).rejects.toThrow(RangeError);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
