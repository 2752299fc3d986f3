import { InvalidArgumentError } from '../connection/errors.js';
import { describe } from './int64.js';

/** Keys and values: a UTF-8 string, a Buffer or any Uint8Array. */
export type Bytes = string | Uint8Array;

const EMPTY = Buffer.alloc(0);
const NUL = Buffer.from([0]);

/** Encodes a key or value to a Buffer, rejecting anything that is not a string or bytes. */
export function toBuffer(value: unknown, argument: string, source: string): Buffer {
  if (typeof value === 'string') return value.length === 0 ? EMPTY : Buffer.from(value);
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new InvalidArgumentError(argument, `expected a string, Buffer or Uint8Array, got ${describe(value)}`, {
    source,
  });
}

/** Encodes a key that must not be empty (etcd rejects empty keys: "key is not provided"). */
export function toKey(value: unknown, argument: string, source: string): Buffer {
  const key = toBuffer(value, argument, source);
  if (key.length === 0) throw new InvalidArgumentError(argument, 'must not be empty', { source });
  return key;
}

/**
 * The smallest key greater than every key that starts with `prefix`: the prefix with its last
 * byte below 0xff incremented and what follows dropped. A prefix of only 0xff bytes has no such
 * key, so the range reaches to the end of the keyspace (`"\0"`, as etcd defines it).
 */
export function prefixEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Buffer.allocUnsafe(i + 1);
      prefix.copy(end, 0, 0, i + 1);
      end[i] = prefix[i]! + 1;
      return end;
    }
  }
  return NUL;
}

/** The range end etcd reads as "every key from `key` on" (`--from-key`). */
export const FROM_KEY_END: Buffer = NUL;

/** The key that, with {@link FROM_KEY_END}, selects the whole keyspace. */
export const ALL_KEYS_START: Buffer = NUL;

/** An empty buffer, shared. */
export const EMPTY_BYTES: Buffer = EMPTY;
