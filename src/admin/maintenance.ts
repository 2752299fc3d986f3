import Long from 'long';
import type { CallOptions } from '../connection/call-options.js';
import type { Connection } from '../connection/connection.js';
import { InvalidArgumentError, ServerRejectedError } from '../connection/errors.js';
import { type Int64Input, longToBigInt, toNonNegativeLong, toUnsignedLong } from '../encoding/int64.js';
import { AlarmRequest_AlarmAction, AlarmType, type StatusResponse } from '../generated/etcdserverpb/rpc.js';
import { type ResponseHeader, toHeader } from '../kv/key-value.js';
import { clusterMethods, maintenanceMethods } from './methods.js';
import { type Member, toMember } from './members.js';
import { type SavedSnapshot, saveSnapshot, verifiedSnapshot } from './snapshot.js';
import { memberAddress, sendTo } from './target.js';

/** One member's status, as `etcd.maintenance.status()` reports it. */
export interface MemberStatus {
  /** The response header; `header.memberId` is the member that answered. */
  header: ResponseHeader;
  /** The member that answered (same as `header.memberId`). */
  memberId: bigint;
  /** The leader it knows; `0n` when it has none. */
  leader: bigint;
  /** Whether the member that answered is the leader. */
  isLeader: boolean;
  /** Whether it is a learner (a non-voting member). */
  isLearner: boolean;
  /** The server's version, such as `3.4.23`. */
  version: string;
  /** Size of the backend database file, in bytes (free pages included; `defragment` reclaims them). */
  dbSize: number;
  /** Bytes of the backend database in use. */
  dbSizeInUse: number;
  /** The raft log index of the member. */
  raftIndex: bigint;
  /** The raft term of the member. */
  raftTerm: bigint;
  /** The raft index applied to the member's state machine. */
  raftAppliedIndex: bigint;
  /** Conditions the member reports (alarms such as `NOSPACE`, "no leader"); empty when none. */
  errors: string[];
}

/** The alarms etcd raises: the backend quota is used up, or data corruption was detected. */
export const AlarmKind = { NoSpace: 'NOSPACE', Corrupt: 'CORRUPT' } as const;
/** One of the {@link AlarmKind} values. */
export type AlarmKind = (typeof AlarmKind)[keyof typeof AlarmKind];

/** An alarm raised by one member. */
export interface Alarm {
  /** The member that raised it. */
  memberId: bigint;
  /** What it is about. */
  alarm: AlarmKind;
}

/** Which alarms `disarm` clears; fields left out match any. */
export interface AlarmFilter {
  /** Only the alarms of this member. */
  memberId?: Int64Input;
  /** Only alarms of this kind. */
  alarm?: AlarmKind;
}

/** A member's hash of its whole backend (`hash`). */
export interface HashResult {
  header: ResponseHeader;
  /** CRC-32 of the backend; equal on members with the same data (compare at the same revision). */
  hash: number;
}

/** A member's hash of its key-value history up to a revision (`hashKV`). */
export interface HashKVResult {
  header: ResponseHeader;
  /** CRC-32 of the key-value store up to the revision; equal on consistent members. */
  hash: number;
  /** The compact revision the hash starts from; `-1n` when the history was never compacted. */
  compactRevision: bigint;
}

/** What `moveLeader` did. */
export interface MoveLeaderResult {
  /** The leader before the move. */
  previousLeader: bigint;
  /** The leader now: the member asked for. */
  leader: bigint;
}

/** Options of {@link Maintenance.saveSnapshot}. */
export interface SaveSnapshotOptions extends CallOptions {
  /** Take the snapshot from this member (`host:port` or client URL) instead of the client's current endpoint. */
  endpoint?: string;
}

const STATUS = { source: 'Maintenance.Status', mutation: false, requireLeader: false } as const;
const ALARM_LIST = { source: 'Maintenance.Alarm', mutation: false } as const;
const ALARM_DISARM = { source: 'Maintenance.Alarm', mutation: true } as const;
const DEFRAGMENT = { source: 'Maintenance.Defragment', mutation: false, requireLeader: false } as const;
const HASH = { source: 'Maintenance.Hash', mutation: false, requireLeader: false } as const;
const HASH_KV = { source: 'Maintenance.HashKV', mutation: false, requireLeader: false } as const;
const MEMBER_LIST = { source: 'Cluster.MemberList', mutation: false, requireLeader: false } as const;
const MOVE_LEADER = { source: 'Maintenance.MoveLeader', mutation: true } as const;
const SNAPSHOT = { source: 'Maintenance.Snapshot' } as const;

/** Leader changes between finding the leader and asking it to move are retried this often. */
const MOVE_LEADER_ATTEMPTS = 3;

