import { rpcMethod } from '../connection/rpc-method.js';
import { LockRequest, LockResponse, LockService } from '../generated/v3lockpb/v3lock.js';

/** The lock service's method (releasing is a guarded delete, see `LockHandle.release`). @internal */
export const lockMethods = {
  lock: rpcMethod(LockService.lock, LockRequest, LockResponse),
} as const;

/**
 * The deadline given to a call that waits for a lock or a leadership: none to speak of (about
 * 24 days, the longest grpc-js can time), since the wait is bounded by the caller's signal and
 * `timeoutMs`, and by the session.
 * @internal
 */
export const WAIT_FOREVER_MS = 2 ** 31 - 1;
