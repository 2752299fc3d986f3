import type { CallOptions } from '../connection/call-options.js';
import { InvalidArgumentError, UpdateConflictError } from '../connection/errors.js';
import type { Bytes } from '../encoding/bytes.js';
import type { Int64Input } from '../encoding/int64.js';
import { Compare } from '../txn/compare.js';
import { Op } from '../txn/op.js';
import type { Txn } from '../txn/txn.js';
import { Delete } from './delete.js';
import type { KeyValue, ResponseHeader } from './key-value.js';
import { type PutOptions, toPut } from './put.js';

/** What a compare-and-swap or compare-and-delete expects to find; exactly one field. */
export type Expected = { value: Bytes } | { modRevision: Int64Input } | { version: Int64Input };

/** The result of a compare-and-swap or compare-and-delete. */
export interface CasResult {
  /** Whether the expectation held and the write was made. */
  succeeded: boolean;
  /** The response header; on success `header.revision` is the revision of the write. */
  header: ResponseHeader;
  /** The key-value found when the transaction ran (before the write on success); `undefined` if missing. */
  found: KeyValue | undefined;
}

/** Options of `update`. */
export interface UpdateOptions extends CallOptions {
  /**
   * Attempts before giving up with `UpdateConflictError`.
   * @defaultValue 10
   */
  maxAttempts?: number;
}

/** The result of `update`. */
export interface UpdateResult {
  /** False when the function returned `undefined`, leaving the key as it was. */
  updated: boolean;
  /** The key-value now stored (`undefined` if the key is missing and was not written). */
  kv: KeyValue | undefined;
  /** How many read-modify-write attempts it took. */
  attempts: number;
}

/** The calls the helpers need from a client or namespace view. @internal */
export interface CasHost {
  txn(): Txn;
  get(key: Bytes, options?: CallOptions): Promise<KeyValue | undefined>;
}

function expectation(key: Bytes, expected: Expected, source: string): Compare {
  if (typeof expected !== 'object' || expected === null) {
    throw new InvalidArgumentError('expected', 'expected { value } or { modRevision } or { version }', { source });
  }
  const fields = Object.keys(expected);
  if (fields.length !== 1) {
    throw new InvalidArgumentError('expected', `needs exactly one of value, modRevision, version; got ${fields.join(', ') || 'none'}`, {
      source,
    });
  }
  if ('value' in expected) return Compare.value(key).equals(expected.value);
  if ('modRevision' in expected) return Compare.modRevision(key).equals(expected.modRevision);
  if ('version' in expected) return Compare.version(key).equals(expected.version);
  throw new InvalidArgumentError('expected', `unknown field ${fields[0]}`, { source });
}

/** @internal */
export async function putIfAbsent(
  host: CasHost,
  key: Bytes,
  value: Bytes,
  options: (PutOptions & CallOptions) | undefined,
): Promise<boolean> {
  const result = await host.txn().if(Compare.missing(key)).then(Op.put(toPut(key, value, options))).commit(options);
  return result.succeeded;
}

/** @internal */
export async function compareAndSwap(
  host: CasHost,
  key: Bytes,
  expected: Expected,
  value: Bytes,
  options: (PutOptions & CallOptions) | undefined,
): Promise<CasResult> {
  const compare = expectation(key, expected, 'Etcd.compareAndSwap');
  const put = toPut(key, value, options).withPrevKv();
  const result = await host.txn().if(compare).then(Op.put(put)).else(Op.get(key)).commit(options);
  return result.succeeded
    ? { succeeded: true, header: result.header, found: result.responses[0].prevKv }
    : { succeeded: false, header: result.header, found: result.responses[0].kvs[0] };
}

/** @internal */
export async function compareAndDelete(
  host: CasHost,
  key: Bytes,
  expected: Expected,
  options: CallOptions | undefined,
): Promise<CasResult> {
  const compare = expectation(key, expected, 'Etcd.compareAndDelete');
  const result = await host
    .txn()
    .if(compare)
    .then(Op.delete(Delete.key(key).withPrevKv()))
    .else(Op.get(key))
    .commit(options);
  return result.succeeded
    ? { succeeded: true, header: result.header, found: result.responses[0].prevKvs[0] }
    : { succeeded: false, header: result.header, found: result.responses[0].kvs[0] };
}

/** @internal */
export async function update(
  host: CasHost,
  key: Bytes,
  fn: (current: KeyValue | undefined) => Bytes | undefined | Promise<Bytes | undefined>,
  options: UpdateOptions | undefined,
): Promise<UpdateResult> {
  const source = 'Etcd.update';
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'expected a function', { source });
  const maxAttempts = options?.maxAttempts ?? 10;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new InvalidArgumentError('options.maxAttempts', 'expected a positive integer', { source });
  }
  let current = await host.get(key, options);
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const next = await fn(current);
    if (next === undefined) return { updated: false, kv: current, attempts: attempt };
    // An existing key keeps its lease; a new key gets none.
    const condition = current ? Compare.modRevision(key).equals(current.modRevision) : Compare.missing(key);
    const put = toPut(key, next, current ? { ignoreLease: true } : undefined);
    const result = await host.txn().if(condition).then(Op.put(put), Op.get(key)).else(Op.get(key)).commit(options);
    if (result.succeeded) return { updated: true, kv: result.responses[1].kvs[0], attempts: attempt };
    current = result.responses[0].kvs[0];
  }
  throw new UpdateConflictError(maxAttempts, { source });
}
