import { describe, expect, it } from 'vitest';
import Long from 'long';
import { ClientClosedError, type EtcdError } from 'etcdkit';
import { startFaultProxy } from 'etcdkit/testing';
import { Connection } from '../src/connection/connection.js';
import { ReconnectingStream } from '../src/connection/reconnecting-stream.js';
import { rpcMethod } from '../src/connection/rpc-method.js';
import {
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseService,
  MaintenanceService,
  SnapshotRequest,
  SnapshotResponse,
} from '../src/generated/etcdserverpb/rpc.js';
import { useEtcd } from './helpers/etcd.js';

const etcd = useEtcd();
const keepAlive = rpcMethod(LeaseService.leaseKeepAlive, LeaseKeepAliveRequest, LeaseKeepAliveResponse);
const snapshot = rpcMethod(MaintenanceService.snapshot, SnapshotRequest, SnapshotResponse);

async function grantLease(ttl: number): Promise<Long> {
  const reply = await fetch(`${etcd.server.clientUrl}/v3/lease/grant`, { method: 'POST', body: JSON.stringify({ TTL: ttl }) });
  return Long.fromString(((await reply.json()) as { ID: string }).ID);
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('server streams', () => {
  it('yields every message, and breaking out cancels the call', async () => {
    const connection = new Connection({ endpoints: etcd.server.endpoints });
    try {
      let bytes = 0;
      let last = false;
      for await (const chunk of connection.serverStream(snapshot, {}, { source: 'Maintenance.Snapshot' })) {
        bytes += chunk.blob.length;
        last = chunk.remainingBytes.isZero();
      }
      expect(bytes).toBeGreaterThan(0);
      expect(last).toBe(true);
      for await (const chunk of connection.serverStream(snapshot, {}, { source: 'Maintenance.Snapshot' })) {
        expect(chunk.blob.length).toBeGreaterThan(0);
        break;
      }
      expect(connection.info()[0]?.failures).toBe(0);
    } finally {
      connection.close();
    }
  });
});

describe('ReconnectingStream', () => {
  it('reopens after a cut and lets the owner re-send its state; close() ends it for good', async () => {
    await using proxy = await startFaultProxy({ target: etcd.server.endpoint });
    const connection = new Connection({ endpoints: [proxy.endpoint] });
    const id = await grantLease(30);
    const replies: LeaseKeepAliveResponse[] = [];
    const broken: EtcdError[] = [];
    let opened = 0;
    let failed: EtcdError | undefined;
    const stream = new ReconnectingStream(
      connection,
      keepAlive,
      { source: 'Lease.LeaseKeepAlive', requireLeader: true },
      {
        opened: (send) => {
          opened++;
          send({ ID: id });
        },
        message: (reply) => replies.push(reply),
        broken: (error) => broken.push(error),
        failed: (error) => {
          failed = error;
        },
      },
      { initialBackoffMs: 20 },
    );
    await until(() => replies.length === 1);
    expect(replies[0]?.ID.toString()).toBe(id.toString());
    expect(replies[0]?.TTL.toNumber()).toBeGreaterThan(0);
    await proxy.cut();
    await until(() => replies.length === 2);
    expect(opened).toBe(2);
    expect(broken).toHaveLength(1);
    stream.close();
    await stream.done;
    expect(failed).toBeInstanceOf(ClientClosedError);
    expect(stream.isOpen).toBe(false);
    connection.close();
  });
});
