import { pollUntil } from './deadline.js';
import type { EtcdMember } from './etcd-member.js';

/**
 * Polls the running, unpaused members' status until one of them reports itself as the leader
 * (its `leader` equals its own `memberId`, compared as strings).
 *
 * @internal
 */
export function findLeader(members: readonly EtcdMember[], timeoutMs: number): Promise<EtcdMember> {
  return pollUntil(
    async (remainingMs) => {
      const candidates = members.filter((member) => member.running && !member.paused);
      const answers = await Promise.all(
        candidates.map(async (member) => {
          try {
            const status = await member.status(Math.min(remainingMs, 1_000));
            return status.leader !== '0' && status.leader === status.memberId ? member : undefined;
          } catch {
            return undefined;
          }
        }),
      );
      return answers.find((member) => member !== undefined);
    },
    { timeoutMs, intervalMs: 100, what: `a leader among ${members.map((member) => member.name).join(', ')}` },
  );
}
