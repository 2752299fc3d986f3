import { InvalidArgumentError } from '../connection/errors.js';
import { ALL_KEYS_START, type Bytes, EMPTY_BYTES, FROM_KEY_END, toBuffer } from '../encoding/bytes.js';
import { type Int64Input, longToBigInt, toNonNegativeLong } from '../encoding/int64.js';
import { builderKey, KeyRangeBuilder } from '../kv/key-range-builder.js';

/** What a {@link Watch} builder holds (read by the watch multiplexer). */
export interface WatchFields {
  key: Buffer;
  rangeEnd: Buffer;
  /** First revision to deliver; `0n` for "changes after now". */
  startRevision: bigint;
  prevKv: boolean;
  noPut: boolean;
  noDelete: boolean;
  progressNotify: boolean;
  fragment: boolean;
  requireLeader: boolean;
}

/**
 * An immutable watch request: which keys, from which revision, and what each event carries.
 * Every `with*` returns a new `Watch`.
 *
 * @example
 * ```ts
 * const watcher = etcd.watch(Watch.key('svc/').withPrefix().withStartRevision(rev + 1n).withPrevKv());
 * for await (const batch of watcher) for (const event of batch.events) console.log(event.type, event.kv.keyText());
 * ```
 */
export class Watch extends KeyRangeBuilder<WatchFields> {
  private constructor(fields: WatchFields) {
    super(fields);
  }

  private static create(key: Buffer, rangeEnd: Buffer): Watch {
    return new Watch({
      key,
      rangeEnd,
      startRevision: 0n,
      prevKv: false,
      noPut: false,
      noDelete: false,
      progressNotify: false,
      fragment: false,
      requireLeader: true,
    });
  }

  /** Watches one key (add `withPrefix`, `withRange` or `withFromKey` to watch more). */
  static key(key: Bytes): Watch {
    return Watch.create(builderKey(key, 'Watch.key'), EMPTY_BYTES);
  }

  /** Watches every key (or every key of the namespace, in a namespace view). */
  static all(): Watch {
    return Watch.create(ALL_KEYS_START, FROM_KEY_END);
  }

  /** @internal */
  protected derive(fields: WatchFields): this {
    return new Watch(fields) as this;
  }

  /** @internal */
  protected get builderName(): string {
    return 'Watch';
  }

  /** Watches the keys in `[key, end)`; `end` must sort after the key (etcd rejects empty ranges). */
  override withRange(end: Bytes): this {
    const encoded = toBuffer(end, 'end', 'Watch.withRange');
    if (encoded.length > 0 && Buffer.compare(encoded, this.request.key) <= 0) {
      throw new InvalidArgumentError('end', 'must sort after the key, or the range is empty', { source: 'Watch.withRange' });
    }
    return super.withRange(end);
  }

  /**
   * Delivers every change from `revision` on, including past ones still in the history (fails
   * with `CompactedError` if that revision has been compacted). Without it, only changes made
   * after the watcher is created are delivered.
   */
  withStartRevision(revision: Int64Input): Watch {
    const long = toNonNegativeLong(revision, 'revision', 'Watch.withStartRevision');
    return this.with({ startRevision: longToBigInt(long) });
  }

  /** Adds the previous key-value to each event. */
  withPrevKv(prevKv = true): Watch {
    return this.with({ prevKv });
  }

  /** Leaves out put events. */
  withNoPut(noPut = true): Watch {
    return this.with({ noPut });
  }

  /** Leaves out delete events. */
  withNoDelete(noDelete = true): Watch {
    return this.with({ noDelete });
  }

  /**
   * Asks the server for periodic progress notifications while nothing changes (every 10 min by
   * default; `--experimental-watch-progress-notify-interval`). They arrive as batches with
   * `progress: true` and no events, and advance the watcher's resume revision.
   */
  withProgressNotify(progressNotify = true): Watch {
    return this.with({ progressNotify });
  }

  /** Lets the server split very large responses; the pieces are reassembled into one batch. */
  withFragment(fragment = true): Watch {
    return this.with({ fragment });
  }

  /**
   * Whether the stream requires the member to have a leader (default `true`): a member cut off
   * from its cluster then ends the stream with "no leader", and the watcher moves to another
   * member and resumes, instead of silently receiving nothing. Watchers with and without it
   * use separate streams, since this is stream-wide gRPC metadata.
   */
  withRequireLeader(requireLeader = true): Watch {
    return this.with({ requireLeader });
  }

  /** The settings of this watch. @internal */
  get fields(): Readonly<WatchFields> {
    return this.request;
  }
}
