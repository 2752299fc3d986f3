import { AuthAdmin } from './admin/auth.js';
import { Maintenance } from './admin/maintenance.js';
import { Cluster } from './admin/members.js';
import type { CallOptions } from './connection/call-options.js';
import { Connection, type EndpointInfo } from './connection/connection.js';
import { parseEndpoints } from './connection/endpoints.js';
import type { EtcdOptions } from './connection/options.js';
import { type Int64Input, toNonNegativeLong } from './encoding/int64.js';
import { KeySpace } from './kv/key-space.js';
import { kvMethods } from './kv/methods.js';
import { Namespace } from './kv/namespace.js';
import { type CompactResult, toCompactResult } from './kv/results.js';
import { watchesOf } from './watch/watch-manager.js';

/** Options of {@link Etcd.compact}. */
export interface CompactOptions extends CallOptions {
  /** Wait until the compaction is physically applied to the backend before resolving. */
  physical?: boolean;
}

/**
 * A client of one etcd cluster. It connects lazily on the first call, keeps one connection per
 * endpoint, and fails over between endpoints. Every method returns a promise; every error is
 * an `EtcdError`.
 *
 * @example
 * ```ts
 * const etcd = new Etcd({ endpoints: ['127.0.0.1:2379'] });
 * await etcd.put('greeting', 'hello');
 * (await etcd.get('greeting'))?.text();
 * await etcd.close();
 * ```
 */
export class Etcd extends Namespace {
  /** Member status, alarms, defragmentation, hashes, snapshots, leader transfer. */
  readonly maintenance: Maintenance;
  /** Cluster membership, and syncing the endpoint list with it. */
  readonly cluster: Cluster;
  /** Auth administration: enable/disable, users, roles and permissions. */
  readonly auth: AuthAdmin;

  constructor(options: EtcdOptions = {}) {
    super(new Connection(options), KeySpace.root);
    this.maintenance = new Maintenance(this.connection);
    this.cluster = new Cluster(this.connection);
    this.auth = new AuthAdmin(this.connection);
  }

  /**
   * Replaces the endpoint list at runtime (like the Go client's `SetEndpoints`). Endpoints
   * that stay keep their connection; calls already sent to a dropped endpoint finish there,
   * and streams on it move to the new list when they reconnect.
   */
  setEndpoints(endpoints: string[]): void {
    this.connection.setEndpoints(parseEndpoints(endpoints, 'endpoints', 'Etcd.setEndpoints'));
  }

  /**
   * Compacts the key-value history up to `revision`: older revisions can no longer be read or
   * watched. Compaction is cluster-wide, so it is only offered on the client, not on namespace views.
   */
  async compact(revision: Int64Input, options?: CompactOptions): Promise<CompactResult> {
    const request = {
      revision: toNonNegativeLong(revision, 'revision', 'Etcd.compact'),
      physical: options?.physical ?? false,
    };
    const response = await this.connection.unary(kvMethods.compact, request, { source: 'KV.Compact', mutation: true }, options);
    return toCompactResult(response);
  }

  /**
   * Asks the server for its current revision on every open watch stream, and resolves with it
   * (`undefined` when no watcher is open).
   *
   * @remarks
   * On etcd 3.4 this stream-wide progress reply can overtake events still queued for delivery,
   * so it moves no watcher's resume revision, and a cache must not take it as "current up to
   * here". Watchers created with `withProgressNotify()` get per-watcher progress notifications,
   * which are ordered with their events and do advance it.
   */
  watchProgress(): Promise<bigint | undefined> {
    return watchesOf(this.connection).progress();
  }

  /**
   * The state of every endpoint: whether calls can use it (`state`, a union on `status`), its
   * health (with `healthIntervalMs`), whether calls are pinned to it, failures, the last error,
   * unary calls in flight and open streams.
   */
  info(): EndpointInfo[] {
    return this.connection.info();
  }

  /** Whether {@link Etcd.close} has been called. */
  get closed(): boolean {
    return this.connection.isClosed;
  }

  /** Cancels every outstanding call and closes every connection; later calls reject with `ClientClosedError`. */
  close(): Promise<void> {
    this.connection.close();
    return Promise.resolve();
  }

  /** Alias of {@link Etcd.close} for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
