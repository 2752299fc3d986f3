/**
 * A tour of etcdkit: `npm run tour`.
 *
 * Talks to the cluster in ETCD_ENDPOINTS (comma-separated `host:port`) if set, otherwise to a
 * throwaway etcd started for the tour. Every key lives under `tour/` and is deleted at the end.
 */
import {
  Compare,
  CompactedError,
  Delete,
  Etcd,
  EtcdError,
  EtcdErrorCode,
  FutureRevisionError,
  InvalidArgumentError,
  type KeyValue,
  type LockHandle,
  Op,
  Range,
  Watch,
} from 'etcdkit';
import { type EtcdServer, startEtcd, startEtcdCluster } from 'etcdkit/testing';

const PREFIX = 'tour/';
let step = 0;

function heading(title: string): void {
  step += 1;
  console.log(`\n${step}. ${title}`);
}

function say(line: string): void {
  console.log(`   ${line}`);
}

const show = (kv: KeyValue | undefined): string =>
  kv === undefined ? 'nothing' : `${kv.keyText()} = ${JSON.stringify(kv.text())} (modRevision ${kv.modRevision}, version ${kv.version})`;

function describeError(error: unknown): string {
  if (!(error instanceof EtcdError)) throw error;
  return `${error.name} code=${error.code} retryable=${error.retryable} maybeApplied=${error.maybeApplied}\n     ${error.message}`;
}

