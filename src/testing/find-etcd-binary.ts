import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

const INSTALL_HINT =
  'Install the Debian package etcd-server (apt-get install etcd-server), ' +
  'or set ETCD_BIN to the path of an etcd binary.';

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the etcd binary the launcher will run: `explicit` if given, else `$ETCD_BIN`, else the
 * first executable `etcd` on `PATH`.
 *
 * @returns the absolute path of the binary.
 * @throws Error naming `ETCD_BIN` and the `etcd-server` package when no executable is found.
 */
export async function findEtcdBinary(explicit?: string): Promise<string> {
  const configured = explicit ?? process.env['ETCD_BIN'];
  if (configured !== undefined && configured !== '') {
    const source = explicit !== undefined ? 'the binary option' : 'ETCD_BIN';
    const candidate = isAbsolute(configured) || configured.includes('/') ? resolve(configured) : undefined;
    if (candidate !== undefined) {
      if (await isExecutable(candidate)) return candidate;
      throw new Error(`etcd binary not found: ${candidate} (from ${source}) is not an executable file. ${INSTALL_HINT}`);
    }
    const onPath = await searchPath(configured);
    if (onPath !== undefined) return onPath;
    throw new Error(`etcd binary not found: "${configured}" (from ${source}) is not on PATH. ${INSTALL_HINT}`);
  }
  const onPath = await searchPath('etcd');
  if (onPath !== undefined) return onPath;
  throw new Error(`etcd binary not found: ETCD_BIN is not set and there is no etcd on PATH. ${INSTALL_HINT}`);
}

async function searchPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = resolve(join(dir, command));
    if (await isExecutable(file)) return file;
  }
  return undefined;
}
