import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdCluster, type EtcdCluster, type EtcdMember } from 'etcdkit/testing';
import { get, put } from './gateway.js';

async function raftIndexCaughtUp(member: EtcdMember, target: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const index = await member.status(1_000).then((s) => s.raftIndex, () => 0);
    if (index >= target || Date.now() > deadline) return index;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('startEtcdCluster()', () => {
  let cluster: EtcdCluster;

  beforeAll(async () => {
    cluster = await startEtcdCluster();
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('starts three healthy members with one leader', async () => {
    expect(cluster.members.map((m) => m.name)).toEqual(['m1', 'm2', 'm3']);
    expect(new Set(cluster.endpoints).size).toBe(3);
    const leader = await cluster.leader();
    const followers = await cluster.followers();
    expect(followers).toHaveLength(2);
    expect(followers).not.toContain(leader);
    const statuses = await Promise.all(cluster.members.map((m) => m.status()));
    const leaderId = (await leader.status()).memberId;
    for (const status of statuses) expect(status.leader).toBe(leaderId);
    expect(cluster.member('m2')).toBe(cluster.members[1]);
    expect(() => cluster.member('m9')).toThrow(/no member named m9/);
  });

  it('reports etcd_server_has_leader = 1 on every member', async () => {
    for (const member of cluster.members) expect(await member.metric('etcd_server_has_leader')).toBe(1);
  });

  it('elects a new leader when the leader is killed, and the old leader rejoins', async () => {
    const oldLeader = await cluster.leader();
    await put(oldLeader.endpoint, 'before', '1');
    await oldLeader.kill();
    expect(oldLeader.running).toBe(false);

    const newLeader = await cluster.leader();
    expect(newLeader).not.toBe(oldLeader);
    for (let i = 0; i < 20; i++) await put(newLeader.endpoint, `during/${i}`, String(i));

    await oldLeader.restart();
    const target = (await newLeader.status()).raftIndex;
    expect(await raftIndexCaughtUp(oldLeader, target, 10_000)).toBeGreaterThanOrEqual(target);
    expect(await get(oldLeader.endpoint, 'during/19')).toBe('19');
    expect(await get(oldLeader.endpoint, 'before')).toBe('1');
  });

  it('pauses and resumes a follower while the others keep a quorum', async () => {
    const [follower] = await cluster.followers();
    if (follower === undefined) throw new Error('no follower');
    follower.pause();
    expect(await follower.health(300)).toBe(false);
    const leader = await cluster.leader();
    await put(leader.endpoint, 'while-paused', 'yes');
    follower.resume();
    await follower.waitHealthy(10_000);
    expect(await get(follower.endpoint, 'while-paused')).toBe('yes');
  });

  it('stop() stops every member and close() removes the temp dir', async () => {
    const pids = cluster.members.map((m) => m.pid ?? -1);
    await cluster.stop();
    expect(cluster.members.every((m) => !m.running)).toBe(true);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    await cluster.close();
    await cluster.close();
    await expect(stat(cluster.dir)).rejects.toThrow(/ENOENT/);
  });
});