async function tour(etcd: Etcd, throwaway: boolean): Promise<void> {
  heading('put and get');
  const put = await etcd.put('tour/greeting', 'hello');
  say(`put tour/greeting = "hello" at revision ${put.header.revision} (a ${typeof put.header.revision})`);
  const greeting = await etcd.get('tour/greeting');
  say(`get: ${show(greeting)}; text() = ${JSON.stringify(greeting?.text())}`);
  const again = await etcd.put('tour/greeting', 'hello again', { prevKv: true });
  say(`put again with prevKv: previous value ${JSON.stringify(again.prevKv?.text())}, now at revision ${again.header.revision}`);
  say(`get of a missing key: ${show(await etcd.get('tour/missing'))}`);

  heading('a prefix range with limit and sort');
  for (const fruit of ['apple', 'banana', 'cherry', 'date', 'elderberry']) await etcd.put(`tour/fruit/${fruit}`, fruit.length.toString());
  const fruits = Range.key('tour/fruit/').withPrefix();
  const firstThree = await etcd.range(fruits.withLimit(3).withSort('key', 'descend'));
  say(`Range.key('tour/fruit/').withPrefix().withLimit(3).withSort('key', 'descend')`);
  say(`-> ${firstThree.kvs.map((kv) => kv.keyText()).join(', ')}`);
  say(`   more = ${firstThree.more}, count = ${firstThree.count} (the builder is immutable: fruits itself has no limit)`);
  const counted = await etcd.range(fruits.withCountOnly());
  say(`withCountOnly(): count = ${counted.count}, kvs = ${counted.kvs.length}`);

  heading('rangeAll: a large range in pages, all read at one revision');
  await Promise.all(Array.from({ length: 25 }, (_, i) => etcd.put(`tour/items/${String(i).padStart(2, '0')}`, `item ${i}`)));
  let count = 0;
  let pages = 0;
  // rangeAll yields the keys of one page back to back; fetching the next page is a round trip,
  // during which the event loop turns and this flag is set.
  let fetched = true;
  let first: string | undefined;
  let last: string | undefined;
  for await (const kv of etcd.rangeAll('tour/items/', { pageSize: 10 })) {
    if (fetched) pages += 1;
    if (count === 0) await etcd.put('tour/items/99', 'written during the iteration');
    count += 1;
    first ??= kv.keyText();
    last = kv.keyText();
    fetched = false;
    setImmediate(() => (fetched = true));
  }
  say(`read ${count} keys (${first} … ${last}) in ${pages} pages of at most 10`);
  say(`tour/items/99, written after the first page, is not among them: every page reads the first page's revision`);

  heading('a transaction: Compare, Op, and typed results');
  await etcd.put('tour/config/mode', 'blue');
  const switchToGreen = () =>
    etcd
      .txn()
      .if(Compare.value('tour/config/mode').equals('blue'), Compare.version('tour/config/mode').greater(0))
      .then(Op.put('tour/config/mode', 'green', { prevKv: true }), Op.get('tour/config/mode'))
      .else(Op.get('tour/config/mode'))
      .commit();
  const switched = await switchToGreen();
  if (switched.succeeded) {
    const [putResult, getResult] = switched.responses; // typed: [put result, range result]
    say(`if value == "blue": succeeded; then-branch results: ${putResult.kind} (prevKv ${JSON.stringify(putResult.prevKv?.text())}), ${getResult.kind} -> ${show(getResult.kvs[0])}`);
  }
  const again2 = await switchToGreen();
  if (!again2.succeeded) {
    const [current] = again2.responses; // typed: [range result]
    say(`same transaction again: succeeded = false; else-branch ${current.kind} -> ${show(current.kvs[0])}`);
  }

  heading('putIfAbsent');
  say(`putIfAbsent('tour/leader', 'node-1') -> ${await etcd.putIfAbsent('tour/leader', 'node-1')}`);
  say(`putIfAbsent('tour/leader', 'node-2') -> ${await etcd.putIfAbsent('tour/leader', 'node-2')}`);
  say(`tour/leader holds ${JSON.stringify((await etcd.get('tour/leader'))?.text())}`);

  heading('compareAndSwap');
  await etcd.put('tour/balance', '100');
  const swapped = await etcd.compareAndSwap('tour/balance', { value: '100' }, '80');
  say(`expect "100", write "80": succeeded = ${swapped.succeeded}, found ${show(swapped.found)}`);
  const stale = await etcd.compareAndSwap('tour/balance', { value: '100' }, '60');
  say(`expect "100" again, write "60": succeeded = ${stale.succeeded}, found ${show(stale.found)}`);
  const byRevision = await etcd.compareAndSwap('tour/balance', { modRevision: stale.found!.modRevision }, '60');
  say(`expect modRevision ${stale.found!.modRevision}, write "60": succeeded = ${byRevision.succeeded}`);

  heading('update: an optimistic read-modify-write counter');
  const increment = (kv: KeyValue | undefined): string => String(Number(kv?.text() ?? '0') + 1);
  const results = await Promise.all(Array.from({ length: 5 }, () => etcd.update('tour/counter', increment)));
  say(`5 concurrent increments: counter = ${(await etcd.get('tour/counter'))?.text()}`);
  say(`attempts per increment: ${results.map((r) => r.attempts).join(', ')} (a conflict re-reads and retries)`);

  heading('a namespace view');
  const app = etcd.namespace('tour/app/');
  await app.put('color', 'red');
  await app.put('size', 'large');
  const inApp = await app.range(Range.all());
  say(`etcd.namespace('tour/app/') sees: ${inApp.kvs.map((kv) => `${kv.keyText()}=${kv.text()}`).join(', ')}`);
  say(`the client sees the same key as ${show(await etcd.get('tour/app/color'))}`);

  heading('watch: a for await loop over changes');
  const watcher = etcd.watch(Watch.key('tour/jobs/').withPrefix().withPrevKv());
  await watcher.created; // from here on, every change under tour/jobs/ is seen
  const writes = (async () => {
    await etcd.put('tour/jobs/1', 'queued');
    await etcd.put('tour/jobs/1', 'running');
    await etcd.txn().then(Op.put('tour/jobs/2', 'queued'), Op.delete('tour/jobs/1')).commit();
  })();
  let seen = 0;
  for await (const batch of watcher) {
    const events = batch.events.map((event) => `${event.type} ${event.kv.keyText()}${event.type === 'put' ? `=${event.kv.text()}` : ''}`);
    say(`revision ${batch.events[0]?.kv.modRevision}: ${events.join(', ')}${batch.events[0]?.prevKv ? ` (was ${batch.events[0].prevKv.text()})` : ''}`);
    seen += batch.events.length;
    if (seen >= 4) break; // leaving the loop cancels the watcher on the server
  }
  await writes;
  say(`a transaction's events arrive in one batch; the watcher would resume at revision ${watcher.resumeRevision} after a reconnect`);

  heading('mirror: an always-current copy of a prefix');
  await using jobs = etcd.mirror('tour/jobs/');
  await jobs.ready;
  say(`mirror of tour/jobs/ at revision ${jobs.revision}: ${[...jobs.entries()].map(([key, kv]) => `${key}=${kv.text()}`).join(', ')}`);
  const changes = jobs[Symbol.asyncIterator]();
  const nextChange = changes.next(); // changes are reported from the moment iteration starts
  await etcd.put('tour/jobs/3', 'queued');
  const change = (await nextChange).value;
  if (change !== undefined) {
    say(`change: ${change.type} ${change.type === 'resync' ? change.revision : change.key}; the mirror now holds ${jobs.size} keys`);
  }
  await changes.return?.(undefined);

  heading('leases: a kept lease and an ephemeral key');
  const kept = await etcd.lease.grantKeptAlive(1);
  say(`grantKeptAlive(1): lease ${kept.id} (a ${typeof kept.id}), granted TTL ${kept.ttl} s: etcd raises TTLs below its minimum`);
  await etcd.put('tour/presence/worker-1', 'online', { lease: kept.id });
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  say(`2.5 s later, past the TTL: ${show(await etcd.get('tour/presence/worker-1'))}, kept alive by refreshes every third of the TTL`);
  say(`the lease's local deadline is ${kept.deadline - Date.now()} ms away; past it unacknowledged, kept.lost resolves at once`);
  const { keys } = await etcd.lease.timeToLive(kept.id, { keys: true });
  say(`timeToLive(id, { keys: true }) lists ${keys.map(String).join(', ')}`);
  await kept.revoke();
  say(`revoke(): kept.lost resolved with reason "${(await kept.lost).reason}"; the key: ${show(await etcd.get('tour/presence/worker-1'))}`);

  heading('a lock: withLock, the fencing token and a guarded write');
  let second: Promise<LockHandle> | undefined;
  const token = await etcd.lock.withLock(
    'tour/locks/report',
    async (lock) => {
      say(`holding ${lock.key.toString()} (on lease ${lock.leaseId.toString(16)}); fencing token ${lock.fencingToken}: the key's create revision`);
      second = etcd.lock.acquire('tour/locks/report', { ttl: 10 }); // another holder waits in line
      const [written] = await lock.guarded([Op.put('tour/report', `written under token ${lock.fencingToken}`)]);
      say(`guarded write at revision ${written.header.revision}: applied only while the lock key is still this holder's`);
      return lock.fencingToken;
    },
    { ttl: 10 },
  );
  const handedOver = await second!;
  say(`withLock resolved with ${token} and released the lock; the waiter got it next, with token ${handedOver.fencingToken}`);
  await handedOver.release();

  heading('an election: campaign, leader, proclaim, resign');
  const election = etcd.election('tour/election/scheduler');
  const leadership = await election.campaign('node-1', { ttl: 10 });
  say(`campaign('node-1') won: key ${leadership.key.toString()}, term ${leadership.revision} (the key's create revision)`);
  const standby = election.campaign('node-2', { ttl: 10 });
  say(`leader(): ${show(await election.leader())}`);
  await leadership.proclaim('node-1 (draining)');
  say(`after proclaim: ${show(await election.leader())}`);
  await leadership.resign();
  say(`resign(): lost resolved with reason "${(await leadership.lost).reason}"`);
  const next = await standby;
  say(`node-2, which was waiting, leads now: ${show(await election.leader())}`);
  await next.resign();

  heading('typed errors');
  try {
    await etcd.get('');
  } catch (error) {
    say(`get(''): ${describeError(error)}`);
    if (error instanceof InvalidArgumentError) say(`argument = ${error.argument}; nothing was sent`);
  }
  const before = (await etcd.get('tour/greeting'))!.modRevision;
  if (throwaway) {
    const latest = await etcd.put('tour/greeting', 'compacted history');
    await etcd.compact(latest.header.revision);
    try {
      await etcd.get('tour/greeting', { revision: before - 1n });
    } catch (error) {
      say(`get at revision ${before - 1n} after compacting to ${latest.header.revision}: ${describeError(error)}`);
      if (error instanceof CompactedError) {
        // etcd reports the compact revision on watches; a read's error does not carry it (0n).
        say(error.compactRevision > 0n ? `compactRevision = ${error.compactRevision}` : 'branch on the class: error instanceof CompactedError');
      }
    }
  } else {
    say('(compaction is cluster-wide, so the tour does not compact a cluster it was given)');
  }
  try {
    await etcd.get('tour/greeting', { revision: before + 1_000_000n });
  } catch (error) {
    say(`get at a future revision: ${describeError(error)}`);
    if (error instanceof FutureRevisionError && error.code === EtcdErrorCode.FutureRevision) {
      say('branch on the class (instanceof FutureRevisionError) or on the code (EtcdErrorCode.FutureRevision)');
    }
  }
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/** One row per member: the member list names them, and each member reports its own status. */
async function printStatusTable(etcd: Etcd): Promise<void> {
  const members = await etcd.cluster.members();
  const rows = await Promise.all(
    members.map(async (member) => {
      const url = member.clientUrls[0];
      if (url === undefined) return [`(${member.name || 'not started'})`, member.id.toString(), '', '', '', ''];
      try {
        const status = await etcd.maintenance.status(url, { timeoutMs: 2_000 });
        const role = status.isLeader ? 'leader' : status.isLearner ? 'learner' : 'follower';
        return [new URL(url).host, status.memberId.toString(), role, status.version, kib(status.dbSize), status.raftIndex.toString()];
      } catch (error) {
        return [new URL(url).host, member.id.toString(), error instanceof EtcdError ? error.code : 'error', '', '', ''];
      }
    }),
  );
  const table = [['endpoint', 'member id', 'role', 'version', 'db size', 'raft index'], ...rows];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  for (const row of table) say(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}

/**
 * The status of every member of a cluster. With a throwaway etcd the tour starts a throwaway
 * 3-member cluster for this, and moves its leadership to show the table change.
 */
async function clusterStatus(etcd: Etcd, throwaway: boolean): Promise<void> {
  heading('cluster status: etcd.cluster.members() and etcd.maintenance.status(endpoint) per member');
  if (!throwaway) {
    await printStatusTable(etcd);
    return;
  }
  const cluster = await startEtcdCluster({ size: 3 });
  const admin = new Etcd({ endpoints: cluster.endpoints });
  try {
    await printStatusTable(admin);
    const { leader } = await admin.maintenance.status();
    const next = (await admin.cluster.members()).find((member) => member.id !== leader)!;
    await admin.maintenance.moveLeader(next.id);
    say(`etcd.maintenance.moveLeader(${next.id}n) — the request goes to the current leader, whichever endpoint the client uses:`);
    await printStatusTable(admin);
  } finally {
    await admin.close();
    await cluster.close();
  }
}

async function main(): Promise<void> {
  const given = process.env['ETCD_ENDPOINTS']
    ?.split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint !== '');
  let server: EtcdServer | undefined;
  let etcd: Etcd | undefined;
  try {
    if (given?.length) {
      console.log(`etcdkit tour against ${given.join(', ')} (from ETCD_ENDPOINTS)`);
    } else {
      server = await startEtcd();
      console.log(`etcdkit tour against a throwaway etcd at ${server.endpoint} (set ETCD_ENDPOINTS to use your own)`);
    }
    etcd = new Etcd({ endpoints: given?.length ? given : server!.endpoints });
    await etcd.delete(Delete.key(PREFIX).withPrefix()); // leftovers of an interrupted run
    await tour(etcd, server !== undefined);
    await clusterStatus(etcd, server !== undefined);
    heading('clean up');
    const { deleted } = await etcd.delete(Delete.key(PREFIX).withPrefix());
    say(`deleted ${deleted} keys under ${PREFIX}`);
  } catch (error) {
    // Leave a cluster we were given as we found it, then report the failure.
    if (server === undefined) await etcd?.delete(Delete.key(PREFIX).withPrefix()).catch(() => undefined);
    throw error;
  } finally {
    await etcd?.close();
    await server?.close();
  }
}

main().catch((error: unknown) => {
  console.error('\nthe tour failed:', error instanceof EtcdError ? error.message : error);
  process.exitCode = 1;
});
