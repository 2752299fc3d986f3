import { describe, expectTypeOf, it } from 'vitest';
import {
  Compare,
  type DeleteResult,
  type Etcd,
  type KeyValue,
  Op,
  Put,
  type PutResult,
  Range,
  type RangeResult,
  type ResponseHeader,
  type TxnResult,
} from 'etcdkit';

// Checked by `tsc --noEmit` (part of `npm test`); the runtime assertions are no-ops.
describe('public types', () => {
  it('exposes int64 fields as bigint, never Long', () => {
    expectTypeOf<KeyValue['modRevision']>().toEqualTypeOf<bigint>();
    expectTypeOf<KeyValue['lease']>().toEqualTypeOf<bigint>();
    expectTypeOf<ResponseHeader>().toEqualTypeOf<{ clusterId: bigint; memberId: bigint; revision: bigint; raftTerm: bigint }>();
    expectTypeOf<RangeResult['count']>().toEqualTypeOf<bigint>();
    expectTypeOf<DeleteResult['deleted']>().toEqualTypeOf<bigint>();
    expectTypeOf<KeyValue['key']>().toEqualTypeOf<Buffer>();
  });

  it('accepts bigint or number for int64 inputs, and rejects strings', () => {
    Range.key('k').withRevision(5n).withRevision(5).withLimit(10);
    Put.key('k').withLease(0x41f2a1fe77587105n);
    // Never called: these lines only have to fail type-checking.
    const misuses = () => {
      // @ts-expect-error a revision is not a string
      Range.key('k').withRevision('5');
      // @ts-expect-error a value comparison takes bytes, not numbers
      Compare.value('k').equals(5);
      // @ts-expect-error a version comparison takes an integer, not text
      Compare.version('k').equals('5');
    };
    expectTypeOf(misuses).toBeFunction();
  });

  it('types transaction results position by position', () => {
    type Result = TxnResult<[Op<'put'>, Op<'range'>], [Op<'delete'>]>;
    const check = (result: Result) => {
      if (result.succeeded) {
        expectTypeOf(result.responses[0]).toMatchTypeOf<PutResult & { kind: 'put' }>();
        expectTypeOf(result.responses[1].kvs).toEqualTypeOf<KeyValue[]>();
      } else {
        expectTypeOf(result.responses[0].deleted).toEqualTypeOf<bigint>();
      }
    };
    expectTypeOf(check).toBeFunction();
    const commit = (etcd: Etcd) => etcd.txn().if(Compare.missing('k')).then(Op.put('k', 'v'), Op.get('k')).else(Op.delete('k')).commit();
    expectTypeOf(commit).returns.resolves.toEqualTypeOf<Result>();
  });
});
