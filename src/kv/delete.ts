import { ALL_KEYS_START, type Bytes, EMPTY_BYTES, FROM_KEY_END } from '../encoding/bytes.js';
import type { DeleteRangeRequest } from '../generated/etcdserverpb/rpc.js';
import { builderKey, KeyRangeBuilder } from './key-range-builder.js';

/**
 * An immutable delete request for one key or a key range. Every `with*` returns a new `Delete`.
 *
 * @example
 * ```ts
 * const { deleted } = await etcd.delete(Delete.key('tmp/').withPrefix().withPrevKv());
 * ```
 */
export class Delete extends KeyRangeBuilder<DeleteRangeRequest> {
  private constructor(request: DeleteRangeRequest) {
    super(request);
  }

  /** A delete of one key (add `withPrefix`, `withRange` or `withFromKey` to delete more). */
  static key(key: Bytes): Delete {
    return new Delete({ key: builderKey(key, 'Delete.key'), rangeEnd: EMPTY_BYTES, prevKv: false });
  }

  /** A delete of every key in the keyspace (or of the whole namespace, in a namespace view). */
  static all(): Delete {
    return new Delete({ key: ALL_KEYS_START, rangeEnd: FROM_KEY_END, prevKv: false });
  }

  /** @internal */
  protected derive(request: DeleteRangeRequest): this {
    return new Delete(request) as this;
  }

  /** @internal */
  protected get builderName(): string {
    return 'Delete';
  }

  /** Returns the deleted key-values in the result. */
  withPrevKv(prevKv = true): Delete {
    return this.with({ prevKv });
  }
}
