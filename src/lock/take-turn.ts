import type { CallOptions } from '../connection/call-options.js';
import type { Session } from '../lease/session.js';
import { Compare } from '../txn/compare.js';
import { Op } from '../txn/op.js';
import type { HeldKeyParts } from './held-key.js';
import type { CoordinationHost } from './host.js';
import { KeyClaims } from './key-claims.js';
import { CLEANUP, holdSession, type LeaseChoice, type SessionHold, WaitScope } from './session-scope.js';
import { confirmHeld, firstCreated, waitForEarlier } from './wait.js';

/** What a queueing step works with. @internal */
export interface Turn {
  readonly scope: WaitScope;
  readonly session: Session;
  /** Our key, relative to the view. */
  readonly key: Buffer;
  /** Our key as the server knows it. */
  readonly serverKey: Buffer;
}

/** How one lock, campaign or recipe takes its turn. @internal */
export interface TurnSpec {
  readonly view: CoordinationHost;
  readonly source: string;
  /** The lock or election name, relative to the view. */
  readonly name: Buffer;
  readonly choice: LeaseChoice | undefined;
  /** Our key, relative to the view: `<name>/<lease hex>` (shared by every hold of one session) or a unique key. */
  key(leaseId: bigint): Buffer;
  /** Whether the key is shared by every hold of a session, so holds in this process must take turns. */
  readonly sessionKey: boolean;
  /** With `try`, give up at once if it is not our turn. */
  readonly mode: 'wait' | 'try';
  /**
   * Puts our key and waits for our turn; resolves with our key's create revision, or
   * `undefined` when `mode` is `try` and it is not our turn.
   */
  queue(turn: Turn): Promise<bigint | undefined>;
}

/**
 * Takes a turn: starts (or borrows) the session, claims our key in this process, queues it and
 * waits. Resolves with what a handle is built from, or `undefined` for a `try` that is not our
 * turn. On any failure, abort or timeout, our key is removed (a granted session is revoked,
 * which also removes a key put after we gave up) before the call rejects, so nothing is left
 * behind to block later waiters.
 * @internal
 */
export async function takeTurn(spec: TurnSpec, options: CallOptions | undefined): Promise<HeldKeyParts | undefined> {
  const scope = new WaitScope(spec.source, options);
  let hold: SessionHold | undefined;
  let unclaim: (() => void) | undefined;
  let key: Buffer | undefined;
  try {
    hold = await holdSession(spec.view, spec.choice, scope);
    scope.watch(hold.session);
    const ours = spec.key(hold.session.leaseId);
    const serverKey = Buffer.concat([spec.view.prefix, ours]);
    if (!spec.sessionKey || hold.origin === 'granted') unclaim = () => undefined;
    else if (spec.mode === 'wait') unclaim = await KeyClaims.shared.claim(serverKey, scope);
    else if ((unclaim = KeyClaims.shared.tryClaim(serverKey)) === undefined) return await giveUp(spec, hold, undefined, undefined);
    key = ours;
    const revision = await spec.queue({ scope, session: hold.session, key: ours, serverKey });
    if (revision === undefined) return await giveUp(spec, hold, unclaim, ours);
    return { host: spec.view, name: spec.name, key: ours, serverKey, revision, hold, unclaim };
  } catch (error) {
    // Decided before the clean-up, whose revoke of a granted session would read as its loss.
    const failure = scope.failure(error);
    if (hold !== undefined) await giveUp(spec, hold, unclaim, key);
    throw failure;
  } finally {
    scope.dispose();
  }
}

/**
 * Removes our key (revoking a granted session does that by itself), then ends the claim and the
 * hold. A lost session takes our key with it (a lease lost by its deadline is revoked by the
 * client once the server answers again), so nothing is awaited then: the server may be out of
 * reach, and the wait would only delay the rejection.
 */
async function giveUp(spec: TurnSpec, hold: SessionHold, unclaim: (() => void) | undefined, key: Buffer | undefined): Promise<undefined> {
  if (hold.session.isLost) {
    unclaim?.();
    void hold.end();
    return undefined;
  }
  if (key !== undefined && hold.origin !== 'granted') await spec.view.delete(key, CLEANUP).catch(() => undefined);
  unclaim?.();
  await hold.end();
  return undefined;
}

/** How the client-side recipes queue. @internal */
export interface RecipeQueue {
  readonly view: CoordinationHost;
  /** The keys that go first if created before ours. */
  readonly waitPrefix: Buffer;
  /** The value to put (and to set, if our key already exists with another one). */
  readonly value: Buffer;
  readonly mode: 'wait' | 'try';
  /** The loss error of a key that vanished while waiting. */
  lost(message: string, serverKey: Buffer): Error;
}

/**
 * The recipes' queueing step, as Go's concurrency package does it: one transaction puts our
 * key on the session's lease unless the session already has it (then it is reused, and its
 * value set), and reads the oldest key under `waitPrefix`; if that is older than ours, wait
 * until every key created before ours is gone, then check ours is still there.
 * @internal
 */
export function recipeQueue(recipe: RecipeQueue): TurnSpec['queue'] {
  return async ({ scope, session, key, serverKey }) => {
    const { view, value } = recipe;
    const lease = session.leaseId;
    const first = firstCreated(recipe.waitPrefix);
    const queued = await view
      .txn()
      .if(Compare.createRevision(key).equals(0))
      .then(Op.put(key, value, { lease }), Op.get(first))
      .else(Op.get(key), Op.get(first))
      .commit({ signal: scope.signal });
    const existing = queued.succeeded ? undefined : queued.responses[0].kvs[0];
    const revision = existing?.createRevision ?? queued.header.revision;
    if (existing !== undefined && !existing.value.equals(value)) {
      await view.txn().if(Compare.createRevision(key).equals(revision)).then(Op.put(key, value, { lease })).commit({ signal: scope.signal });
    }
    const head = queued.responses[1].kvs[0];
    if (head === undefined || head.createRevision >= revision) return revision;
    if (recipe.mode === 'try') return undefined;
    await waitForEarlier(view, recipe.waitPrefix, revision, scope);
    return confirmHeld(view, key, revision, session, scope, (message) => recipe.lost(message, serverKey));
  };
}
