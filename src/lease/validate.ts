import { InvalidArgumentError } from '../connection/errors.js';
import { describe, toLong } from '../encoding/int64.js';
import type Long from 'long';

/** etcd's largest lease TTL in seconds (`MaxLeaseTTL`); the server rejects more with "too large lease TTL". */
export const MAX_LEASE_TTL = 9_000_000_000;

/** Checks a lease TTL: a positive integer number of seconds, at most {@link MAX_LEASE_TTL}. @internal */
export function checkTtl(ttl: unknown, source: string, argument = 'ttl'): number {
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1) {
    const got = typeof ttl === 'number' ? String(ttl) : describe(ttl);
    throw new InvalidArgumentError(argument, `expected a positive integer number of seconds, got ${got}`, { source });
  }
  if (ttl > MAX_LEASE_TTL) {
    throw new InvalidArgumentError(argument, `${ttl} is above etcd's maximum lease TTL of ${MAX_LEASE_TTL} s`, { source });
  }
  return ttl;
}

/** A validated lease ID, as a `bigint` for the client and a `Long` for the wire. @internal */
export interface LeaseIdArg {
  readonly id: bigint;
  readonly long: Long;
}

/** Checks a lease ID (a `bigint`, or a safe integer `number`, within int64). @internal */
export function toLeaseId(id: unknown, source: string, argument = 'id'): LeaseIdArg {
  const long = toLong(id, argument, source);
  return { id: typeof id === 'bigint' ? id : BigInt(id as number), long };
}
