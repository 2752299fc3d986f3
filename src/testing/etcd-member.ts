import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { waitForExit } from './child-exit.js';
import { pollUntil } from './deadline.js';
import { httpRequest } from './http-request.js';
import { readLogLines } from './log-lines.js';
import { parseStatus, type EtcdStatus } from './member-status.js';
import { trackPid, untrackPid } from './process-reaper.js';
import { parsePrometheusText, sumMetric } from './prometheus-text.js';

const STOP_GRACE_MS = 5_000;
const KILL_WAIT_MS = 5_000;

/** Everything needed to (re)start one member with the same command line. @internal */
export interface MemberSpec {
  name: string;
  binary: string;
  clientPort: number;
  peerPort: number;
  /** The peer URL the member advertises (a peer proxy's, when the run has them). */
  advertisedPeerUrl: string;
  dataDir: string;
  logFile: string;
  /** Receives what the current process wrote to stderr: flag errors and Go panics. */
  stderrFile: string;
  /** The arguments after the binary. */
  args: readonly string[];
  startTimeoutMs: number;
  /** Trust and identity of the harness's own HTTPS probes, when clients use TLS. */
  probeTls?: ProbeTls | undefined;
}

/** What an HTTPS probe of a TLS member trusts and presents. @internal */
export interface ProbeTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Options of {@link EtcdMember.restart}. */
export interface RestartOptions {
  /** Wait until `GET /health` reports healthy. @defaultValue true */
  waitHealthy?: boolean;
  /** Bound on that wait. @defaultValue the launcher's `startTimeoutMs` */
  timeoutMs?: number;
}

/** A member process that exited while it was expected to come up. @internal */
export class MemberExitedError extends Error {
  override readonly name = 'MemberExitedError';
  constructor(
    message: string,
    /** The log says a port was taken, so a start on other ports may succeed. */
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

/**
 * The environment for etcd: `ETCD_*` variables would be read as flags (etcd 3.4 maps
 * `ETCD_NAME` to `--name` and so on), so only the unrelated ones are passed on.
 */
function memberEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ETCD_') || key === 'ETCD_UNSUPPORTED_ARCH') env[key] = value;
  }
  return env;
}

/**
 * One etcd process started by {@link startEtcd} or {@link startEtcdCluster}, with the controls
 * fault tests need: stop, kill -9, pause, resume and restart on the same data dir.
 *
 * @remarks Only the pid recorded at spawn is ever signalled. The process runs in its own
 * process group with its zap log in {@link EtcdMember.logFile}.
 */
export class EtcdMember {
  /** Member name (`--name`), such as `s1` or `m2`. */
  readonly name: string;
  /** Client address as `127.0.0.1:port`, the form SDK endpoints take. */
  readonly endpoint: string;
  /** Client URL, `http://127.0.0.1:port`. */
  readonly clientUrl: string;
  /** The peer URL the member advertises, `http://127.0.0.1:port` (its peer proxy's, with `peerProxies`). */
  readonly peerUrl: string;
  /** The member's `--data-dir`; kept across restarts. */
  readonly dataDir: string;
  /** The member's zap log (`--log-outputs`). */
  readonly logFile: string;
  readonly #spec: MemberSpec;
  #child: ChildProcess | undefined;
  #paused = false;

  /** @internal */
  constructor(spec: MemberSpec) {
    this.#spec = spec;
    this.name = spec.name;
    this.endpoint = `127.0.0.1:${spec.clientPort}`;
    this.clientUrl = `${spec.probeTls ? 'https' : 'http'}://${this.endpoint}`;
    this.peerUrl = spec.advertisedPeerUrl;
    this.dataDir = spec.dataDir;
    this.logFile = spec.logFile;
  }

  /** The process id, or `undefined` while the member is down. */
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  /** True from spawn until the process exits (also while paused). */
  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** True between {@link EtcdMember.pause} and {@link EtcdMember.resume}. */
  get paused(): boolean {
    return this.running && this.#paused;
  }

  /**
   * Starts the process without waiting for it to be healthy.
   *
   * @internal
   */
  async spawn(): Promise<void> {
    if (this.running) throw new Error(`etcd member ${this.name} is already running (pid ${this.pid})`);
    const stderr = await open(this.#spec.stderrFile, 'w');
    let child: ChildProcess;
    try {
      child = spawn(this.#spec.binary, this.#spec.args, {
        detached: true,
        stdio: ['ignore', 'ignore', stderr.fd],
        env: memberEnv(),
      });
      child.on('error', () => {
        // Reported by the 'spawn' wait below or by the exit that follows.
      });
      await once(child, 'spawn');
    } finally {
      await stderr.close();
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`etcd member ${this.name} did not start`);
    trackPid(pid);
    child.once('exit', () => untrackPid(pid));
    child.unref();
    this.#child = child;
    this.#paused = false;
  }

  /**
   * Starts a member that has never run (one from `cluster.newMember()`), or one that is down,
   * and by default waits until it is healthy. Same as {@link EtcdMember.restart}.
   */
  start(options: RestartOptions = {}): Promise<void> {
    return this.restart(options);
  }

