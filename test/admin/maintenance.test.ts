/**
 * etcd.maintenance against a real 3-node cluster: status per member (also of a member outside
 * the client's endpoint list), hashes, defragmenting one member, snapshots with their
 * integrity check, leader transfer, alarms, bad input.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Delete, Etcd, InvalidArgumentError, type MemberStatus, SnapshotCorruptError, verifySnapshot } from 'etcdkit';
import { activeResources, rejectionOf, waitForResourcesAtMost } from '../helpers/etcd.js';
import { until, useCluster } from './support.js';

const env = useCluster();
const files: string[] = [];
const client = (endpoints?: string[]): Etcd => env.client(endpoints ? { endpoints } : {});

function tempFile(name: string): string {
  const path = join(tmpdir(), `etcdkit-${process.pid}-${Date.now()}-${name}`);
  files.push(path, `${path}.part`);
  return path;
}

afterAll(async () => {
  await Promise.all(files.map((file) => rm(file, { force: true })));
});

describe('maintenance.status', () => {
  it('reports each member by endpoint or client URL, with bigint IDs and one leader', async () => {
    const etcd = client();
    const members = await etcd.cluster.members();
    const statuses: MemberStatus[] = [];
    for (const member of env.cluster.members) {
      const byEndpoint = await etcd.maintenance.status(member.endpoint);
      const byUrl = await etcd.maintenance.status(member.clientUrl);
      expect(byUrl.memberId).toBe(byEndpoint.memberId);
      statuses.push(byEndpoint);
      // The harness reads the same status through the JSON gateway, as decimal strings.
      expect(byEndpoint.memberId.toString()).toBe((await member.status()).memberId);
    }
    expect(new Set(statuses.map((s) => s.memberId)).size).toBe(3);
    expect(statuses.map((s) => s.memberId).sort()).toEqual(members.map((m) => m.id).sort());
    expect(statuses.filter((s) => s.isLeader)).toHaveLength(1);
    for (const status of statuses) {
      expect(typeof status.memberId).toBe('bigint');
      expect(status.leader).toBe(statuses.find((s) => s.isLeader)?.memberId);
      expect(status.version).toMatch(/^3\.\d+\.\d+/);
      expect(status.dbSize).toBeGreaterThan(0);
      expect(status.dbSizeInUse).toBeGreaterThan(0);
      expect(status.raftIndex).toBeGreaterThan(0n);
      expect(status.raftTerm).toBeGreaterThan(0n);
      expect(status.raftAppliedIndex).toBeGreaterThan(0n);
      expect(status.isLearner).toBe(false);
      expect(status.errors).toEqual([]);
      expect(status.header.memberId).toBe(status.memberId);
    }
    // Without an endpoint, the client's pinned endpoint answers.
    const pinned = etcd.info().find((e) => e.pinned)!.endpoint;
    expect((await etcd.maintenance.status()).memberId).toBe(statuses[env.cluster.endpoints.indexOf(pinned)]!.memberId);
  });

  it('reaches a member outside the client endpoint list on a temporary connection, closed after', async () => {
    const [first, , third] = env.cluster.members;
    const baseline = activeResources();
    const etcd = new Etcd({ endpoints: [first!.endpoint] });
    await etcd.get('warm-up');
    const status = await etcd.maintenance.status(third!.endpoint);
    expect(status.memberId.toString()).toBe((await third!.status()).memberId);
    expect(etcd.info().map((e) => e.endpoint)).toEqual([first!.endpoint]);
    await etcd.close();
    expect(await waitForResourcesAtMost(baseline)).toEqual({});
  });

  it('rejects bad input before sending anything', async () => {
    const etcd = client();
    for (const call of [
      () => etcd.maintenance.status('not an endpoint'),
      () => etcd.maintenance.status('ftp://127.0.0.1:1'),
      () => etcd.maintenance.defragment(undefined as unknown as string),
      () => etcd.maintenance.hashKV(-1),
      () => etcd.maintenance.moveLeader(-1n),
      () => etcd.maintenance.disarm({ alarm: 'FULL' as 'NOSPACE' }),
    ]) {
      expect(await rejectionOf(call)).toBeInstanceOf(InvalidArgumentError);
    }
    expect(() => etcd.maintenance.snapshot('nope')).toThrow(InvalidArgumentError);
  });
});

describe('maintenance.hash and hashKV', () => {
  it('agree across members at the same revision', async () => {
    const etcd = client();
    let revision = 0n;
    for (let i = 0; i < 10; i++) revision = (await etcd.put(`hash/k${i}`, String(i))).header.revision;
    const hashes = await until(
      () => Promise.all(env.cluster.members.map((m) => etcd.maintenance.hashKV(revision, m.endpoint))),
      (all) => new Set(all.map((h) => h.hash)).size === 1,
    );
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    expect(new Set(hashes.map((h) => h.header.memberId)).size).toBe(3);
    expect(hashes[0]!.compactRevision).toBeLessThan(revision);
    const latest = await etcd.maintenance.hashKV(0);
    expect(typeof latest.hash).toBe('number');
    const whole = await etcd.maintenance.hash(env.cluster.members[1]!.endpoint);
    expect(whole.hash).toBeGreaterThan(0);
    expect(whole.header.memberId.toString()).toBe((await env.cluster.members[1]!.status()).memberId);
  });
});

describe('maintenance.defragment', () => {
  it('shrinks the one member it targets and leaves the others as they were', async () => {
    const etcd = client();
    const value = 'x'.repeat(8 * 1024);
    const keys = Array.from({ length: 240 }, (_, i) => `defrag/${String(i).padStart(3, '0')}`);
    for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map((key) => etcd.put(key, value)));
    const deleted = await etcd.delete(Delete.key('defrag/').withPrefix());
    expect(deleted.deleted).toBe(BigInt(keys.length));
    await etcd.compact(deleted.header.revision, { physical: true });
    // Every member has applied the compaction once its in-use size dropped well below its file
    // size. bbolt reuses freed pages only after later commits, hence a small write per probe.
    let tick = 0;
    const before = await until(
      async () => {
        await etcd.put('defrag-tick', String(tick++));
        return Promise.all(env.cluster.members.map((m) => etcd.maintenance.status(m.endpoint)));
      },
      (all) => all.every((s) => s.dbSizeInUse < s.dbSize / 2),
    );
    for (const status of before) expect(status.dbSizeInUse).toBeLessThan(status.dbSize / 2);
    const target = env.cluster.members[1]!;
    const after = await etcd.maintenance.defragment(target.clientUrl);
    expect(after.memberId).toBe(before[1]!.memberId);
    expect(after.dbSize).toBeLessThan(before[1]!.dbSize / 2);
    const others = await Promise.all([0, 2].map((i) => etcd.maintenance.status(env.cluster.members[i]!.endpoint)));
    expect(others.map((s) => s.dbSize)).toEqual([before[0]!.dbSize, before[2]!.dbSize]);
  });
});

describe('maintenance.snapshot', () => {
  it('streams the database with its SHA-256, from a chosen member, and cancels when the loop breaks', async () => {
    const etcd = client();
    await etcd.put('snap/a', 'a');
    let bytes = 0;
    let chunks = 0;
    for await (const chunk of etcd.maintenance.snapshot(env.cluster.members[2]!.endpoint)) {
      expect(chunk).toBeInstanceOf(Uint8Array);
      bytes += chunk.byteLength;
      chunks++;
    }
    expect(bytes % 512).toBe(32);
    expect(chunks).toBeGreaterThan(1);
    for await (const chunk of etcd.maintenance.snapshot()) {
      expect(chunk.byteLength).toBeGreaterThan(0);
      break;
    }
    await until(async () => etcd.info().reduce((sum, e) => sum + e.streams, 0), (open) => open === 0, 2_000);
    expect(etcd.info().reduce((sum, e) => sum + e.streams, 0)).toBe(0);
  });

  it('saveSnapshot writes a file that verifySnapshot accepts; a corrupted or truncated copy is rejected', async () => {
    const etcd = client();
    await etcd.put('snap/b', 'b');
    const path = tempFile('snapshot.db');
    const saved = await etcd.maintenance.saveSnapshot(path, { endpoint: env.cluster.members[0]!.endpoint });
    expect(saved.path).toBe(path);
    expect(saved.size % 512).toBe(32);
    expect(saved.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifySnapshot(path)).toEqual(saved);
    await expect(readFile(`${path}.part`)).rejects.toThrow(/ENOENT/);

    const data = await readFile(path);
    const corrupted = Buffer.from(data);
    const middle = Math.floor(corrupted.length / 2);
    corrupted[middle] = corrupted[middle]! ^ 0xff;
    const corruptedPath = tempFile('corrupted.db');
    await writeFile(corruptedPath, corrupted);
    const error = await rejectionOf(() => verifySnapshot(corruptedPath));
    expect(error).toBeInstanceOf(SnapshotCorruptError);
    expect((error as SnapshotCorruptError).code).toBe('SNAPSHOT_CORRUPT');

    const truncatedPath = tempFile('truncated.db');
    await writeFile(truncatedPath, data.subarray(0, data.length - 1));
    expect(await rejectionOf(() => verifySnapshot(truncatedPath))).toBeInstanceOf(SnapshotCorruptError);
  });
});

describe('maintenance.moveLeader', () => {
  it('hands leadership to the chosen member, sent to whichever member leads now', async () => {
    // The client only knows a follower: the request must still reach the leader.
    const follower = (await env.cluster.followers())[0]!;
    const etcd = client([follower.endpoint]);
    const before = await etcd.maintenance.status();
    const members = await etcd.cluster.members();
    const target = members.find((m) => m.id !== before.leader)!;
    const result = await etcd.maintenance.moveLeader(target.id);
    expect(result).toEqual({ previousLeader: before.leader, leader: target.id });
    const after = await until(() => etcd.maintenance.status(), (s) => s.leader === target.id, 5_000);
    expect(after.leader).toBe(target.id);
    // Moving to the current leader is a no-op.
    expect((await etcd.maintenance.moveLeader(target.id)).previousLeader).toBe(target.id);
  });
});

describe('maintenance.alarms', () => {
  it('lists no alarm on a healthy cluster, and disarm() then clears nothing', async () => {
    const etcd = client();
    expect(await etcd.maintenance.alarms()).toEqual([]);
    expect(await etcd.maintenance.disarm()).toEqual([]);
  });
});
