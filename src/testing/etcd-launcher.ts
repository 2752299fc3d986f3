import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { MemberExitedError, type EtcdMember, type MemberSpec, type ProbeTls } from './etcd-member.js';
import { EtcdRun } from './etcd-run.js';
import { startFaultProxy } from './fault-proxy.js';
import { findEtcdBinary } from './find-etcd-binary.js';
import { allocatePorts } from './free-ports.js';

const MAX_ATTEMPTS = 3;

/** Options of {@link startEtcd}; {@link EtcdClusterOptions} adds the member count. */
export interface EtcdServerOptions {
  /** Path or command name of the etcd binary. @defaultValue `$ETCD_BIN`, else `etcd` on PATH */
  binary?: string;
  /**
   * Flags appended to every member's command line, after the launcher's own (a later flag
   * wins), such as `['--auth-token-ttl', '3']` or `['--quota-backend-bytes', '2097152']`.
   */
  extraArgs?: readonly string[];
  /** Bound on the start, per attempt, and the default bound of a restart. @defaultValue 20000 */
  startTimeoutMs?: number;
  /**
   * Keep the temp dir (data dirs and logs) when the start fails or a failure was recorded with
   * `recordFailure()`. @defaultValue false
   */
  keepDataOnFailure?: boolean;
  /** Serve clients over TLS (`https://` client URLs); peers stay on plain HTTP. */
  tls?: EtcdServerTlsOptions;
}

/** TLS files of the members' client listener, all PEM. */
export interface EtcdServerTlsOptions {
  /** The server certificate (`--cert-file`); must name 127.0.0.1 in its subject alternative names. */
  certFile: string;
  /** Its private key (`--key-file`). */
  keyFile: string;
  /** The CA that signed it and, with `clientCertAuth`, the client certificates (`--trusted-ca-file`). */
  caFile: string;
  /** Require a client certificate signed by `caFile` (`--client-cert-auth`). @defaultValue false */
  clientCertAuth?: boolean;
  /** A client certificate the harness's own probes (health, status, metrics) present when `clientCertAuth` is on. */
  clientCertFile?: string;
  /** The key of `clientCertFile`. */
  clientKeyFile?: string;
}

/** Options of {@link startEtcdCluster}. */
export interface EtcdClusterOptions extends EtcdServerOptions {
  /** Number of members, named `m1`…`mN`. @defaultValue 3 */
  size?: number;
  /**
   * Put a fault proxy in front of every member's peer port (members advertise the proxy), so
   * that `cluster.isolate(member)` can cut a member off from its peers while clients still
   * reach it. @defaultValue false
   */
  peerProxies?: boolean;
}

/** What every member of a run is started with, kept so that members can join later. @internal */
export interface RunTemplate {
  binary: string;
  startTimeoutMs: number;
  extraArgs: readonly string[];
  tls: { args: readonly string[]; probe: ProbeTls } | undefined;
  peerProxies: boolean;
}

/** @internal */
export interface Launched<M extends EtcdMember> {
  run: EtcdRun;
  members: M[];
}

/**
 * Starts the named members as one static cluster in a new temp dir, on fresh loopback ports,
 * and waits for `ready`. A member that dies at once because its port was taken makes the
 * whole start retry on new ports, up to 3 attempts.
 *
 * @throws Error with the member log tail when the start fails or times out; the processes
 * started are stopped first.
 * @internal
 */
