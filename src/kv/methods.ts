import { fastRpcMethod, rpcMethod } from '../connection/rpc-method.js';
import {
  decodeDeleteRangeResponseMessage,
  decodePutResponseMessage,
  decodeRangeResponseMessage,
  decodeTxnResponseMessage,
  encodeDeleteRangeRequest,
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnRequest,
} from '../encoding/fast-codec.js';
import {
  CompactionRequest,
  CompactionResponse,
  KVService,
} from '../generated/etcdserverpb/rpc.js';

/** The KV service's unary methods; the four hot ones use the hand-written codecs. @internal */
export const kvMethods = {
  range: fastRpcMethod(KVService.range, encodeRangeRequest, decodeRangeResponseMessage),
  put: fastRpcMethod(KVService.put, encodePutRequest, decodePutResponseMessage),
  deleteRange: fastRpcMethod(KVService.deleteRange, encodeDeleteRangeRequest, decodeDeleteRangeResponseMessage),
  txn: fastRpcMethod(KVService.txn, encodeTxnRequest, decodeTxnResponseMessage),
  compact: rpcMethod(KVService.compact, CompactionRequest, CompactionResponse),
} as const;