  /** SIGTERM, then SIGKILL if the process is still there after 5 s. Resolves once it exited. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    child.kill('SIGTERM');
    // A stopped process only acts on SIGTERM once continued.
    if (this.#paused) child.kill('SIGCONT');
    this.#paused = false;
    if (await waitForExit(child, STOP_GRACE_MS)) return;
    await this.#killAndWait(child);
  }

  /** SIGKILL (a crash, like `kill -9`). Resolves once the process exited. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    this.#paused = false;
    await this.#killAndWait(child);
  }

  /**
   * SIGSTOP: the process freezes with its sockets open, so peers and clients see a hang rather
   * than a refused connection.
   *
   * @throws Error when the member is not running.
   */
  pause(): void {
    this.#requireRunning('pause').kill('SIGSTOP');
    this.#paused = true;
  }

  /**
   * SIGCONT, undoing {@link EtcdMember.pause}.
   *
   * @throws Error when the member is not running.
   */
  resume(): void {
    this.#requireRunning('resume').kill('SIGCONT');
    this.#paused = false;
  }

  /**
   * Starts the member again with the same command line and data dir, stopping it first if it
   * is running, and by default waits until it is healthy.
   *
   * @remarks In a cluster, a member only reports healthy once it is part of a quorum with a
   * leader; pass `waitHealthy: false` when restarting members one by one after a full outage.
   * @throws Error with the tail of the member log if it exits or times out while coming up.
   */
  async restart(options: RestartOptions = {}): Promise<void> {
    await this.stop();
    await this.spawn();
    if (options.waitHealthy ?? true) await this.waitHealthy(options.timeoutMs);
  }

  /**
   * One `GET /health` probe.
   *
   * @returns true when the member answers `{"health":"true"}` within `timeoutMs`.
   */
  async health(timeoutMs = 1_000): Promise<boolean> {
    try {
      const reply = await httpRequest(`${this.clientUrl}/health`, { timeoutMs, tls: this.#spec.probeTls });
      return reply.status === 200 && (JSON.parse(reply.body) as { health?: unknown }).health === 'true';
    } catch {
      return false;
    }
  }

  /**
   * Polls `GET /health` every 50 ms until the member is healthy.
   *
   * @param timeoutMs - defaults to the launcher's `startTimeoutMs`.
   * @throws Error with the tail of the member log on timeout, or at once if the process exits.
   */
  async waitHealthy(timeoutMs = this.#spec.startTimeoutMs): Promise<void> {
    await pollUntil(
      async (remainingMs) => {
        if (!this.running) throw await this.#exitedError();
        return (await this.health(Math.min(remainingMs, 1_000))) ? true : undefined;
      },
      { timeoutMs, what: `etcd member ${this.name} (${this.endpoint}) to become healthy`, detail: () => this.describeLogs() },
    );
  }

  /**
   * The member's Status RPC reply, through the JSON gateway.
   *
   * @throws Error when the member does not answer within `timeoutMs` or answers an error.
   */
  async status(timeoutMs = 2_000): Promise<EtcdStatus> {
    const reply = await httpRequest(`${this.clientUrl}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      timeoutMs,
      tls: this.#spec.probeTls,
    });
    if (reply.status !== 200) {
      throw new Error(`status of etcd member ${this.name} failed: HTTP ${reply.status} ${reply.body.slice(0, 200)}`);
    }
    return parseStatus(reply.body);
  }

  /**
   * All samples from `GET /metrics`, keyed by name with labels as written
   * (see {@link parsePrometheusText}).
   */
  async metrics(timeoutMs = 5_000): Promise<Map<string, number>> {
    const reply = await httpRequest(`${this.clientUrl}/metrics`, { timeoutMs, tls: this.#spec.probeTls });
    if (reply.status !== 200) throw new Error(`metrics of etcd member ${this.name} failed: HTTP ${reply.status}`);
    return parsePrometheusText(reply.body);
  }

  /** One metric summed over all its label sets, such as `etcd_server_has_leader`. */
  async metric(name: string, timeoutMs?: number): Promise<number> {
    return sumMetric(await this.metrics(timeoutMs), name);
  }

  /**
   * The last lines of the member's zap log, and the first lines of what the current process
   * wrote to stderr (flag errors, Go panics), for error messages.
   */
  async describeLogs(lines = 8): Promise<string> {
    const log = await readLogLines(this.logFile, { tail: lines });
    const stderr = await readLogLines(this.#spec.stderrFile, { head: lines });
    let text = log === '' ? `${this.logFile} is empty or missing` : `last lines of ${this.logFile}:\n${log}`;
    if (stderr !== '') text += `\nstderr of ${this.name}:\n${stderr}`;
    return text;
  }

  async #killAndWait(child: ChildProcess): Promise<void> {
    child.kill('SIGKILL');
    if (!(await waitForExit(child, KILL_WAIT_MS))) {
      throw new Error(`etcd member ${this.name} (pid ${child.pid}) did not exit ${KILL_WAIT_MS} ms after SIGKILL`);
    }
  }

  #requireRunning(action: string): ChildProcess {
    const child = this.#child;
    if (child === undefined || !this.running) throw new Error(`cannot ${action} etcd member ${this.name}: it is not running`);
    return child;
  }

  async #exitedError(): Promise<MemberExitedError> {
    const child = this.#child;
    const how = child?.signalCode ? `signal ${child.signalCode}` : `code ${child?.exitCode ?? '?'}`;
    const logs = await this.describeLogs();
    return new MemberExitedError(
      `etcd member ${this.name} (${this.endpoint}) exited with ${how} before it became healthy\n${logs}`,
      logs.includes('address already in use'),
    );
  }
}
