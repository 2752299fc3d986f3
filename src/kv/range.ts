import Long from 'long';
import { InvalidArgumentError } from '../connection/errors.js';
import { ALL_KEYS_START, type Bytes, EMPTY_BYTES, FROM_KEY_END } from '../encoding/bytes.js';
import { type Int64Input, toNonNegativeLong } from '../encoding/int64.js';
import { type RangeRequest, RangeRequest_SortOrder, RangeRequest_SortTarget } from '../generated/etcdserverpb/rpc.js';
import { builderKey, KeyRangeBuilder } from './key-range-builder.js';

/** What a range can be sorted by. */
export const SortTarget = {
  key: RangeRequest_SortTarget.KEY,
  version: RangeRequest_SortTarget.VERSION,
  createRevision: RangeRequest_SortTarget.CREATE,
  modRevision: RangeRequest_SortTarget.MOD,
  value: RangeRequest_SortTarget.VALUE,
} as const;

/** A sort target name: `'key' | 'version' | 'createRevision' | 'modRevision' | 'value'`. */
export type SortTarget = keyof typeof SortTarget;

/** Sort directions; `'none'` leaves etcd's order (ascending by key). */
export const SortOrder = {
  none: RangeRequest_SortOrder.NONE,
  ascend: RangeRequest_SortOrder.ASCEND,
  descend: RangeRequest_SortOrder.DESCEND,
} as const;

/** A sort order name: `'none' | 'ascend' | 'descend'`. */
export type SortOrder = keyof typeof SortOrder;

function pick<T extends Record<string, number>>(table: T, value: unknown, argument: string, source: string): T[keyof T] {
  if (typeof value !== 'string' || !Object.hasOwn(table, value)) {
    throw new InvalidArgumentError(argument, `expected one of ${Object.keys(table).join(', ')}, got ${String(value)}`, {
      source,
    });
  }
  return table[value as keyof T];
}

/**
 * An immutable range (read) request. Start with {@link Range.key} or {@link Range.all}; every
 * `with*` returns a new `Range`, so a builder can be shared and reused.
 *
 * @example
 * ```ts
 * const page = await etcd.range(Range.key('svc/').withPrefix().withLimit(100).withSort('key', 'descend'));
 * ```
 */
export class Range extends KeyRangeBuilder<RangeRequest> {
  private constructor(request: RangeRequest) {
    super(request);
  }

  /** A read of one key (add `withPrefix`, `withRange` or `withFromKey` to read more). */
  static key(key: Bytes): Range {
    return Range.of(builderKey(key, 'Range.key'), EMPTY_BYTES);
  }

  /** A read of every key in the keyspace (or of the whole namespace, in a namespace view). */
  static all(): Range {
    return Range.of(ALL_KEYS_START, FROM_KEY_END);
  }

  /** The request with every other field at its default, as `RangeRequest.fromPartial` makes it. */
  private static of(key: Buffer, rangeEnd: Buffer): Range {
    return new Range({
      key,
      rangeEnd,
      limit: Long.ZERO,
      revision: Long.ZERO,
      sortOrder: RangeRequest_SortOrder.NONE,
      sortTarget: RangeRequest_SortTarget.KEY,
      serializable: false,
      keysOnly: false,
      countOnly: false,
      minModRevision: Long.ZERO,
      maxModRevision: Long.ZERO,
      minCreateRevision: Long.ZERO,
      maxCreateRevision: Long.ZERO,
    });
  }

  /** @internal */
  protected derive(request: RangeRequest): this {
    return new Range(request) as this;
  }

  /** @internal */
  protected get builderName(): string {
    return 'Range';
  }

  /** Returns at most `limit` keys (`0` for no limit); `more` in the result tells if keys were left out. */
  withLimit(limit: Int64Input): Range {
    return this.with({ limit: toNonNegativeLong(limit, 'limit', 'Range.withLimit') });
  }

  /** Reads the keyspace as it was at `revision` (`0` for the latest). Fails with `CompactedError` if compacted. */
  withRevision(revision: Int64Input): Range {
    return this.with({ revision: toNonNegativeLong(revision, 'revision', 'Range.withRevision') });
  }

  /** Sorts the result; `order` defaults to `'ascend'`. */
  withSort(target: SortTarget, order: SortOrder = 'ascend'): Range {
    const source = 'Range.withSort';
    return this.with({
      sortTarget: pick(SortTarget, target, 'target', source),
      sortOrder: pick(SortOrder, order, 'order', source),
    });
  }

  /** Lets the answering member serve the read from its local state, without a quorum round (may be stale). */
  withSerializable(serializable = true): Range {
    return this.with({ serializable });
  }

  /** Returns keys and metadata without values. */
  withKeysOnly(keysOnly = true): Range {
    return this.with({ keysOnly });
  }

  /** Returns only the count of matching keys. */
  withCountOnly(countOnly = true): Range {
    return this.with({ countOnly });
  }

  /** Keeps only keys whose last modification is at or after `revision`. */
  withMinModRevision(revision: Int64Input): Range {
    return this.with({ minModRevision: toNonNegativeLong(revision, 'revision', 'Range.withMinModRevision') });
  }

  /** Keeps only keys whose last modification is at or before `revision`. */
  withMaxModRevision(revision: Int64Input): Range {
    return this.with({ maxModRevision: toNonNegativeLong(revision, 'revision', 'Range.withMaxModRevision') });
  }

  /** Keeps only keys created at or after `revision`. */
  withMinCreateRevision(revision: Int64Input): Range {
    return this.with({ minCreateRevision: toNonNegativeLong(revision, 'revision', 'Range.withMinCreateRevision') });
  }

  /** Keeps only keys created at or before `revision`. */
  withMaxCreateRevision(revision: Int64Input): Range {
    return this.with({ maxCreateRevision: toNonNegativeLong(revision, 'revision', 'Range.withMaxCreateRevision') });
  }
}
