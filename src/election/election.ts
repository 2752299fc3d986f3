import type { CallOptions } from '../connection/call-options.js';
import type { Connection } from '../connection/connection.js';
import { EtcdError, InternalError, InvalidArgumentError, LeadershipLostError } from '../connection/errors.js';
import { type Bytes, toBuffer, toKey } from '../encoding/bytes.js';
import { longToBigInt, toLong } from '../encoding/int64.js';
import type { LeaderKey } from '../generated/v3electionpb/v3election.js';
import type { KeyValue } from '../kv/key-value.js';
import type { KeySpace } from '../kv/key-space.js';
import type { CoordinationHost } from '../lock/host.js';
import { WAIT_FOREVER_MS } from '../lock/methods.js';
import { checkWaitOptions, leaseHex, type WaitOptions } from '../lock/session-scope.js';
import { recipeQueue, takeTurn, type TurnSpec } from '../lock/take-turn.js';
import { confirmHeld, firstCreated } from '../lock/wait.js';
import { Op } from '../txn/op.js';
import { Leadership, type LeadershipOps } from './leadership.js';
import { electionMethods, NOT_LEADER } from './methods.js';
import { LeaderObserver, type ObserveOptions, recipeLeaders, serviceLeaders } from './observe.js';

/** Options of `etcd.election(name, options)`. */
export interface ElectionOptions {
  /**
   * `service` campaigns, proclaims and resigns through etcd's election service
   * (`v3electionpb.Election`) and observes with its `Observe` stream; `recipe` does the same
   * with key-value transactions and a watch, as Go's `concurrency.Election` does. Both use the
   * same keys (`<name>/<lease hex>`, the oldest key leads), so candidates of either kind,
   * `etcdctl elect` and Go clients take part in one election.
   * @defaultValue 'service'
   */
  mode?: 'service' | 'recipe';
}

/** Options of {@link Election.campaign}: the lease choice, a signal and a timeout. */
export type CampaignOptions = WaitOptions;

const CAMPAIGN = { source: 'Election.Campaign', mutation: true } as const;
const PROCLAIM = { source: 'Election.Proclaim', mutation: true } as const;
const RESIGN = { source: 'Election.Resign', mutation: true } as const;

/**
 * One election: `etcd.election(name)`. Candidates campaign with a value; the one whose key is
 * oldest leads until it resigns or its session ends, then the next oldest takes over.
 *
 * @remarks
 * A campaign waits until every candidate that came before it is gone, then checks that its own
 * key is still there: a candidate whose session expired while it waited is told so
 * (`SessionExpiredError`) instead of being elected with a key that no longer exists. An aborted
 * or timed-out campaign removes its key, even when the server elected it just as it gave up.
 *
 * @example
 * ```ts
 * const election = etcd.election('leader');
 * const leadership = await election.campaign('node-1', { ttl: 10 });
 * (await election.leader())?.text(); // 'node-1'
 * await leadership.resign();
 * ```
 */
export class Election {
  /** The election name (the key prefix of its candidates, relative to the view). */
  readonly name: Buffer;
  /** Whether it goes through the election service or the client-side recipe. */
  readonly mode: 'service' | 'recipe';
  readonly #prefix: Buffer;

  /** @internal */
  constructor(
    private readonly connection: Connection,
    private readonly keySpace: KeySpace,
    private readonly view: CoordinationHost,
    name: Bytes,
    options?: ElectionOptions,
  ) {
    const source = 'Etcd.election';
    this.name = toKey(name, 'name', source);
    const mode = options?.mode ?? 'service';
    if (mode !== 'service' && mode !== 'recipe') {
      throw new InvalidArgumentError('options.mode', `expected 'service' or 'recipe', got ${String(mode)}`, { source });
    }
    this.mode = mode;
    this.#prefix = Buffer.concat([this.name, Buffer.from('/')]);
  }

