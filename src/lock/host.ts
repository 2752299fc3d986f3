import type { CallOptions } from '../connection/call-options.js';
import { InvalidArgumentError } from '../connection/errors.js';
import type { Bytes } from '../encoding/bytes.js';
import type { DeleteResult, PutResult } from '../kv/results.js';
import type { Put, PutOptions } from '../kv/put.js';
import type { TxnHost } from './held-key.js';
import type { SessionSource } from './session-scope.js';
import type { ConfirmHost, WaitHost } from './wait.js';

/**
 * What locks, elections and the recipes need from a client or namespace view (an `Etcd` or
 * the result of `etcd.namespace(...)`): keys in every call are relative to the view.
 * @internal
 */
export interface CoordinationHost extends TxnHost, WaitHost, ConfirmHost, SessionSource {
  /** The view's key prefix (empty for the client). */
  readonly prefix: Buffer;
  put(key: Bytes, value: Bytes, options?: PutOptions & CallOptions): Promise<PutResult>;
  put(put: Put, options?: CallOptions): Promise<PutResult>;
  delete(key: Buffer, options?: CallOptions): Promise<DeleteResult>;
}

/** Checks that a recipe was given a client or namespace view. @internal */
export function checkHost(view: unknown, source: string): CoordinationHost {
  const candidate = view as Partial<CoordinationHost> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.txn !== 'function' || typeof candidate.watch !== 'function') {
    throw new InvalidArgumentError('view', 'expected an Etcd client or a namespace view (etcd.namespace(...))', { source });
  }
  return candidate as CoordinationHost;
}
