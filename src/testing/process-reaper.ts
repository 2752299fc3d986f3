const livePids = new Set<number>();
let installed = false;

/**
 * Signals that end a test process without running `exit` listeners. Vitest, for one, stops its
 * worker processes with SIGTERM.
 */
const FATAL_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

function killAllSync(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  livePids.clear();
}

function onFatalSignal(signal: NodeJS.Signals): void {
  killAllSync();
  // With no other listener, do what the signal would have done without ours.
  if (process.listenerCount(signal) === 1) {
    process.off(signal, onFatalSignal);
    process.kill(process.pid, signal);
  }
}

/**
 * Records a child this module started, so the safety net can SIGKILL it if the test process
 * ends without closing it: at `exit`, and on SIGTERM, SIGINT or SIGHUP (after which the signal
 * takes its default effect unless the process has its own listener for it). The net is
 * installed once, on first use.
 *
 * @internal
 */
export function trackPid(pid: number): void {
  if (!installed) {
    installed = true;
    process.on('exit', killAllSync);
    for (const signal of FATAL_SIGNALS) process.on(signal, onFatalSignal);
  }
  livePids.add(pid);
}

/** Forgets a child that has exited, so a recycled pid is never signalled. @internal */
export function untrackPid(pid: number): void {
  livePids.delete(pid);
}