const alarmNames: Partial<Record<AlarmType, AlarmKind>> = {
  [AlarmType.NOSPACE]: AlarmKind.NoSpace,
  [AlarmType.CORRUPT]: AlarmKind.Corrupt,
};
const alarmTypes: Record<AlarmKind, AlarmType> = {
  [AlarmKind.NoSpace]: AlarmType.NOSPACE,
  [AlarmKind.Corrupt]: AlarmType.CORRUPT,
};

function toStatus(raw: StatusResponse): MemberStatus {
  const header = toHeader(raw.header);
  const leader = longToBigInt(raw.leader);
  return {
    header,
    memberId: header.memberId,
    leader,
    isLeader: leader !== 0n && leader === header.memberId,
    isLearner: raw.isLearner,
    version: raw.version,
    dbSize: raw.dbSize.toNumber(),
    dbSizeInUse: raw.dbSizeInUse.toNumber(),
    raftIndex: longToBigInt(raw.raftIndex),
    raftTerm: longToBigInt(raw.raftTerm),
    raftAppliedIndex: longToBigInt(raw.raftAppliedIndex),
    errors: raw.errors,
  };
}

function checkAlarmKind(value: unknown, source: string): AlarmKind {
  if (value === AlarmKind.NoSpace || value === AlarmKind.Corrupt) return value;
  throw new InvalidArgumentError('filter.alarm', `expected 'NOSPACE' or 'CORRUPT', got ${String(value)}`, { source });
}

/**
 * Maintenance of the members: status, alarms, defragmentation, hashes, snapshots and leader
 * transfer. Calls that concern one member take its endpoint (`host:port`, or a client URL as
 * {@link Cluster.members} reports them); without one they go to the client's current endpoint.
 * An endpoint that is not in the client's list is reached over a connection opened for the call.
 */
export class Maintenance {
  /** @internal */
  constructor(private readonly connection: Connection) {}

  /** The status of one member: version, database size, raft position, leader, alarms. */
  async status(endpoint?: string, options?: CallOptions): Promise<MemberStatus> {
    return toStatus(await sendTo(this.connection, endpoint, maintenanceMethods.status, {}, STATUS, options));
  }

  /** The alarms active in the cluster (the same list on every member). */
  async alarms(options?: CallOptions): Promise<Alarm[]> {
    const request = { action: AlarmRequest_AlarmAction.GET, memberID: Long.UZERO, alarm: AlarmType.NONE };
    const response = await this.connection.unary(maintenanceMethods.alarm, request, ALARM_LIST, options);
    const alarms: Alarm[] = [];
    for (const raw of response.alarms) {
      const alarm = alarmNames[raw.alarm];
      if (alarm !== undefined) alarms.push({ memberId: longToBigInt(raw.memberID), alarm });
    }
    return alarms;
  }

  /**
   * Clears alarms: every active one, or those matching `filter`. Returns the alarms cleared.
   *
   * @remarks
   * A `NOSPACE` alarm comes back at the next write unless space was reclaimed first: compact
   * the history, then `defragment` every member, then disarm.
   */
  async disarm(filter?: AlarmFilter, options?: CallOptions): Promise<Alarm[]> {
    const source = 'Maintenance.disarm';
    if (filter !== undefined && (typeof filter !== 'object' || filter === null)) {
      throw new InvalidArgumentError('filter', 'expected an object ({ memberId?, alarm? })', { source });
    }
    const memberId = filter?.memberId === undefined ? undefined : longToBigInt(toUnsignedLong(filter.memberId, 'filter.memberId', source));
    const kind = filter?.alarm === undefined ? undefined : checkAlarmKind(filter.alarm, source);
    const targets = (await this.alarms(options)).filter(
      (alarm) => (memberId === undefined || alarm.memberId === memberId) && (kind === undefined || alarm.alarm === kind),
    );
    const cleared: Alarm[] = [];
    for (const alarm of targets) {
      const request = {
        action: AlarmRequest_AlarmAction.DEACTIVATE,
        memberID: toUnsignedLong(alarm.memberId, 'memberId', source),
        alarm: alarmTypes[alarm.alarm],
      };
      const response = await this.connection.unary(maintenanceMethods.alarm, request, ALARM_DISARM, options);
      for (const raw of response.alarms) {
        const name = alarmNames[raw.alarm];
        if (name !== undefined) cleared.push({ memberId: longToBigInt(raw.memberID), alarm: name });
      }
    }
    return cleared;
  }

