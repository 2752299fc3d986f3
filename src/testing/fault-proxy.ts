import { spawn, type ChildProcess } from 'node:child_process';
import { waitForExit } from './child-exit.js';
import { faultProxyMain, type FaultProxyChildConfig } from './fault-proxy-main.js';
import { httpRequest } from './http-request.js';
import { trackPid, untrackPid } from './process-reaper.js';

const START_TIMEOUT_MS = 10_000;
const CONTROL_TIMEOUT_MS = 5_000;

/**
 * How the proxy treats connections:
 * - `normal`: forward both ways.
 * - `refuse`: reset new connections right after accept (existing ones were cut).
 * - `hold`: accept, but dial the target only once the mode leaves `hold`.
 * - `freeze`: stop reading both sides; sockets stay open and TCP backpressure builds up.
 * - `blackhole`: keep reading both sides but drop the bytes; sockets stay up.
 */
export type FaultProxyMode = 'normal' | 'refuse' | 'hold' | 'freeze' | 'blackhole';

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Where to forward, as `host:port`, such as an etcd member's `endpoint`. */
  target: string;
  /** Port to listen on, on 127.0.0.1. @defaultValue 0, a free port */
  listenPort?: number;
  /** Delay added to every chunk, each way. @defaultValue 0 */
  delayMs?: number;
}

/** Counters and state of a {@link FaultProxy}, as the child reports them. */
export interface FaultProxyStats {
  mode: FaultProxyMode;
  delayMs: number;
  /** Connections accepted so far, refused ones included. */
  accepted: number;
  /** Connections reset at accept in `refuse` mode. */
  refused: number;
  /** Connections dropped because their sender is blocked ({@link FaultProxy.blockSenders}). */
  blocked: number;
  /** The etcd member IDs (hex) whose connections are dropped. */
  blockedSenders: string[];
  /** Connection pairs open now, held ones included. */
  live: number;
  /** Connections accepted in `hold` mode and not yet dialled through. */
  held: number;
  /** Bytes read from clients, forwarded or not. */
  bytesFromClient: number;
  /** Bytes written to the target. */
  bytesToServer: number;
  /** Bytes read from the target, forwarded or not. */
  bytesFromServer: number;
  /** Bytes written to clients. */
  bytesToClient: number;
}

/**
 * A TCP proxy that injects client-side network faults, running as its own node process so a
 * paused or busy test process does not change its timing. Every control call resolves once
 * the child has applied it.
 */
export class FaultProxy {
  /** Address clients should use instead of the target: `127.0.0.1:port`. */
  readonly endpoint: string;
  /** Where the proxy forwards to, as given. */
  readonly target: string;
  readonly #child: ChildProcess;
  readonly #controlUrl: string;
  #closing: Promise<void> | undefined;

  /** @internal */
  constructor(child: ChildProcess, target: string, listenPort: number, controlPort: number) {
    this.#child = child;
    this.target = target;
    this.endpoint = `127.0.0.1:${listenPort}`;
    this.#controlUrl = `http://127.0.0.1:${controlPort}`;
  }

  /** The proxy process id, or `undefined` once it exited. */
  get pid(): number | undefined {
    return this.#child.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined;
  }

  /** Destroys every live connection pair now, then accepts and forwards as in `normal`. */
  async cut(): Promise<FaultProxyStats> {
    return this.#control('/mode?mode=cut');
  }

  /** Cuts every live connection and resets new ones at accept until {@link FaultProxy.heal}. */
  async refuse(): Promise<FaultProxyStats> {
    return this.#control('/mode?mode=refuse');
  }

  /** Accepts new connections without dialling the target until the mode changes. */
  async hold(): Promise<FaultProxyStats> {
    return this.#control('/mode?mode=hold');
  }

  /** Stops reading on both sides of every connection, new ones included. */
  async freeze(): Promise<FaultProxyStats> {
    return this.#control('/mode?mode=freeze');
  }

  /** Keeps reading on both sides but discards the bytes; the sockets stay up. */
  async blackhole(): Promise<FaultProxyStats> {
    return this.#control('/mode?mode=blackhole');
  }

  /** Back to `normal`: held connections are dialled and frozen ones resume. Keeps the delay. */
  async heal(): Promise<FaultProxyStats> {
    return this.#control('/mode?mode=normal');
  }

