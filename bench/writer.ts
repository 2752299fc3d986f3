import * as grpc from '@grpc/grpc-js';
import { KVService, PutRequest } from '../src/generated/etcdserverpb/rpc.js';
import { nowStamp } from './wire.js';

const identity = (bytes: Buffer): Buffer => bytes;
/** Value bytes: the stamp (float64 LE) then padding. */
const VALUE_BYTES = 16;

/**
 * The writer of the watch workloads: a floor-style put client living in the orchestrator, so
 * the CPU spent writing is never charged to the watcher under test. Every value starts with
 * the time the put was issued, which gives the watcher its end-to-end lag.
 */
export class StampedWriter {
  private readonly client: grpc.Client;

  constructor(endpoint: string) {
    this.client = new grpc.Client(endpoint, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  }

  /** Puts `count` stamped values to `keys` in turn, `concurrency` at a time. */
  async write(keys: readonly string[], count: number, concurrency: number): Promise<void> {
    const templates = keys.map((key) =>
      Buffer.from(PutRequest.encode(PutRequest.fromPartial({ key: Buffer.from(key), value: Buffer.alloc(VALUE_BYTES, 1) })).finish()),
    );
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count) {
        const template = templates[next++ % templates.length]!;
        const request = Buffer.from(template);
        request.writeDoubleLE(nowStamp(), request.length - VALUE_BYTES);
        await new Promise<void>((resolve, reject) => {
          this.client.makeUnaryRequest(KVService.put.path, identity, identity, request, (error) => (error ? reject(error) : resolve()));
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  }

  close(): void {
    this.client.close();
  }
}
