const livePids = new Set<number>();
let installed = false;

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

/**
 * Records a child this module started, so the `exit` safety net can SIGKILL it if the test
 * process ends without closing it. The handler is installed once, on first use.
 *
 * @internal
 */
export function trackPid(pid: number): void {
  if (!installed) {
    installed = true;
    process.on('exit', killAllSync);
  }
  livePids.add(pid);
}

/** Forgets a child that has exited, so a recycled pid is never signalled. @internal */
export function untrackPid(pid: number): void {
  livePids.delete(pid);
}