  /**
   * Defragments one member's backend, returning free pages to the file system, and returns the
   * member's status afterwards (its new `dbSize`). The member blocks reads and writes while it
   * runs, so defragment members one at a time.
   */
  async defragment(endpoint: string, options?: CallOptions): Promise<MemberStatus> {
    const source = 'Maintenance.defragment';
    if (endpoint === undefined) {
      throw new InvalidArgumentError('endpoint', 'expected the member to defragment (defragmentation affects one member)', { source });
    }
    const address = memberAddress(endpoint, source);
    await this.connection.unaryOn(address, maintenanceMethods.defragment, {}, DEFRAGMENT, options);
    return this.status(address, options);
  }

  /** One member's hash of its whole backend (for consistency checks between members). */
  async hash(endpoint?: string, options?: CallOptions): Promise<HashResult> {
    const response = await sendTo(this.connection, endpoint, maintenanceMethods.hash, {}, HASH, options);
    return { header: toHeader(response.header), hash: response.hash };
  }

  /** One member's hash of its key-value history up to `revision` (`0` for the latest). */
  async hashKV(revision: Int64Input, endpoint?: string, options?: CallOptions): Promise<HashKVResult> {
    const request = { revision: toNonNegativeLong(revision, 'revision', 'Maintenance.hashKV') };
    const response = await sendTo(this.connection, endpoint, maintenanceMethods.hashKV, request, HASH_KV, options);
    return { header: toHeader(response.header), hash: response.hash, compactRevision: longToBigInt(response.compactRevision) };
  }

  /**
   * Streams a snapshot of one member's backend database, in chunks.
   *
   * @remarks
   * The chunks are the stream exactly as etcd sends it: the database file, then 32 bytes of
   * SHA-256 over it, which is the format `etcdctl snapshot restore` expects. The iterator
   * checks that hash as the chunks pass and ends with `SnapshotCorruptError` when it does not
   * match. No deadline applies unless `timeoutMs` is given; breaking out of the loop cancels
   * the transfer. {@link Maintenance.saveSnapshot} writes it to a file.
   */
  snapshot(endpoint?: string, options?: CallOptions): AsyncIterable<Uint8Array> {
    const address = endpoint === undefined ? undefined : memberAddress(endpoint, SNAPSHOT.source);
    const stream = this.connection.serverStream(maintenanceMethods.snapshot, {}, SNAPSHOT, options, address);
    return verifiedSnapshot(stream, SNAPSHOT.source);
  }

  /**
   * Writes a snapshot to `path` (through `path.part`, renamed once complete and verified) and
   * returns its size and SHA-256. The file is what `etcdctl snapshot save` writes;
   * `verifySnapshot(path)` checks it again later.
   *
   * @throws `SnapshotCorruptError` when the hash does not match (nothing is left at `path`).
   */
  saveSnapshot(path: string, options?: SaveSnapshotOptions): Promise<SavedSnapshot> {
    return saveSnapshot(path, (callOptions) => this.snapshot(options?.endpoint, callOptions), options);
  }

  /**
   * Transfers leadership to the member `memberId`. The request must reach the current leader,
   * so the leader is looked up first (a member status, then the member list for its URL).
   */
  async moveLeader(memberId: Int64Input, options?: CallOptions): Promise<MoveLeaderResult> {
    const source = 'Maintenance.moveLeader';
    const targetID = toUnsignedLong(memberId, 'memberId', source);
    for (let attempt = 1; ; attempt++) {
      const { leader } = await this.status(undefined, options);
      const leaderUrl = await this.clientAddressOf(leader, options);
      try {
        // etcd answers once the transfer is done (3.4 sends no header).
        await this.connection.unaryOn(leaderUrl, maintenanceMethods.moveLeader, { targetID }, MOVE_LEADER, options);
        return { previousLeader: leader, leader: longToBigInt(targetID) };
      } catch (error) {
        // Leadership moved between the lookup and the request: look it up again.
        const notLeader = error instanceof ServerRejectedError && error.serverMessage?.includes('not leader') === true;
        if (!notLeader || attempt >= MOVE_LEADER_ATTEMPTS) throw error;
      }
    }
  }

  /** The `host:port` of a member's first client URL. */
  private async clientAddressOf(id: bigint, options: CallOptions | undefined): Promise<string> {
    const source = 'Maintenance.moveLeader';
    if (id === 0n) throw new ServerRejectedError('the cluster has no leader now', { source });
    const response = await this.connection.unary(clusterMethods.memberList, {}, MEMBER_LIST, options);
    const member: Member | undefined = response.members.map(toMember).find((candidate) => candidate.id === id);
    const url = member?.clientUrls[0];
    if (url === undefined) throw new ServerRejectedError(`the leader ${id} has no client URL in the member list`, { source });
    return memberAddress(url, source);
  }
}
