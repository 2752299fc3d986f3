import { rpcMethod } from '../connection/rpc-method.js';
import {
  CampaignRequest,
  CampaignResponse,
  ElectionService,
  LeaderRequest,
  LeaderResponse,
  ProclaimRequest,
  ProclaimResponse,
  ResignRequest,
  ResignResponse,
} from '../generated/v3electionpb/v3election.js';

/**
 * The election service's methods. `Leader` is not among them: the client reads the oldest
 * key itself, as the server would, since the server reports "no leader" as an untyped error.
 * @internal
 */
export const electionMethods = {
  campaign: rpcMethod(ElectionService.campaign, CampaignRequest, CampaignResponse),
  proclaim: rpcMethod(ElectionService.proclaim, ProclaimRequest, ProclaimResponse),
  resign: rpcMethod(ElectionService.resign, ResignRequest, ResignResponse),
  observe: rpcMethod(ElectionService.observe, LeaderRequest, LeaderResponse),
} as const;

/** The server's answer to a proclaim or resign by a candidate that is no longer the leader. @internal */
export const NOT_LEADER = 'election: not leader';
