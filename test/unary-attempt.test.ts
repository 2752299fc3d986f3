/**
 * A unary attempt made on the grpc-js channel directly (src/connection/unary-attempt.ts), against
 * the real server: it must report exactly what grpc-js's `makeUnaryRequest` reported, including
 * on the rare paths (a response that does not decode, a request that does not encode, a cancel,
 * a passed deadline), since the error mapping and the retry rules read those errors.
 */
import * as grpc from '@grpc/grpc-js';
import Long from 'long';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../src/connection/connection.js';
import { EndpointChannel } from '../src/connection/endpoint-channel.js';
import { InternalError } from '../src/connection/errors.js';
import { type RpcMethod } from '../src/connection/rpc-method.js';
import { statusError, UnaryAttempt } from '../src/connection/unary-attempt.js';
import { PutRequest, type PutResponse, RangeRequest, type RangeResponse } from '../src/generated/etcdserverpb/rpc.js';
import { kvMethods } from '../src/kv/methods.js';
import { Range } from '../src/kv/range.js';
import { useEtcd } from './helpers/etcd.js';

const etcd = useEtcd();
const channels: EndpointChannel[] = [];
afterEach(() => {
  for (const channel of channels.splice(0)) channel.close();
});

interface Outcome<Res> {
  error: grpc.ServiceError | null;
  response: Res;
}

/** An attempt whose outcome is a promise. */
class RecordedAttempt<Res> extends UnaryAttempt<Res> {
  readonly outcome: Promise<Outcome<Res>>;
  private settle!: (outcome: Outcome<Res>) => void;
  ends = 0;

  constructor(channel: EndpointChannel, deserialize: (bytes: Buffer) => Res) {
    super(channel, deserialize);
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }

  protected end(error: grpc.ServiceError | null, response: Res): void {
    this.ends++;
    this.settle({ error, response });
  }
}

function channel(): EndpointChannel {
  const opened = new EndpointChannel(etcd.server.endpoint, grpc.credentials.createInsecure(), {});
  channels.push(opened);
  return opened;
}

const inAMinute = (): number => Date.now() + 60_000;

function range(key: string): RangeRequest {
  return RangeRequest.fromPartial({ key: Buffer.from(key) });
}

