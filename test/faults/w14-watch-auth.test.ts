import { beforeAll, describe, expect, it } from 'vitest';
import { Etcd, PermissionDeniedError, Watch, type Watcher } from 'etcdkit';
import { FaultRecord, sleep, useProxiedEtcd } from './support.js';

// RELIABILITY W14: tokens expire after 3 s idle; after a cut the watch stream must log in again
// and every permitted watcher resume with no loss, while a denied watcher fails alone.
const ROOT = { username: 'root', password: 'root-pw' };
const WATCHER_USER = { username: 'w14', password: 'w14-pw' };
const b64 = (text: string) => Buffer.from(text).toString('base64');

const record = new FaultRecord('W14', 'watch and keep-alive streams across an expired auth token and a cut');
const etcd = useProxiedEtcd(record, { extraArgs: ['--auth-token-ttl', '3'] });

async function gateway(path: string, body: unknown): Promise<void> {
  const response = await fetch(`${etcd.server.clientUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path}: ${await response.text()}`);
}

async function authenticateCalls(): Promise<number> {
  let total = 0;
  for (const [sample, value] of await etcd.server.metrics()) {
    if (sample.startsWith('grpc_server_handled_total{') && sample.includes('grpc_method="Authenticate"')) total += value;
  }
  return total;
}

beforeAll(async () => {
  await gateway('/v3/auth/role/add', { name: 'root' });
  await gateway('/v3/auth/user/add', { name: ROOT.username, password: ROOT.password });
  await gateway('/v3/auth/user/grant', { user: ROOT.username, role: 'root' });
  await gateway('/v3/auth/role/add', { name: 'w14' });
  await gateway('/v3/auth/role/grant', { name: 'w14', perm: { permType: 'READWRITE', key: b64('w14/ok/'), range_end: b64('w14/ok0') } });
  await gateway('/v3/auth/user/add', { name: WATCHER_USER.username, password: WATCHER_USER.password });
  await gateway('/v3/auth/user/grant', { user: WATCHER_USER.username, role: 'w14' });
  await gateway('/v3/auth/enable', {});
});

describe('W14: watch with auth', () => {
  it('re-authenticates after an expired token and a cut; permitted watchers lose nothing, a denied one fails alone', async () => {
    record.begin('main');
    record.config = { authTokenTtlSeconds: 3, watchers: 6, idleMs: 4_500 };
    const writer = new Etcd({ endpoints: etcd.server.endpoints, auth: ROOT });
    const client = new Etcd({ endpoints: [etcd.proxy.endpoint], auth: WATCHER_USER });
    try {
      const keys = Array.from({ length: 5 }, (_, i) => `w14/ok/k${i}`);
      const watchers = new Map<string, Watcher>(keys.map((key) => [key, client.watch(key)]));
      const prefixWatcher = client.watch(Watch.key('w14/ok/').withPrefix());
      await Promise.all([...watchers.values(), prefixWatcher].map((watcher) => watcher.created));
      const denied = client.watch('w14/secret');
      const deniedError = await denied.ended;
      record.check('denied watcher fails with PermissionDeniedError', deniedError instanceof PermissionDeniedError, deniedError?.name);
      const kept = await client.lease.grantKeptAlive(10);

      const delivered = new Map<string, string[]>();
      const consume = async (name: string, watcher: Watcher) => {
        const seen: string[] = [];
        delivered.set(name, seen);
        for await (const event of watcher.events()) seen.push(`${event.kv.keyText()}@${event.kv.modRevision}=${event.kv.text()}`);
      };
      const consumers = [...watchers].map(([key, watcher]) => consume(key, watcher)).concat(consume('prefix', prefixWatcher));

      const acked: string[] = [];
      const write = async (round: number) => {
        for (const key of keys) {
          const put = await writer.put(key, `r${round}`);
          acked.push(`${key}@${put.header.revision}=r${round}`);
        }
      };
      await write(0);
      const authBefore = await authenticateCalls();
      await sleep(4_500); // the watcher client's token expires (3 s idle)
      record.mark('cut');
      await etcd.proxy.refuse();
      await write(1);
      await write(2);
      await etcd.proxy.heal();
      record.mark('heal');
      const healedAt = Date.now();
      await write(3);
      const expectedCount = acked.length;
      const deadline = Date.now() + 15_000;
      while ((delivered.get('prefix')?.length ?? 0) < expectedCount && Date.now() < deadline) await sleep(20);
      const resumedMs = Date.now() - healedAt;
      const reauthentications = (await authenticateCalls()) - authBefore;

      for (const key of keys) {
        const expected = acked.filter((line) => line.startsWith(`${key}@`));
        record.check(`watcher ${key} got every event exactly once, in order`, JSON.stringify(delivered.get(key)) === JSON.stringify(expected), {
          expected: expected.length,
          delivered: delivered.get(key)?.length,
        });
      }
      record.check(
        'prefix watcher got every event exactly once, in order',
        JSON.stringify(delivered.get('prefix')) === JSON.stringify(acked),
        { expected: acked.length, delivered: delivered.get('prefix')?.length },
      );
      record.check('the client logged in again', reauthentications >= 1, reauthentications);
      record.check('the kept lease survived', !kept.isLost);
      Object.assign(record.figures, {
        events: acked.length,
        reauthentications,
        healToAllDeliveredMs: resumedMs,
        resumes: prefixWatcher.stats.resumes,
        staleEventsDropped: prefixWatcher.stats.staleEventsDropped,
      });
      await kept.revoke();
      await Promise.all([...watchers.values(), prefixWatcher].map((watcher) => watcher.cancel()));
      await Promise.all(consumers);
    } finally {
      await client.close();
      await writer.close();
      record.end('main');
      await record.write(`${String(record.figures['events'])} events, ${String(record.figures['reauthentications'])} re-auth`);
    }
    expect(record.failed()).toEqual([]);
  });
});
