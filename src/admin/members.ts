import type { CallOptions } from '../connection/call-options.js';
import type { Connection } from '../connection/connection.js';
import type { EndpointSyncResult } from '../connection/endpoint-sync.js';
import { InternalError, InvalidArgumentError } from '../connection/errors.js';
import { type Int64Input, longToBigInt, toUnsignedLong } from '../encoding/int64.js';
import type { Member as RawMember } from '../generated/etcdserverpb/rpc.js';
import { clusterMethods } from './methods.js';

/** A member of the cluster. */
export interface Member {
  /** The member ID (above 2^53 in general: keep it a `bigint`, or a string in JSON). */
  id: bigint;
  /** Its name; empty until a member added with `addMember` has started. */
  name: string;
  /** URLs its peers reach it at. */
  peerUrls: string[];
  /** URLs clients reach it at; empty until it has started. */
  clientUrls: string[];
  /** Whether it is a learner (non-voting, until promoted). */
  isLearner: boolean;
}

/** Options of {@link Cluster.addMember}. */
export interface AddMemberOptions extends CallOptions {
  /** Add it as a learner: it receives the log but does not vote until promoted. @defaultValue false */
  learner?: boolean;
}

/** What {@link Cluster.addMember} returns. */
export interface AddedMember {
  /** The new member (no name and no client URLs until it starts). */
  member: Member;
  /** The member list, the new member included. */
  members: Member[];
}

/** @internal */
export function toMember(raw: RawMember): Member {
  return {
    id: longToBigInt(raw.ID),
    name: raw.name,
    peerUrls: raw.peerURLs,
    clientUrls: raw.clientURLs,
    isLearner: raw.isLearner,
  };
}

const LIST = { source: 'Cluster.MemberList', mutation: false, requireLeader: false } as const;
const ADD = { source: 'Cluster.MemberAdd', mutation: true } as const;
const REMOVE = { source: 'Cluster.MemberRemove', mutation: true } as const;
const UPDATE = { source: 'Cluster.MemberUpdate', mutation: true } as const;
const PROMOTE = { source: 'Cluster.MemberPromote', mutation: true } as const;

function checkPeerUrls(value: unknown, source: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidArgumentError('peerUrls', 'expected a non-empty array of URLs such as "http://10.0.0.4:2380"', { source });
  }
  return value.map((url, index) => {
    if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+$/i.test(url.trim().replace(/\/+$/, ''))) {
      throw new InvalidArgumentError(`peerUrls[${index}]`, `expected an http:// or https:// URL, got ${JSON.stringify(url)}`, { source });
    }
    return url.trim();
  });
}

/**
 * Cluster membership: list, add (as a voting member or a learner), remove, update peer URLs,
 * promote a learner. Member IDs are `bigint`.
 */
export class Cluster {
  /** @internal */
  constructor(private readonly connection: Connection) {}

  /** The members, as the client's current endpoint knows them. */
  async members(options?: CallOptions): Promise<Member[]> {
    const response = await this.connection.unary(clusterMethods.memberList, {}, LIST, options);
    return response.members.map(toMember);
  }

  /**
   * Adds a member that will join at `peerUrls`, then start the new etcd with
   * `--initial-cluster-state existing` and an `--initial-cluster` listing every member.
   *
   * @remarks
   * A voting member changes the quorum as soon as it is added, before it runs; a learner does
   * not, which makes `{ learner: true }` followed by {@link Cluster.promoteMember} the safer way.
   */
  async addMember(peerUrls: string[], options?: AddMemberOptions): Promise<AddedMember> {
    const request = { peerURLs: checkPeerUrls(peerUrls, 'Cluster.addMember'), isLearner: options?.learner === true };
    const response = await this.connection.unary(clusterMethods.memberAdd, request, ADD, options);
    const members = response.members.map(toMember);
    const member = response.member ? toMember(response.member) : undefined;
    if (member === undefined) throw new InternalError('the reply names no added member', { source: ADD.source });
    return { member, members };
  }

  /** Removes a member; returns the remaining members. */
  async removeMember(id: Int64Input, options?: CallOptions): Promise<Member[]> {
    const request = { ID: toUnsignedLong(id, 'id', 'Cluster.removeMember') };
    const response = await this.connection.unary(clusterMethods.memberRemove, request, REMOVE, options);
    return response.members.map(toMember);
  }

  /** Changes a member's peer URLs; returns the members. */
  async updateMember(id: Int64Input, peerUrls: string[], options?: CallOptions): Promise<Member[]> {
    const source = 'Cluster.updateMember';
    const request = { ID: toUnsignedLong(id, 'id', source), peerURLs: checkPeerUrls(peerUrls, source) };
    const response = await this.connection.unary(clusterMethods.memberUpdate, request, UPDATE, options);
    return response.members.map(toMember);
  }

  /**
   * Makes a learner a voting member; returns the members. etcd refuses (`ServerRejectedError`,
   * "can only promote a learner member which is in sync with leader") until the learner has
   * caught up with the leader's log.
   */
  async promoteMember(id: Int64Input, options?: CallOptions): Promise<Member[]> {
    const request = { ID: toUnsignedLong(id, 'id', 'Cluster.promoteMember') };
    const response = await this.connection.unary(clusterMethods.memberPromote, request, PROMOTE, options);
    return response.members.map(toMember);
  }

  /**
   * Replaces the client's endpoints with the client URLs of the voting members now (what the
   * `autoSyncIntervalMs` option does periodically). A URL whose member answers with another
   * cluster's ID is left out and reported in `rejected`.
   */
  syncEndpoints(options?: CallOptions): Promise<EndpointSyncResult> {
    return this.connection.syncEndpoints(options);
  }
}
