import { fastRpcMethod, rpcMethod } from '../connection/rpc-method.js';
import { decodeLeaseKeepAliveResponseMessage, encodeLeaseKeepAliveRequest } from '../encoding/fast-codec.js';
import {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseLeasesRequest,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseService,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../generated/etcdserverpb/rpc.js';

/** The Lease service's methods. @internal */
export const leaseMethods = {
  grant: rpcMethod(LeaseService.leaseGrant, LeaseGrantRequest, LeaseGrantResponse),
  revoke: rpcMethod(LeaseService.leaseRevoke, LeaseRevokeRequest, LeaseRevokeResponse),
  keepAlive: fastRpcMethod(LeaseService.leaseKeepAlive, encodeLeaseKeepAliveRequest, decodeLeaseKeepAliveResponseMessage),
  timeToLive: rpcMethod(LeaseService.leaseTimeToLive, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse),
  leases: rpcMethod(LeaseService.leaseLeases, LeaseLeasesRequest, LeaseLeasesResponse),
} as const;

/** Error sources of the lease calls. @internal */
export const LEASE_SOURCE = {
  grant: 'Lease.LeaseGrant',
  revoke: 'Lease.LeaseRevoke',
  keepAlive: 'Lease.LeaseKeepAlive',
  timeToLive: 'Lease.LeaseTimeToLive',
  leases: 'Lease.LeaseLeases',
} as const;
