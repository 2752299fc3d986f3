import { unaryMethod } from '../connection/unary-method.js';
import {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KVService,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../generated/etcdserverpb/rpc.js';

/** The KV service's unary methods. @internal */
export const kvMethods = {
  range: unaryMethod(KVService.range, RangeRequest, RangeResponse),
  put: unaryMethod(KVService.put, PutRequest, PutResponse),
  deleteRange: unaryMethod(KVService.deleteRange, DeleteRangeRequest, DeleteRangeResponse),
  txn: unaryMethod(KVService.txn, TxnRequest, TxnResponse),
  compact: unaryMethod(KVService.compact, CompactionRequest, CompactionResponse),
} as const;
