import {
  ClusterService,
  MaintenanceService,
  MemberListRequest,
  MemberListResponse,
  StatusRequest,
  StatusResponse,
} from '../generated/etcdserverpb/rpc.js';
import { rpcMethod } from './rpc-method.js';

/**
 * The two calls the connection itself makes to learn about members: a member's status (health
 * probes, cluster checks) and the member list (endpoint sync). The admin APIs use them too.
 * @internal
 */
export const memberMethods = {
  status: rpcMethod(MaintenanceService.status, StatusRequest, StatusResponse),
  memberList: rpcMethod(ClusterService.memberList, MemberListRequest, MemberListResponse),
} as const;

/** A member answers these from its own state: no leader needed. @internal */
export const STATUS_SPEC = { source: 'Maintenance.Status', mutation: false, requireLeader: false } as const;
/** @internal */
export const MEMBER_LIST_SPEC = { source: 'Cluster.MemberList', mutation: false, requireLeader: false } as const;
