import type { CallOptions } from '../connection/call-options.js';
import { CompactedError, LeaseNotFoundError } from '../connection/errors.js';
import type { Session } from '../lease/session.js';
import type { KeyValue } from '../kv/key-value.js';
import { Range } from '../kv/range.js';
import type { RangeResult } from '../kv/results.js';
import { Watch } from '../watch/watch.js';
import type { WatchOptions, Watcher } from '../watch/watcher.js';
import type { WaitScope } from './session-scope.js';

/** What waiting on other keys needs from a client or namespace view. @internal */
export interface WaitHost {
  range(range: Range, options?: CallOptions): Promise<RangeResult>;
  watch(target: Watch, options?: WatchOptions): Watcher;
}

/**
 * Resolves once `key` is deleted at or after `fromRevision`, or its history there is compacted
 * (the caller reads again to find out where things stand).
 * @internal
 */
export async function waitDeleted(host: WaitHost, key: Buffer, fromRevision: bigint, signal: AbortSignal): Promise<void> {
  const watcher = host.watch(Watch.key(key).withStartRevision(fromRevision), { signal });
  try {
    for await (const batch of watcher) {
      if (batch.events.some((event) => event.type === 'delete')) return;
    }
  } catch (error) {
    if (!(error instanceof CompactedError)) throw error;
  }
}

/**
 * Waits until no key under `prefix` has a create revision below `revision`: every earlier
 * waiter is gone. It watches the latest earlier key (from the revision it was read at) until
 * it is deleted, then reads again, so a key that expires out of order is never missed and
 * every earlier key is waited for, not only the one just before.
 * @internal
 */
export async function waitForEarlier(host: WaitHost, prefix: Buffer, revision: bigint, scope: WaitScope): Promise<void> {
  const earlier = Range.key(prefix).withPrefix().withSort('createRevision', 'descend').withLimit(1).withMaxCreateRevision(revision - 1n);
  for (;;) {
    scope.check();
    const result = await host.range(earlier, { signal: scope.signal });
    const last = result.kvs[0];
    if (last === undefined) return;
    await waitDeleted(host, last.key, result.header.revision, scope.signal);
  }
}

/** The first (oldest) key under `prefix`, by create revision. @internal */
export function firstCreated(prefix: Buffer): Range {
  return Range.key(prefix).withPrefix().withSort('createRevision', 'ascend').withLimit(1);
}

/** What confirming a hold needs from a client or namespace view. @internal */
export interface ConfirmHost {
  get(key: Buffer, options?: CallOptions): Promise<KeyValue | undefined>;
  readonly lease: { timeToLive(id: bigint, options?: CallOptions): Promise<unknown> };
}

/**
 * After a wait: checks that our key is still on our lease, and still the one created at
 * `revision` when given (a wait can end because the key itself went away: its lease expired
 * while waiting, and the keys before it went too). Resolves with its create revision. Throws
 * `SessionExpiredError` when the lease is gone, else the loss error `lost` makes.
 * @internal
 */
export async function confirmHeld(
  host: ConfirmHost,
  key: Buffer,
  revision: bigint | undefined,
  session: Session,
  scope: WaitScope,
  lost: (message: string) => Error,
): Promise<bigint> {
  const kv = await host.get(key, { signal: scope.signal });
  if (kv !== undefined && kv.lease === session.leaseId && (revision === undefined || kv.createRevision === revision)) {
    return kv.createRevision;
  }
  scope.check();
  if (session.isLost || !(await leaseExists(host, session.leaseId, scope))) throw scope.sessionExpired(session);
  throw lost(kv === undefined ? 'its key was deleted while waiting' : 'its key was replaced while waiting');
}

async function leaseExists(host: ConfirmHost, id: bigint, scope: WaitScope): Promise<boolean> {
  try {
    await host.lease.timeToLive(id, { signal: scope.signal });
    return true;
  } catch (error) {
    if (error instanceof LeaseNotFoundError) return false;
    throw error;
  }
}
