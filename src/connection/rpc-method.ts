/** A message codec as ts-proto generates it. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** Everything needed to issue one RPC, unary or streaming: its path and its codecs. */
export interface RpcMethod<Req, Res> {
  /** The gRPC path, such as `/etcdserverpb.KV/Range`. */
  readonly path: string;
  /** Serializes a request without copying the encoded bytes. */
  readonly serialize: (request: Req) => Buffer;
  /** Decodes a response. */
  readonly deserialize: (bytes: Buffer) => Res;
}

/**
 * Builds a {@link RpcMethod} from a ts-proto service definition entry (for its path) and the
 * two message codecs. The generated `requestSerialize` copies the encoded bytes into a new
 * Buffer; this one wraps them instead.
 */
export function rpcMethod<Req, Res>(
  definition: { readonly path: string },
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
): RpcMethod<Req, Res> {
  return {
    path: definition.path,
    serialize: serializer(request),
    deserialize: (bytes) => response.decode(bytes),
  };
}

/** The generated encoder of `codec` as a serializer that wraps the encoded bytes without copying them. */
export function serializer<T>(codec: MessageCodec<T>): (message: T) => Buffer {
  return (message) => {
    const bytes = codec.encode(message).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

/**
 * Builds a {@link RpcMethod} from a service definition entry and hand-written codecs (see
 * `encoding/fast-codec.ts`) that produce the generated codecs' bytes and objects with less work.
 */
export function fastRpcMethod<Req, Res>(
  definition: { readonly path: string },
  serialize: (request: Req) => Buffer,
  deserialize: (bytes: Buffer) => Res,
): RpcMethod<Req, Res> {
  return { path: definition.path, serialize, deserialize };
}