  /**
   * Drops every connection, open or new, that an etcd member with one of these IDs opened (hex,
   * as etcd's raft traffic names its sender in the `X-Server-From` header); `[]` lets all
   * through again. Placed in front of a member's peer port, this cuts the links from those
   * members in both directions, since raft streams run over connections their reader opened.
   */
  async blockSenders(memberIds: readonly string[]): Promise<FaultProxyStats> {
    if (memberIds.some((id) => !/^[0-9a-f]+$/i.test(id))) {
      throw new RangeError(`member IDs must be hex, got ${memberIds.join(', ')}`);
    }
    return this.#control(`/block-senders?ids=${memberIds.join(',')}`);
  }

  /** Sets the delay added to every chunk, each way; 0 turns it off. */
  async setDelay(ms: number): Promise<FaultProxyStats> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay ms must be a non-negative number, got ${ms}`);
    return this.#control(`/delay?ms=${ms}`);
  }

  /** The current mode and counters. */
  async stats(): Promise<FaultProxyStats> {
    return this.#control('/stats', 'GET');
  }

  /** Kills the proxy process, which drops every connection through it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@link FaultProxy.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const child = this.#child;
    child.stdin?.end();
    child.kill('SIGKILL');
    if (!(await waitForExit(child, 5_000))) throw new Error(`fault proxy (pid ${child.pid}) did not exit after SIGKILL`);
  }

  async #control(path: string, method = 'POST'): Promise<FaultProxyStats> {
    if (this.pid === undefined) throw new Error(`fault proxy for ${this.target} is not running`);
    const reply = await httpRequest(`${this.#controlUrl}${path}`, { method, timeoutMs: CONTROL_TIMEOUT_MS });
    if (reply.status !== 200) throw new Error(`fault proxy control ${path} failed: ${reply.body}`);
    return JSON.parse(reply.body) as FaultProxyStats;
  }
}

function childScript(config: FaultProxyChildConfig): string {
  // Transpilers that keep function names (esbuild and tsx with keepNames) wrap inner functions
  // in a module-level `__name` helper, which the child would not have.
  const keepNamesShim = 'var __name = (target) => target;';
  return `${keepNamesShim}\n(${faultProxyMain.toString()})(require, ${JSON.stringify(config)});`;
}

function parseTarget(target: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(target);
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`target must be host:port, got "${target}"`);
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * Starts a {@link FaultProxy} in front of `target` and resolves once it listens.
 *
 * @example
 * ```ts
 * await using proxy = await startFaultProxy({ target: etcd.endpoint });
 * const client = new Etcd({ endpoints: [proxy.endpoint] });
 * await proxy.cut();
 * ```
 * @throws Error when `target` is not `host:port` or the child does not come up within 10 s.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { host, port } = parseTarget(options.target);
  const config: FaultProxyChildConfig = {
    targetHost: host,
    targetPort: port,
    listenPort: options.listenPort ?? 0,
    delayMs: options.delayMs ?? 0,
  };
  const child = spawn(process.execPath, ['-e', childScript(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.on('error', () => {
    // Surfaces as the exit that follows, or as the start timeout.
  });
  const pid = child.pid;
  if (pid !== undefined) {
    trackPid(pid);
    child.once('exit', () => untrackPid(pid));
  }
  try {
    const ports = await readPorts(child);
    // Neither the child nor its pipes may keep the test process alive; stdin stays open,
    // since its end is what tells the child to exit.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
    return new FaultProxy(child, options.target, ports.listenPort, ports.controlPort);
  } catch (error) {
    child.kill('SIGKILL');
    await waitForExit(child, 5_000);
    throw error;
  }
}

function readPorts(child: ChildProcess): Promise<{ listenPort: number; controlPort: number }> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const finish = (error?: Error, ports?: { listenPort: number; controlPort: number }): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onStdout);
      child.off('exit', onExit);
      if (error) reject(error);
      else if (ports) resolve(ports);
    };
    const onStdout = (chunk: Buffer): void => {
      stdout += chunk.toString('utf8');
      const newline = stdout.indexOf('\n');
      if (newline === -1) return;
      try {
        finish(undefined, JSON.parse(stdout.slice(0, newline)) as { listenPort: number; controlPort: number });
      } catch (error) {
        finish(new Error(`fault proxy printed an unexpected line: ${stdout.slice(0, newline)}`, { cause: error }));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      finish(new Error(`fault proxy exited with ${signal ?? `code ${code}`} before listening: ${stderr.trim()}`));
    };
    const timer = setTimeout(
      () => finish(new Error(`fault proxy did not report its ports within ${START_TIMEOUT_MS} ms: ${stderr.trim()}`)),
      START_TIMEOUT_MS,
    );
    child.stdout?.on('data', onStdout);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
    });
    child.once('exit', onExit);
  });
}
