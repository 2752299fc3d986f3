import * as grpc from '@grpc/grpc-js';
import {
  Compare_CompareTarget,
  KVService,
  LeaseGrantRequest,
  LeaseService,
  PutRequest,
  RangeRequest,
  TxnRequest,
  WatchRequest,
  WatchService,
} from '../../src/generated/etcdserverpb/rpc.js';
import { countRangeKvs, rawVarintField, varintField, walkWatchResponse } from '../wire.js';
import type { BenchClient, Stop } from './types.js';

const identity = (bytes: Buffer): Buffer => bytes;
const encoded = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The prefix range end: the prefix with its last byte incremented (ASCII prefixes only). */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  return end;
}

/**
 * The floor: a bare grpc-js client making the same RPCs with requests encoded once up front
 * (serialize is the identity on a prebuilt Buffer) and responses left as bytes, or walked just
 * far enough to read the one field the workload needs. No deadline, no metadata, no retries:
 * the least any client built on grpc-js can do per call.
 */
export function floorClient(endpoint: string, withDeadline = false): BenchClient {
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.use_local_subchannel_pool': 1,
  });
  // With `withDeadline` (the `floor-deadline` client), every call carries what etcdkit's carry:
  // a deadline 30 s out and the require-leader metadata.
  const requireLeader = new grpc.Metadata();
  requireLeader.set('hasleader', 'true');

  const unary = (path: string, request: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const done = (error: grpc.ServiceError | null, response?: Buffer): void => {
        if (error) reject(error);
        else resolve(response!);
      };
      if (withDeadline) client.makeUnaryRequest(path, identity, identity, request, requireLeader, { deadline: Date.now() + 30_000 }, done);
      else client.makeUnaryRequest(path, identity, identity, request, done);
    });

  const openStream = (path: string): grpc.ClientDuplexStream<Buffer, Buffer> => {
    const call = client.makeBidiStreamRequest(path, identity, identity);
    call.on('error', () => undefined);
    return call;
  };

  return {
    name: withDeadline ? 'floor-deadline' : 'floor',
    preparePut: (keys, value) => {
      const requests = keys.map((key) => encoded(PutRequest.encode(PutRequest.fromPartial({ key: Buffer.from(key), value: Buffer.from(value) })).finish()));
      const path = KVService.put.path;
      return (i) => unary(path, requests[i % requests.length]!);
    },
    prepareGet: (keys) => {
      const requests = keys.map((key) => encoded(RangeRequest.encode(RangeRequest.fromPartial({ key: Buffer.from(key) })).finish()));
      const path = KVService.range.path;
      return (i) => unary(path, requests[i % requests.length]!);
    },
    prepareCas: (keys, values) => {
      const request = (key: string, from: string, to: string): Buffer => {
        const k = Buffer.from(key);
        return encoded(
          TxnRequest.encode(
            TxnRequest.fromPartial({
              compare: [{ key: k, target: Compare_CompareTarget.VALUE, targetUnion: { $case: 'value', value: Buffer.from(from) } }],
              success: [{ request: { $case: 'requestPut', requestPut: { key: k, value: Buffer.from(to) } } }],
              failure: [{ request: { $case: 'requestRange', requestRange: { key: k } } }],
            }),
          ).finish(),
        );
      };
      const requests = keys.map((key) => [request(key, values[0], values[1]), request(key, values[1], values[0])] as const);
      const path = KVService.txn.path;
      // TxnResponse.succeeded is field 2.
      return async (lane, from) => varintField(await unary(path, requests[lane]![from]), 2) !== 0;
    },
    prepareRange: (prefix) => {
      const request = encoded(RangeRequest.encode(RangeRequest.fromPartial({ key: Buffer.from(prefix), rangeEnd: prefixEnd(prefix) })).finish());
      const path = KVService.range.path;
      return async () => countRangeKvs(await unary(path, request));
    },
    watchPrefix: (prefix, onEvent) => {
      const create = encoded(
        WatchRequest.encode(
          WatchRequest.fromPartial({ requestUnion: { $case: 'createRequest', createRequest: { key: Buffer.from(prefix), rangeEnd: prefixEnd(prefix) } } }),
        ).finish(),
      );
      return watchOn(openStream(WatchService.watch.path), [create], (_id, stamp) => onEvent(stamp)).then(({ stop }) => stop);
    },
    watchKeys: (keys) => {
      const creates = keys.map((key, index) =>
        encoded(
          WatchRequest.encode(
            WatchRequest.fromPartial({ requestUnion: { $case: 'createRequest', createRequest: { key: Buffer.from(key), watchId: index } } }),
          ).finish(),
        ),
      );
      let onEvent: (index: number, stamp: number) => void = () => undefined;
      return watchOn(openStream(WatchService.watch.path), creates, (index, stamp) => onEvent(index, stamp)).then(({ stop }) => ({
        consume: (handler) => {
          onEvent = handler;
        },
        stop,
      }));
    },
    keepLeases: async (count, ttl) => {
      const grant = encoded(LeaseGrantRequest.encode(LeaseGrantRequest.fromPartial({ TTL: ttl })).finish());
      const replies = await Promise.all(Array.from({ length: count }, () => unary(LeaseService.leaseGrant.path, grant)));
      // LeaseKeepAliveRequest and LeaseRevokeRequest are both { ID = 1 }; the ID is copied as its varint bytes.
      const idRequests = replies.map((reply) => Buffer.concat([Buffer.from([0x08]), rawVarintField(reply, 2)!]));
      const stream = openStream(LeaseService.leaseKeepAlive.path);
      // A reply without a TTL (field 3) says the lease is gone.
      let lost = 0;
      stream.on('data', (reply: Buffer) => {
        if (varintField(reply, 3) === 0) lost++;
      });
      const refresh = (): void => {
        for (const request of idRequests) stream.write(request);
      };
      refresh();
      const timer = setInterval(refresh, (ttl * 1000) / 3);
      return {
        lost: () => lost,
        stop: async () => {
          clearInterval(timer);
          stream.cancel();
          await Promise.all(idRequests.map((request) => unary(LeaseService.leaseRevoke.path, request)));
        },
      };
    },
    close: () => {
      client.close();
      return Promise.resolve();
    },
  };
}

/** Sends the creates on `stream` and resolves once each is acknowledged; events go to `onEvent`. */
function watchOn(
  stream: grpc.ClientDuplexStream<Buffer, Buffer>,
  creates: readonly Buffer[],
  onEvent: (watchId: number, stamp: number) => void,
): Promise<{ stop: Stop }> {
  return new Promise((resolve, reject) => {
    let waiting = creates.length;
    const stop: Stop = async () => {
      stream.cancel();
    };
    stream.on('data', (bytes: Buffer) => {
      const frame = walkWatchResponse(bytes, onEvent);
      if (frame.created && --waiting === 0) resolve({ stop });
    });
    stream.once('error', reject);
    for (const create of creates) stream.write(create);
  });
}
