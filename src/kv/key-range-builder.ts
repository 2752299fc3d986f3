import { InvalidArgumentError } from '../connection/errors.js';
import { type Bytes, FROM_KEY_END, prefixEnd, toBuffer, toKey } from '../encoding/bytes.js';

/** The part every key-range request shares. */
export interface KeyRangeFields {
  key: Buffer;
  rangeEnd: Buffer;
}

/** Encodes the first key of a builder, with a message that points at `all()` for the whole keyspace. */
export function builderKey(value: unknown, source: string): Buffer {
  if (value === '' || (value instanceof Uint8Array && value.length === 0)) {
    throw new InvalidArgumentError(
      'key',
      'must not be empty; to select every key use all() (a prefix of "" would be the whole keyspace)',
      { source },
    );
  }
  return toKey(value, 'key', source);
}

/**
 * Base of the immutable builders that select a key or a key range (`Range`, `Delete`, ...).
 * Every `with*` returns a new builder; the request a builder holds is frozen.
 */
export abstract class KeyRangeBuilder<R extends KeyRangeFields> {
  /** @internal */
  protected readonly request: Readonly<R>;

  /** @internal */
  protected constructor(request: R) {
    this.request = Object.freeze(request);
  }

  /** Returns a builder of the same class over `request`. @internal */
  protected abstract derive(request: R): this;

  /** @internal */
  protected with(changes: Partial<R>): this {
    return this.derive({ ...this.request, ...changes });
  }

  /** The builder's name in error messages. @internal */
  protected abstract get builderName(): string;

  /** Selects every key that starts with the builder's key. */
  withPrefix(): this {
    return this.with({ rangeEnd: prefixEnd(this.request.key) } as Partial<R>);
  }

  /** Selects the keys in `[key, end)`. */
  withRange(end: Bytes): this {
    const source = `${this.builderName}.withRange`;
    const rangeEnd = toBuffer(end, 'end', source);
    if (rangeEnd.length === 0) {
      throw new InvalidArgumentError('end', 'must not be empty (use withFromKey() for every key from key on)', { source });
    }
    return this.with({ rangeEnd } as Partial<R>);
  }

  /** Selects every key greater than or equal to the builder's key. */
  withFromKey(): this {
    return this.with({ rangeEnd: FROM_KEY_END } as Partial<R>);
  }

  /** The first key selected. */
  get key(): Buffer {
    return this.request.key;
  }

  /** The end of the range (exclusive); empty for a single key, `"\0"` for "to the end". */
  get rangeEnd(): Buffer {
    return this.request.rangeEnd;
  }

  /** The generated request this builder stands for. @internal */
  toRequest(): Readonly<R> {
    return this.request;
  }
}
