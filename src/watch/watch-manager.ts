import type { Connection } from '../connection/connection.js';
import { InvalidArgumentError } from '../connection/errors.js';
import type { Bytes } from '../encoding/bytes.js';
import type { KeySpace } from '../kv/key-space.js';
import { Watch } from './watch.js';
import { WatchStream } from './watch-stream.js';
import { checkWatchOptions, type WatchOptions, Watcher, WatcherState } from './watcher.js';

/**
 * A client's watches: one {@link WatchStream} per distinct stream metadata (with and without
 * require-leader), shared by the client and all its namespace views.
 * @internal
 */
export class WatchManager {
  private readonly streams = new Map<boolean, WatchStream>();

  constructor(private readonly connection: Connection) {}

  watch(target: Bytes | Watch, keySpace: KeySpace, options: WatchOptions | undefined): Watcher {
    const builder = target instanceof Watch ? target : Watch.key(target);
    if (!(builder instanceof Watch)) {
      throw new InvalidArgumentError('watch', 'expected a key or a Watch (Watch.key(...))', { source: 'Etcd.watch' });
    }
    const maxBufferedEvents = checkWatchOptions(options);
    // The builder's fields are frozen: a root view can share them (no copy per watcher).
    const fields = keySpace.isRoot ? builder.fields : keySpace.range({ ...builder.fields });
    let stream = this.streams.get(fields.requireLeader);
    if (stream === undefined) {
      stream = new WatchStream(this.connection, fields.requireLeader);
      this.streams.set(fields.requireLeader, stream);
    }
    const state = new WatcherState(stream.allocateId(), fields, keySpace.strip, maxBufferedEvents);
    const watcher = new Watcher(state, stream, options?.signal);
    if (!state.ended) stream.add(state);
    return watcher;
  }

  /** Sends a progress request on every open stream; resolves with the highest revision reported. */
  async progress(): Promise<bigint | undefined> {
    const replies = [...this.streams.values()].map((stream) => stream.requestProgress()).filter((reply) => reply !== undefined);
    if (replies.length === 0) return undefined;
    const revisions = await Promise.all(replies);
    return revisions.reduce((max, revision) => (revision > max ? revision : max));
  }

  /** Streams currently multiplexing watchers, and how many each carries. */
  info(): Array<{ requireLeader: boolean; watchers: number }> {
    return [...this.streams].map(([requireLeader, stream]) => ({ requireLeader, watchers: stream.size }));
  }

  close(): void {
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
  }
}

const WATCHES = Symbol('etcdkit.watches');

/** The watch manager of a connection. @internal */
export function watchesOf(connection: Connection): WatchManager {
  return connection.component(WATCHES, () => new WatchManager(connection));
}
