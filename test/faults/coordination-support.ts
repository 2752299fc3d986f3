/**
 * Shared pieces of the lock and election scenarios (RELIABILITY 8.D): lock contenders in their
 * own processes (coordination-worker.ts), whose reports arrive as JSON lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./coordination-worker.ts', import.meta.url));

/** One line a worker reported: `event`, its wall-clock time `at` (epoch ms), and the event's fields. */
export interface WorkerEvent {
  event: string;
  at: number;
  [field: string]: unknown;
}

/** A running worker process. */
export class Worker {
  readonly events: WorkerEvent[] = [];
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #stderr = '';
  readonly #waiters = new Set<() => void>();

  constructor(config: Record<string, unknown>) {
    this.#child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        this.events.push(JSON.parse(buffered.slice(0, newline)) as WorkerEvent);
        buffered = buffered.slice(newline + 1);
      }
      for (const wake of this.#waiters) wake();
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    void this.exited.then(() => {
      for (const wake of this.#waiters) wake();
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** The first reported `event` (waiting up to `timeoutMs` for it). */
  async next(event: string, timeoutMs: number): Promise<WorkerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.event === event);
      if (found) return found;
      if (this.#child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`worker ${this.pid} did not report ${event} (exit ${this.#child.exitCode}): ${this.#stderr.slice(-2_000)}`);
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
        this.#waiters.add(done);
      });
    }
  }

  /** Sends a signal to the worker (SIGSTOP, SIGCONT, SIGKILL). */
  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Ends the worker if it still runs (SIGCONT first, in case it is stopped) and waits for it. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGCONT');
      this.#child.kill('SIGKILL');
    }
    await this.exited;
  }
}
