/**
 * A NOSPACE alarm on a single node with a small `--quota-backend-bytes`: writes fill the quota
 * until a put fails with NoSpaceError, the alarm is listed (and reported by status), reads
 * still work, and after compaction, defragmentation and disarm the member accepts writes again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Delete, Etcd, NoSpaceError } from 'etcdkit';
import { startEtcd, type EtcdServer } from 'etcdkit/testing';

const QUOTA_BYTES = 2 * 1024 * 1024;
const VALUE = 'v'.repeat(64 * 1024);
/** Far more than the quota can hold, so the loop is bounded even if the alarm never came. */
const MAX_PUTS = 200;

let server: EtcdServer;
let etcd: Etcd;

beforeAll(async () => {
  server = await startEtcd({ extraArgs: ['--quota-backend-bytes', String(QUOTA_BYTES)] });
  etcd = new Etcd({ endpoints: server.endpoints });
});

afterAll(async () => {
  await etcd?.close();
  await server?.close();
});

describe('NOSPACE alarm', () => {
  it('is raised by filling the quota, listed, and disarmed after compaction and defragmentation', async () => {
    let failure: unknown;
    let puts = 0;
    while (puts < MAX_PUTS && failure === undefined) {
      try {
        await etcd.put(`fill/${String(puts).padStart(4, '0')}`, VALUE);
        puts++;
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toBeInstanceOf(NoSpaceError);
    expect((failure as NoSpaceError).maybeApplied).toBe(false);
    expect(puts).toBeGreaterThan(5);

    const status = await etcd.maintenance.status();
    const alarms = await etcd.maintenance.alarms();
    expect(alarms).toEqual([{ memberId: status.memberId, alarm: 'NOSPACE' }]);
    expect(status.errors.join(' ')).toMatch(/NOSPACE/);
    // Reads still work; writes keep failing.
    expect((await etcd.get('fill/0000'))?.value.length).toBe(VALUE.length);
    await expect(etcd.put('fill/more', 'x')).rejects.toBeInstanceOf(NoSpaceError);

    // Reclaim space: delete, compact, defragment; then disarm.
    const deleted = await etcd.delete(Delete.key('fill/').withPrefix());
    await etcd.compact(deleted.header.revision, { physical: true });
    const defragmented = await etcd.maintenance.defragment(server.endpoint);
    expect(defragmented.dbSize).toBeLessThan(QUOTA_BYTES / 2);
    const cleared = await etcd.maintenance.disarm({ alarm: 'NOSPACE' });
    expect(cleared).toEqual([{ memberId: status.memberId, alarm: 'NOSPACE' }]);
    expect(await etcd.maintenance.alarms()).toEqual([]);
    expect((await etcd.maintenance.status()).errors).toEqual([]);
    await etcd.put('fill/after', 'ok');
    expect((await etcd.get('fill/after'))?.text()).toBe('ok');
  });
});
