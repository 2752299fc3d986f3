import { InvalidArgumentError } from '../connection/errors.js';
import { type Bytes, EMPTY_BYTES, toBuffer } from '../encoding/bytes.js';
import { type Int64Input, toLong } from '../encoding/int64.js';
import { type Compare as RawCompare, Compare_CompareResult, Compare_CompareTarget } from '../generated/etcdserverpb/rpc.js';
import { builderKey, KeyRangeBuilder } from '../kv/key-range-builder.js';

interface TargetFields {
  key: Buffer;
  rangeEnd: Buffer;
  target: Compare_CompareTarget;
}

const targetNames: Record<Compare_CompareTarget, string> = {
  [Compare_CompareTarget.VERSION]: 'version',
  [Compare_CompareTarget.CREATE]: 'createRevision',
  [Compare_CompareTarget.MOD]: 'modRevision',
  [Compare_CompareTarget.VALUE]: 'value',
  [Compare_CompareTarget.LEASE]: 'lease',
  [Compare_CompareTarget.UNRECOGNIZED]: 'unrecognized',
};

type Method = 'equals' | 'notEquals' | 'less' | 'greater';

/** The error sources of the comparison methods (`Compare.value.equals`, ...), made once rather than per call. */
const methodSources: Partial<Record<Compare_CompareTarget, Record<Method, string>>> = {};
for (const [target, name] of Object.entries(targetNames)) {
  const source = `Compare.${name}`;
  methodSources[Number(target) as Compare_CompareTarget] = {
    equals: `${source}.equals`,
    notEquals: `${source}.notEquals`,
    less: `${source}.less`,
    greater: `${source}.greater`,
  };
}

/**
 * The left side of a comparison: a target (value, version, ...) of one key or of every key in
 * a range. Finish it with `equals`, `notEquals`, `less` or `greater` to get a {@link Compare}.
 * `V` is what the right side accepts: bytes for values, integers for the rest.
 */
export class CompareTarget<V extends Bytes | Int64Input> extends KeyRangeBuilder<TargetFields> {
  /** @internal */
  constructor(fields: TargetFields) {
    super(fields);
  }

  /** @internal */
  protected derive(fields: TargetFields): this {
    return new CompareTarget<V>(fields) as this;
  }

  /** @internal */
  protected get builderName(): string {
    return `Compare.${targetNames[this.request.target]}`;
  }

  private compare(result: Compare_CompareResult, operand: V, method: Method): Compare {
    const { key, rangeEnd, target } = this.request;
    const source = methodSources[target]?.[method] ?? `${this.builderName}.${method}`;
    let targetUnion: RawCompare['targetUnion'];
    switch (target) {
      case Compare_CompareTarget.VALUE:
        targetUnion = { $case: 'value', value: toBuffer(operand, 'value', source) };
        break;
      case Compare_CompareTarget.VERSION:
        targetUnion = { $case: 'version', version: toLong(operand, 'version', source) };
        break;
      case Compare_CompareTarget.CREATE:
        targetUnion = { $case: 'createRevision', createRevision: toLong(operand, 'revision', source) };
        break;
      case Compare_CompareTarget.MOD:
        targetUnion = { $case: 'modRevision', modRevision: toLong(operand, 'revision', source) };
        break;
      case Compare_CompareTarget.LEASE:
        targetUnion = { $case: 'lease', lease: toLong(operand, 'lease', source) };
        break;
      default:
        throw new InvalidArgumentError('target', 'unknown compare target', { source });
    }
    return new Compare({ result, target, key, rangeEnd, targetUnion });
  }

  /** True when the target equals `operand` (for a range: for every key in it). */
  equals(operand: V): Compare {
    return this.compare(Compare_CompareResult.EQUAL, operand, 'equals');
  }

  /** True when the target differs from `operand`. */
  notEquals(operand: V): Compare {
    return this.compare(Compare_CompareResult.NOT_EQUAL, operand, 'notEquals');
  }

  /** True when the target is less than `operand` (bytes compare lexicographically). */
  less(operand: V): Compare {
    return this.compare(Compare_CompareResult.LESS, operand, 'less');
  }

  /** True when the target is greater than `operand`. */
  greater(operand: V): Compare {
    return this.compare(Compare_CompareResult.GREATER, operand, 'greater');
  }
}

function target<V extends Bytes | Int64Input>(key: Bytes, which: Compare_CompareTarget, source: string): CompareTarget<V> {
  return new CompareTarget<V>({ key: builderKey(key, source), rangeEnd: EMPTY_BYTES, target: which });
}

/**
 * One condition of a transaction's `if`. A missing key has version, createRevision and
 * modRevision `0`, and no value (so a value comparison on it is false).
 *
 * @example
 * ```ts
 * Compare.modRevision('k').equals(rev); Compare.value('flag').equals('on'); Compare.missing('lock');
 * Compare.version('jobs/').withPrefix().greater(0);
 * ```
 */
export class Compare {
  private readonly raw: Readonly<RawCompare>;

  /** @internal */
  constructor(raw: RawCompare) {
    this.raw = Object.freeze(raw);
  }

  /** Compares the value of `key`. */
  static value(key: Bytes): CompareTarget<Bytes> {
    return target(key, Compare_CompareTarget.VALUE, 'Compare.value');
  }

  /** Compares the version (modification count since creation) of `key`. */
  static version(key: Bytes): CompareTarget<Int64Input> {
    return target(key, Compare_CompareTarget.VERSION, 'Compare.version');
  }

  /** Compares the creation revision of `key`. */
  static createRevision(key: Bytes): CompareTarget<Int64Input> {
    return target(key, Compare_CompareTarget.CREATE, 'Compare.createRevision');
  }

  /** Compares the last modification revision of `key`. */
  static modRevision(key: Bytes): CompareTarget<Int64Input> {
    return target(key, Compare_CompareTarget.MOD, 'Compare.modRevision');
  }

  /** Compares the lease ID `key` is attached to (`0` when none). */
  static lease(key: Bytes): CompareTarget<Int64Input> {
    return target(key, Compare_CompareTarget.LEASE, 'Compare.lease');
  }

  /** True when `key` exists. */
  static exists(key: Bytes): Compare {
    return Compare.createRevision(key).greater(0);
  }

  /** True when `key` does not exist. */
  static missing(key: Bytes): Compare {
    return Compare.createRevision(key).equals(0);
  }

  /** The generated message. @internal */
  toRequest(): Readonly<RawCompare> {
    return this.raw;
  }
}