describe('UnaryAttempt', () => {
  it('sends a request and reports the decoded response once, with the endpoint in flight meanwhile', async () => {
    const to = channel();
    const key = `${etcd.prefix()}k`;
    await etcd.client().put(key, 'v');
    const attempt = new RecordedAttempt(to, kvMethods.range.deserialize);
    attempt.send(kvMethods.range.path, kvMethods.range.serialize(range(key)), new grpc.Metadata(), inAMinute());
    expect(to.inFlight).toBe(1);
    const { error, response } = await attempt.outcome;
    expect(error).toBeNull();
    expect(Buffer.from(response.kvs[0]!.value).toString()).toBe('v');
    expect(to.inFlight).toBe(0);
    expect(attempt.ends).toBe(1);
  });

  it("reports a server's refusal as grpc-js does: code, details, metadata and the 'code NAME: details' message", async () => {
    const attempt = new RecordedAttempt<PutResponse>(channel(), kvMethods.put.deserialize);
    const request = PutRequest.fromPartial({ key: Buffer.from(`${etcd.prefix()}k`), value: Buffer.from('v'), lease: Long.fromNumber(0x7eadbeef) });
    attempt.send(kvMethods.put.path, kvMethods.put.serialize(request), new grpc.Metadata(), inAMinute());
    const { error } = await attempt.outcome;
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'etcdserver: requested lease not found' });
    expect(error?.metadata).toBeInstanceOf(grpc.Metadata);
    expect(error?.message).toBe('5 NOT_FOUND: etcdserver: requested lease not found');
  });

  it('a response that does not decode ends the call with INTERNAL and the decoder message', async () => {
    const failing: RpcMethod<RangeRequest, RangeResponse> = {
      ...kvMethods.range,
      deserialize: () => {
        throw new Error('not a RangeResponse');
      },
    };
    const attempt = new RecordedAttempt(channel(), failing.deserialize);
    attempt.send(failing.path, failing.serialize(range(`${etcd.prefix()}k`)), new grpc.Metadata(), inAMinute());
    const { error } = await attempt.outcome;
    expect(error).toMatchObject({ code: grpc.status.INTERNAL, details: 'Response message parsing error: not a RangeResponse' });
    expect(attempt.ends).toBe(1);
  });

  it('cancel() ends the call with CANCELLED, also as an abort listener; a later cancel changes nothing', async () => {
    const attempt = new RecordedAttempt(channel(), kvMethods.range.deserialize);
    const controller = new AbortController();
    controller.signal.addEventListener('abort', attempt, { once: true });
    attempt.send(kvMethods.range.path, kvMethods.range.serialize(range(`${etcd.prefix()}k`)), new grpc.Metadata(), inAMinute());
    controller.abort();
    const { error } = await attempt.outcome;
    expect(error).toMatchObject({ code: grpc.status.CANCELLED, details: 'Cancelled on client' });
    attempt.cancel();
    await new Promise((resolve) => setImmediate(resolve));
    expect(attempt.ends).toBe(1);
  });

  it('a deadline already passed ends the call with DEADLINE_EXCEEDED', async () => {
    const attempt = new RecordedAttempt(channel(), kvMethods.range.deserialize);
    attempt.send(kvMethods.range.path, kvMethods.range.serialize(range(`${etcd.prefix()}k`)), new grpc.Metadata(), Date.now() - 1);
    const { error } = await attempt.outcome;
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it('a status OK without a response, or a second response, is an error as in grpc-js', () => {
    const none = new RecordedAttempt(channel(), kvMethods.range.deserialize);
    none.onReceiveStatus({ code: grpc.status.OK, details: 'OK', metadata: new grpc.Metadata() });
    const twice = new RecordedAttempt(channel(), (bytes) => bytes.length);
    twice.onReceiveMessage(Buffer.alloc(1));
    twice.onReceiveMessage(Buffer.alloc(2));
    twice.onReceiveStatus({ code: grpc.status.UNIMPLEMENTED, details: 'Too many responses received', metadata: new grpc.Metadata() });
    return Promise.all([none.outcome, twice.outcome]).then(([noResponse, second]) => {
      expect(noResponse.error).toMatchObject({ code: grpc.status.UNIMPLEMENTED, details: 'No message received' });
      expect(second.error?.message).toBe('12 UNIMPLEMENTED: Too many responses received');
    });
  });

  it('statusError makes the message from the code name', () => {
    const error = statusError({ code: grpc.status.UNAVAILABLE, details: 'No connection established', metadata: new grpc.Metadata() });
    expect(error.message).toBe('14 UNAVAILABLE: No connection established');
    expect(error.details).toBe('No connection established');
  });
});

describe('Connection.unary', () => {
  it('encodes a request once, before the first attempt: a request the codec refuses is an InternalError and nothing is sent', async () => {
    const connection = new Connection({ endpoints: [etcd.server.endpoint] });
    try {
      const failing: RpcMethod<RangeRequest, RangeResponse> = {
        ...kvMethods.range,
        serialize: () => {
          throw new Error('cannot encode');
        },
      };
      const error = await connection.unary(failing, range('k'), { source: 'KV.Range', mutation: false }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InternalError);
      expect(error).toMatchObject({ source: 'KV.Range', maybeApplied: false });
      expect((error as Error).message).toContain('the request could not be encoded: cannot encode');
      expect(connection.info()[0]).toMatchObject({ connectivity: 'idle', inFlight: 0 });
    } finally {
      connection.close();
    }
  });

  it("a settled call's result is not kept alive through grpc-js, which holds the attempt (its listener) for a while after the status", async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const client = etcd.client();
    const key = `${etcd.prefix()}big`;
    await client.put(key, Buffer.alloc(64 * 1024, 1));
    let collected = 0;
    const registry = new FinalizationRegistry(() => collected++);
    await Promise.all([0, 1, 2].map(async () => registry.register(await client.range(Range.key(key)), undefined)));
    gc();
    for (let turn = 0; turn < 10 && collected < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(collected).toBe(3);
  });
});
