import Long from 'long';
import { InvalidArgumentError } from '../connection/errors.js';

/** An int64 as callers may give it: `bigint`, or a `number` that is a safe integer. */
export type Int64Input = bigint | number;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Converts a generated-layer `Long` (signed or unsigned) to a `bigint` without losing precision. */
export function longToBigInt(value: Long): bigint {
  if (value.high === 0 && value.low >= 0) return BigInt(value.low);
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return value.unsigned ? bits : BigInt.asIntN(64, bits);
}

/** Converts an optional `Long` field; ts-proto leaves int64 fields as `Long.ZERO` when unset. */
export function optionalLongToBigInt(value: Long | undefined): bigint {
  return value === undefined ? 0n : longToBigInt(value);
}

function checkedBigInt(value: unknown, argument: string, source: string, unsigned: boolean): bigint {
  let big: bigint;
  if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
    big = BigInt(value);
  } else {
    throw new InvalidArgumentError(
      argument,
      `expected a bigint or a safe integer number, got ${describe(value)}`,
      { source },
    );
  }
  const [min, max] = unsigned ? [0n, UINT64_MAX] : [INT64_MIN, INT64_MAX];
  if (big < min || big > max) {
    throw new InvalidArgumentError(argument, `${big} is outside the ${unsigned ? 'uint64' : 'int64'} range`, { source });
  }
  return big;
}

/** Validates an int64 input and converts it for the generated layer. */
export function toLong(value: unknown, argument: string, source: string): Long {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return Long.fromNumber(value);
  const big = checkedBigInt(value, argument, source, false);
  return Long.fromBits(Number(big & 0xffffffffn), Number((big >> 32n) & 0xffffffffn), false);
}

/** Validates a uint64 input (member IDs) and converts it for the generated layer. */
export function toUnsignedLong(value: unknown, argument: string, source: string): Long {
  const big = checkedBigInt(value, argument, source, true);
  return Long.fromBits(Number(big & 0xffffffffn), Number((big >> 32n) & 0xffffffffn), true);
}

/** Validates an int64 input that must not be negative (revisions, limits). */
export function toNonNegativeLong(value: unknown, argument: string, source: string): Long {
  const long = toLong(value, argument, source);
  if (long.isNegative()) {
    throw new InvalidArgumentError(argument, `must not be negative, got ${long.toString()}`, { source });
  }
  return long;
}

/** A short description of a value for error messages, never its full content. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}
