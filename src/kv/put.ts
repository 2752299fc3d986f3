import Long from 'long';
import { InvalidArgumentError } from '../connection/errors.js';
import { type Bytes, EMPTY_BYTES, toBuffer, toKey } from '../encoding/bytes.js';
import { type Int64Input, toLong } from '../encoding/int64.js';
import type { PutRequest } from '../generated/etcdserverpb/rpc.js';

/**
 * An immutable put (write) request. Every `with*` returns a new `Put`.
 *
 * @example
 * ```ts
 * await etcd.put(Put.key('config').withValue('{"a":1}').withLease(lease.id).withPrevKv());
 * ```
 */
export class Put {
  private readonly request: Readonly<PutRequest>;

  private constructor(request: PutRequest) {
    this.request = Object.freeze(request);
  }

  /** A put of `key`, with an empty value until {@link Put.withValue}. */
  static key(key: Bytes): Put {
    return Put.of(toKey(key, 'key', 'Put.key'), EMPTY_BYTES);
  }

  /**
   * `Put.key(key).withValue(value)` in one step (one request object instead of three), with the
   * same checks in the same order. @internal
   */
  static keyValue(key: Bytes, value: Bytes): Put {
    return Put.of(toKey(key, 'key', 'Put.key'), toBuffer(value, 'value', 'Put.withValue'));
  }

  /** The request with every other field at its default, as `PutRequest.fromPartial` makes it. */
  private static of(key: Buffer, value: Buffer): Put {
    return new Put({ key, value, lease: Long.ZERO, prevKv: false, ignoreValue: false, ignoreLease: false });
  }

  private with(changes: Partial<PutRequest>): Put {
    return new Put({ ...this.request, ...changes });
  }

  /** The value to store. */
  withValue(value: Bytes): Put {
    const source = 'Put.withValue';
    const encoded = toBuffer(value, 'value', source);
    if (this.request.ignoreValue && encoded.length > 0) {
      throw new InvalidArgumentError('value', 'cannot be set together with withIgnoreValue()', { source });
    }
    return this.with({ value: encoded });
  }

  /** Attaches the key to a lease, so it is deleted when the lease ends (`0` detaches). */
  withLease(lease: Int64Input): Put {
    const source = 'Put.withLease';
    const encoded = toLong(lease, 'lease', source);
    if (this.request.ignoreLease && !encoded.isZero()) {
      throw new InvalidArgumentError('lease', 'cannot be set together with withIgnoreLease()', { source });
    }
    return this.with({ lease: encoded });
  }

  /** Returns the previous key-value in the result. */
  withPrevKv(prevKv = true): Put {
    return this.with({ prevKv });
  }

  /** Keeps the current value and changes only the lease; fails with `KeyNotFoundError` if the key is missing. */
  withIgnoreValue(ignoreValue = true): Put {
    if (ignoreValue && this.request.value.length > 0) {
      throw new InvalidArgumentError('ignoreValue', 'a value is already set on this Put', { source: 'Put.withIgnoreValue' });
    }
    return this.with({ ignoreValue });
  }

  /** Keeps the current lease and changes only the value; fails with `KeyNotFoundError` if the key is missing. */
  withIgnoreLease(ignoreLease = true): Put {
    if (ignoreLease && !this.request.lease.isZero()) {
      throw new InvalidArgumentError('ignoreLease', 'a lease is already set on this Put', { source: 'Put.withIgnoreLease' });
    }
    return this.with({ ignoreLease });
  }

  /** The key written. */
  get key(): Buffer {
    return this.request.key;
  }

  /** The generated request this builder stands for. @internal */
  toRequest(): Readonly<PutRequest> {
    return this.request;
  }
}

/** Options of the `put(key, value, options)` shortcut; each is the matching {@link Put} step. */
export interface PutOptions {
  /** Attach the key to this lease ({@link Put.withLease}). */
  lease?: Int64Input;
  /** Return the previous key-value ({@link Put.withPrevKv}). */
  prevKv?: boolean;
  /** Keep the current value ({@link Put.withIgnoreValue}). */
  ignoreValue?: boolean;
  /** Keep the current lease ({@link Put.withIgnoreLease}). */
  ignoreLease?: boolean;
}

/** Builds the {@link Put} of a `put(key, value, options)` style call, or passes a given `Put` through. */
export function toPut(keyOrPut: Bytes | Put, value: Bytes | undefined, options: PutOptions | undefined): Put {
  if (keyOrPut instanceof Put) return keyOrPut;
  // The common case, a key and a value and no put option (options may hold call options).
  if (
    value !== undefined &&
    (options === undefined ||
      (options.lease === undefined && !options.prevKv && !options.ignoreValue && !options.ignoreLease))
  ) {
    return Put.keyValue(keyOrPut, value);
  }
  let put = Put.key(keyOrPut);
  if (options?.ignoreValue) put = put.withIgnoreValue();
  if (options?.ignoreLease) put = put.withIgnoreLease();
  if (value !== undefined || !options?.ignoreValue) put = put.withValue(value as Bytes);
  if (options?.lease !== undefined) put = put.withLease(options.lease);
  if (options?.prevKv) put = put.withPrevKv();
  return put;
}
