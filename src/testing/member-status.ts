/**
 * A member's answer to the Maintenance Status RPC, read through the JSON gateway
 * (`POST /v3/maintenance/status`). Member and cluster IDs are decimal strings, because they
 * are 64-bit; compare them as strings.
 */
export interface EtcdStatus {
  /** ID of the member that answered. */
  memberId: string;
  /** ID of the member it believes is the leader; `'0'` when it knows none. */
  leader: string;
  clusterId: string;
  /** Store revision in the response header. */
  revision: number;
  raftTerm: number;
  raftIndex: number;
  raftAppliedIndex: number;
  /** etcd server version, such as `3.4.23`. */
  version: string;
  /** Backend database size in bytes, including free pages. */
  dbSize: number;
  /** Bytes of the backend database actually in use. */
  dbSizeInUse: number;
  isLearner: boolean;
  /** Alarm and health errors the member reports; empty when there are none. */
  errors: string[];
}

type Json = Record<string, unknown>;

function asRecord(value: unknown): Json {
  return typeof value === 'object' && value !== null ? (value as Json) : {};
}

/** The gateway omits zero values and writes 64-bit integers as strings. */
function integer(value: unknown): number {
  return typeof value === 'string' || typeof value === 'number' ? Number(value) : 0;
}

function id(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '0';
}

/**
 * Turns the gateway's JSON status reply into an {@link EtcdStatus}.
 *
 * @throws Error when the reply has no member ID (not a status reply).
 * @internal
 */
export function parseStatus(body: string): EtcdStatus {
  const reply = asRecord(JSON.parse(body));
  const header = asRecord(reply['header']);
  if (header['member_id'] === undefined) throw new Error(`not a status reply: ${body.slice(0, 200)}`);
  return {
    memberId: id(header['member_id']),
    leader: id(reply['leader']),
    clusterId: id(header['cluster_id']),
    revision: integer(header['revision']),
    raftTerm: integer(reply['raftTerm']),
    raftIndex: integer(reply['raftIndex']),
    raftAppliedIndex: integer(reply['raftAppliedIndex']),
    version: typeof reply['version'] === 'string' ? reply['version'] : '',
    dbSize: integer(reply['dbSize']),
    dbSizeInUse: integer(reply['dbSizeInUse']),
    isLearner: reply['isLearner'] === true,
    errors: Array.isArray(reply['errors']) ? reply['errors'].map(String) : [],
  };
}
