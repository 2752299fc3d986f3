import type { CallOptions } from './connection/call-options.js';
import { Connection, type EndpointInfo } from './connection/connection.js';
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
  constructor(options: EtcdOptions = {}) {
    super(new Connection(options), KeySpace.root);
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

  /** The state of every endpoint: connectivity, whether calls are pinned to it, failures, calls in flight. */
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