  /**
   * Campaigns with `value` and resolves with the {@link Leadership} once elected. A session
   * that already campaigns in this election keeps its place, and its value is updated.
   * @throws `SessionExpiredError` when the session ends first (it is never elected then);
   * `CancelledError` on abort and `DeadlineExceededError` on timeout, after removing its key.
   */
  async campaign(value: Bytes, options?: CampaignOptions): Promise<Leadership> {
    const source = 'Election.campaign';
    const bytes = toBuffer(value, 'value', source);
    checkWaitOptions(options, source);
    const lost = (message: string, key: Buffer): LeadershipLostError =>
      new LeadershipLostError(`${JSON.stringify(this.name.toString())} was not won: ${message}`, { source, key, reason: 'deleted' });
    const spec: TurnSpec = {
      view: this.view,
      source,
      name: this.name,
      choice: options,
      key: (leaseId) => Buffer.concat([this.#prefix, Buffer.from(leaseHex(leaseId))]),
      sessionKey: true,
      mode: 'wait',
      queue:
        this.mode === 'recipe'
          ? recipeQueue({ view: this.view, waitPrefix: this.#prefix, value: bytes, mode: 'wait', lost })
          : async ({ scope, session, key, serverKey }) => {
              const request = { name: this.keySpace.key(this.name), lease: toLong(session.leaseId, 'lease', source), value: bytes };
              const elected = await this.connection.unary(electionMethods.campaign, request, CAMPAIGN, {
                signal: scope.signal,
                timeoutMs: WAIT_FOREVER_MS,
              });
              const leader = elected.leader;
              if (leader === undefined || !leader.key.equals(serverKey)) {
                throw new InternalError('the election service elected a key that is not ours', { source });
              }
              return confirmHeld(this.view, key, longToBigInt(leader.rev), session, scope, (message) => lost(message, serverKey));
            },
    };
    const parts = await takeTurn(spec, options);
    return new Leadership(parts!, bytes, this.mode === 'recipe' ? recipeOps : this.serviceOps());
  }

  /** The current leader's key-value (its value is the leader's proclamation), or `undefined` when nobody leads. */
  async leader(options?: CallOptions): Promise<KeyValue | undefined> {
    const result = await this.view.range(firstCreated(this.#prefix), options);
    return result.kvs[0];
  }

  /** Observes the leader as it changes: see {@link LeaderObserver}. */
  observe(options?: ObserveOptions): LeaderObserver {
    const source =
      this.mode === 'recipe'
        ? recipeLeaders(this.view, this.#prefix)
        : serviceLeaders(this.connection, { name: this.keySpace.key(this.name) }, this.keySpace.strip);
    return new LeaderObserver(source, options);
  }

  private serviceOps(): LeadershipOps {
    const leaderKey = (leadership: Leadership): LeaderKey => ({
      name: this.keySpace.key(this.name),
      key: leadership.serverKey,
      rev: toLong(leadership.revision, 'revision', 'Leadership'),
      lease: toLong(leadership.leaseId, 'lease', 'Leadership'),
    });
    return {
      proclaim: async (leadership, value, options) => {
        try {
          await this.connection.unary(electionMethods.proclaim, { leader: leaderKey(leadership), value }, PROCLAIM, options);
          return true;
        } catch (error) {
          if (error instanceof EtcdError && error.serverMessage === NOT_LEADER) return false;
          throw error;
        }
      },
      resign: async (leadership, options) => {
        await this.connection.unary(electionMethods.resign, { leader: leaderKey(leadership) }, RESIGN, options);
      },
    };
  }
}

/** Proclaim and resign as Go's `concurrency.Election`: transactions conditioned on the leader key's create revision. */
const recipeOps: LeadershipOps = {
  async proclaim(leadership, value, options) {
    const put = Op.put(leadership.key, value, { lease: leadership.leaseId });
    const result = await leadership.txn().then(put).commit(options);
    return result.succeeded;
  },
  resign(leadership, options) {
    return leadership.removeLeaderKey(Op.delete(leadership.key), options);
  },
};
