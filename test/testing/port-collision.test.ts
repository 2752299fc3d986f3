import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEtcdBinary, startEtcd } from 'etcdkit/testing';

/**
 * A stand-in binary that fails its first `failures` starts the way etcd does when its port is
 * taken (a zap line saying "address already in use", exit 1), then runs the real etcd.
 */
async function collidingEtcd(dir: string, failures: number): Promise<{ binary: string; starts: () => Promise<number> }> {
  const realEtcd = await findEtcdBinary();
  const counter = join(dir, `starts-${failures}`);
  const binary = join(dir, `etcd-colliding-${failures}`);
  await writeFile(
    binary,
    `#!/bin/sh
n=$(cat '${counter}' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '${counter}'
if [ $n -le ${failures} ]; then
  prev=''; for arg in "$@"; do [ "$prev" = --log-outputs ] && log=$arg; prev=$arg; done
  echo '{"level":"fatal","msg":"discovery failed","error":"listen tcp 127.0.0.1:1: bind: address already in use"}' > "$log"
  exit 1
fi
exec '${realEtcd}' "$@"
`,
  );
  await chmod(binary, 0o755);
  return { binary, starts: async () => Number(await readFile(counter, 'utf8')) };
}

describe('a port taken between probe and start', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'etcdkit-test-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes the start retry on new ports', async () => {
    const fake = await collidingEtcd(dir, 2);
    const etcd = await startEtcd({ binary: fake.binary });
    try {
      expect(await fake.starts()).toBe(3);
      expect(await etcd.health()).toBe(true);
    } finally {
      await etcd.close();
    }
  });

  it('gives up after 3 attempts with the log line in the error', async () => {
    const fake = await collidingEtcd(dir, 10);
    await expect(startEtcd({ binary: fake.binary })).rejects.toThrow(/exited with code 1[\s\S]*address already in use/);
    expect(await fake.starts()).toBe(3);
  });
});
