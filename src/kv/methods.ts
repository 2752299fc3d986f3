import { rpcMethod } from '../connection/rpc-method.js';
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
  range: rpcMethod(KVService.range, RangeRequest, RangeResponse),
  put: rpcMethod(KVService.put, PutRequest, PutResponse),
  deleteRange: rpcMethod(KVService.deleteRange, DeleteRangeRequest, DeleteRangeResponse),
  txn: rpcMethod(KVService.txn, TxnRequest, TxnResponse),
  compact: rpcMethod(KVService.compact, CompactionRequest, CompactionResponse),
} as const;
