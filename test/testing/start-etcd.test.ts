import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEtcdBinary, startEtcd, type EtcdServer } from 'etcdkit/testing';
import { get, processExists, put } from './gateway.js';

describe('startEtcd()', () => {
  let etcd: EtcdServer;

  beforeAll(async () => {
    etcd = await startEtcd();
  });

  afterAll(async () => {
    await etcd?.close();
  });

  it('starts a healthy member on a loopback port in its own temp dir', async () => {
    expect(etcd.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(etcd.endpoints).toEqual([etcd.endpoint]);
    expect(etcd.clientUrl).toBe(`http://${etcd.endpoint}`);
    expect(etcd.dir.startsWith(tmpdir())).toBe(true);
    expect(etcd.dataDir.startsWith(etcd.dir)).toBe(true);
    expect(etcd.running).toBe(true);
    expect(processExists(etcd.pid ?? -1)).toBe(true);
    expect(await etcd.health()).toBe(true);
    expect((await stat(etcd.logFile)).size).toBeGreaterThan(0);
  });

  it('serves puts and gets through the gateway', async () => {
    await put(etcd.endpoint, 'greeting', 'hello');
    expect(await get(etcd.endpoint, 'greeting')).toBe('hello');
  });

  it('reports status with string IDs and itself as leader', async () => {
    const status = await etcd.status();
    expect(status.version).toBe('3.4.23');
    expect(status.memberId).toMatch(/^\d+$/);
    expect(status.leader).toBe(status.memberId);
    expect(status.raftIndex).toBeGreaterThan(0);
    expect(status.dbSize).toBeGreaterThan(0);
  });

  it('reads metrics', async () => {
    const samples = await etcd.metrics();
    expect(samples.get('etcd_server_has_leader')).toBe(1);
    expect(await etcd.metric('etcd_server_has_leader')).toBe(1);
    expect(await etcd.metric('etcd_server_leader_changes_seen_total')).toBeGreaterThanOrEqual(1);
  });

  it('pauses and resumes the process', async () => {
    etcd.pause();
    expect(etcd.paused).toBe(true);
    expect(await etcd.health(300)).toBe(false);
    etcd.resume();
    expect(etcd.paused).toBe(false);
    await etcd.waitHealthy(5_000);
  });

  it('keeps the data across kill -9 and restart', async () => {
    const pid = etcd.pid ?? -1;
    await etcd.kill();
    expect(etcd.running).toBe(false);
    expect(etcd.pid).toBeUndefined();
    expect(processExists(pid)).toBe(false);
    expect(await etcd.health(500)).toBe(false);

    await etcd.restart();
    expect(etcd.running).toBe(true);
    expect(etcd.pid).not.toBe(pid);
    expect(await get(etcd.endpoint, 'greeting')).toBe('hello');
  });

  it('close() stops the process and removes the temp dir, and can be called again', async () => {
    const pid = etcd.pid ?? -1;
    await etcd.close();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(etcd.running).toBe(false);
    await expect(stat(etcd.dir)).rejects.toThrow(/ENOENT/);
    await etcd.close();
  });
});

describe('startEtcd() options and failures', () => {
  it('keeps the temp dir after a recorded failure with keepDataOnFailure', async () => {
    const etcd = await startEtcd({ keepDataOnFailure: true });
    try {
      etcd.recordFailure('test wants the logs');
      await etcd.close();
      expect(etcd.running).toBe(false);
      expect((await stat(etcd.logFile)).isFile()).toBe(true);
    } finally {
      await rm(etcd.dir, { recursive: true, force: true });
    }
  });

  it('passes extraArgs, and a member that exits at once fails the start with its stderr', async () => {
    const error = await startEtcd({ extraArgs: ['--no-such-flag'] }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).toMatch(/exited with code 2[\s\S]*flag provided but not defined: -no-such-flag/);
    // The message names the member log inside the run's temp dir, which must be gone.
    const dir = /(\S*etcdkit-[^/\s]+)\//.exec(error?.message ?? '')?.[1];
    expect(dir).toBeDefined();
    await expect(stat(dir!)).rejects.toThrow(/ENOENT/);
  });

  it('times out with the member log in the error', async () => {
    await expect(startEtcd({ startTimeoutMs: 1 })).rejects.toThrow(/timed out after 1 ms[\s\S]*s1\.log/);
  });

  it('names ETCD_BIN and etcd-server when the binary is missing', async () => {
    const error = await startEtcd({ binary: '/nonexistent/etcd' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('/nonexistent/etcd');
    expect((error as Error).message).toContain('ETCD_BIN');
    expect((error as Error).message).toContain('etcd-server');

    const saved = { bin: process.env['ETCD_BIN'], path: process.env['PATH'] };
    try {
      process.env['ETCD_BIN'] = '/nonexistent/etcd';
      await expect(findEtcdBinary()).rejects.toThrow(/\/nonexistent\/etcd \(from ETCD_BIN\)[\s\S]*etcd-server/);
      delete process.env['ETCD_BIN'];
      process.env['PATH'] = '/nonexistent';
      await expect(findEtcdBinary()).rejects.toThrow(/ETCD_BIN is not set and there is no etcd on PATH[\s\S]*etcd-server/);
    } finally {
      restoreEnv('ETCD_BIN', saved.bin);
      restoreEnv('PATH', saved.path);
    }
    expect(await findEtcdBinary()).toMatch(/etcd$/);
  });
});

function restoreEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}
