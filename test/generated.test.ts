// src/generated must be exactly what `buf generate` makes from proto/ with the committed
// buf.gen.yaml. The generation runs in a scratch copy of the config and protos, so the
// template's `clean: true` can only ever delete inside the scratch directory.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'node_modules', '.bin');

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

describe('generated code', () => {
  it('src/generated matches a fresh `buf generate` of proto/', { timeout: 60_000 }, () => {
    const scratch = mkdtempSync(join(tmpdir(), 'etcdkit-gen-'));
    try {
      for (const name of ['buf.yaml', 'buf.gen.yaml', 'proto']) {
        cpSync(join(root, name), join(scratch, name), { recursive: true });
      }
      execFileSync(join(bin, 'buf'), ['generate'], {
        cwd: scratch,
        env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 50_000,
      });

      const fresh = join(scratch, 'src', 'generated');
      const committed = join(root, 'src', 'generated');
      const freshFiles = listFiles(fresh);
      const committedFiles = listFiles(committed);
      expect(freshFiles.length).toBeGreaterThan(0);
      const missing = freshFiles.find((f) => !committedFiles.includes(f));
      const extra = committedFiles.find((f) => !freshFiles.includes(f));
      expect(missing, `src/generated/${missing ?? ''} is missing; run \`npm run generate\``).toBeUndefined();
      expect(extra, `src/generated/${extra ?? ''} is not produced by generation; run \`npm run generate\``).toBeUndefined();

      const firstDiff = freshFiles.find(
        (f) => !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))),
      );
      expect(firstDiff, `src/generated/${firstDiff ?? ''} differs from a fresh generation; run \`npm run generate\``).toBeUndefined();
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