export async function launch<M extends EtcdMember>(
  names: readonly string[],
  options: EtcdServerOptions,
  create: (spec: MemberSpec, run: EtcdRun) => M,
  ready: (members: M[], timeoutMs: number) => Promise<unknown>,
): Promise<Launched<M>> {
  const binary = await findEtcdBinary(options.binary);
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const tls = options.tls ? await tlsSettings(options.tls) : undefined;
  const template: RunTemplate = {
    binary,
    startTimeoutMs,
    extraArgs: options.extraArgs ?? [],
    tls,
    peerProxies: (options as EtcdClusterOptions).peerProxies === true,
  };
  for (let attempt = 1; ; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'etcdkit-'));
    const run = new EtcdRun(dir, options.keepDataOnFailure ?? false, template);
    const deadline = Date.now() + startTimeoutMs;
    const remaining = (): number => Math.max(1, deadline - Date.now());
    try {
      const ports = await allocateMemberPorts(run, names);
      const initialCluster = names.map((name, i) => `${name}=${ports[i]!.advertisedPeerUrl}`).join(',');
      const members = names.map((name, i) => {
        const member = create(memberSpec(run, name, ports[i]!, initialCluster, 'new'), run);
        run.add(member);
        return member;
      });
      for (const member of members) await member.spawn();
      await Promise.all(members.map((member) => member.waitHealthy(remaining())));
      await ready(members, remaining());
      return { run, members };
    } catch (error) {
      const retry = error instanceof MemberExitedError && error.addressInUse && attempt < MAX_ATTEMPTS;
      if (!retry) run.recordFailure(error instanceof Error ? error.message : String(error));
      await run.close().catch(() => undefined);
      if (retry) continue;
      const what = names.length === 1 ? 'etcd' : `a ${names.length}-member etcd cluster`;
      const kept = run.keepsData ? ` (data and logs kept in ${dir})` : '';
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`could not start ${what} from ${binary}${kept}: ${reason}`, { cause: error });
    }
  }
}

/** The ports of one member, and the peer URL it advertises (its peer proxy's, if it has one). @internal */
export interface MemberPorts {
  clientPort: number;
  peerPort: number;
  advertisedPeerUrl: string;
}

/**
 * Allocates client and peer ports for new members of `run`, and starts their peer proxies
 * when the run has them (registered with the run, which closes them).
 * @internal
 */
export async function allocateMemberPorts(run: EtcdRun, names: readonly string[]): Promise<MemberPorts[]> {
  const ports = await allocatePorts(names.length * 2);
  return Promise.all(
    names.map(async (name, i) => {
      const clientPort = ports[2 * i];
      const peerPort = ports[2 * i + 1];
      if (clientPort === undefined || peerPort === undefined) throw new Error('not enough ports allocated');
      if (!run.template.peerProxies) return { clientPort, peerPort, advertisedPeerUrl: `http://127.0.0.1:${peerPort}` };
      const proxy = await startFaultProxy({ target: `127.0.0.1:${peerPort}` });
      run.addPeerProxy(name, proxy);
      return { clientPort, peerPort, advertisedPeerUrl: `http://${proxy.endpoint}` };
    }),
  );
}

/**
 * The command line of one member of `run`. `state` is `new` for a member of the initial
 * cluster and `existing` for one joining a running cluster (which must list every member).
 * @internal
 */
export function memberSpec(
  run: EtcdRun,
  name: string,
  ports: MemberPorts,
  initialCluster: string,
  state: 'new' | 'existing',
): MemberSpec {
  const { binary, startTimeoutMs, extraArgs, tls } = run.template;
  const dir = run.dir;
  const clientUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${ports.clientPort}`;
  const peerUrl = `http://127.0.0.1:${ports.peerPort}`;
  const dataDir = join(dir, `${name}.data`);
  const logFile = join(dir, `${name}.log`);
  return {
    name,
    binary,
    clientPort: ports.clientPort,
    peerPort: ports.peerPort,
    advertisedPeerUrl: ports.advertisedPeerUrl,
    dataDir,
    logFile,
    stderrFile: join(dir, `${name}.stderr`),
    startTimeoutMs,
    probeTls: tls?.probe,
    args: [
      '--name', name,
      '--data-dir', dataDir,
      '--listen-client-urls', clientUrl,
      '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', ports.advertisedPeerUrl,
      '--initial-cluster', initialCluster,
      // A token unique to the run keeps members of another cluster on this machine out.
      '--initial-cluster-token', basename(dir),
      // Ignored once the data dir exists, so a restart can reuse the same command line.
      '--initial-cluster-state', state,
      '--logger', 'zap',
      '--log-outputs', logFile,
      ...(tls?.args ?? []),
      ...extraArgs,
    ],
  };
}

async function tlsSettings(tls: EtcdServerTlsOptions): Promise<{ args: string[]; probe: ProbeTls }> {
  const args = ['--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile];
  if (tls.clientCertAuth) args.push('--client-cert-auth');
  const probe: ProbeTls = { ca: await readFile(tls.caFile) };
  if (tls.clientCertFile !== undefined && tls.clientKeyFile !== undefined) {
    probe.cert = await readFile(tls.clientCertFile);
    probe.key = await readFile(tls.clientKeyFile);
  }
  return { args, probe };
}
