import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Proves what a user installing the package gets (STYLE habits 2 and 4): `npm run build` emits
// ESM and CJS, both entry points load through the `exports` map by name, the error classes
// keep `instanceof` across the two copies, and the public declarations never show `Long`.

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PUBLIC_VALUES = ['Etcd', 'Range', 'Compare', 'Op', 'EtcdError', 'InvalidArgumentError'];
const TESTING_VALUES = ['startEtcd', 'startEtcdCluster', 'startFaultProxy'];

/** What each probe script prints as one JSON line. */
interface ProbeReport {
  format: 'esm' | 'cjs';
  main: Record<string, string>;
  testing: Record<string, string>;
  copiesDiffer: boolean;
  /** The error a CommonJS client threw, checked against the ESM classes. */
  cjsErrorIsEsmEtcdError: boolean;
  cjsErrorIsEsmInvalidArgument: boolean;
  /** The error an ESM client threw, checked against the CommonJS classes. */
  esmErrorIsCjsEtcdError: boolean;
  esmErrorIsCjsInvalidArgument: boolean;
  errorName: string;
  errorCode: string;
}

// Both probes load the package by name from a directory outside the project, the way a user
// does, and load the other module format too, so the dual-package hazard is real in-process.
const probeBody = (format: 'esm' | 'cjs'): string => `
const names = ${JSON.stringify({ main: PUBLIC_VALUES, testing: TESTING_VALUES })};
const kinds = (mod, list) => Object.fromEntries(list.map((name) => [name, typeof mod[name]]));
const thrown = (mod) => {
  try {
    new mod.Etcd({ endpoints: ['bad endpoint'] });
  } catch (error) {
    return error;
  }
  throw new Error('new Etcd({ endpoints: ["bad endpoint"] }) did not throw');
};
const cjsError = thrown(cjs);
const esmError = thrown(esm);
console.log(JSON.stringify({
  format: '${format}',
  main: kinds(${format}, names.main),
  testing: kinds(${format}Testing, names.testing),
  copiesDiffer: cjs.EtcdError !== esm.EtcdError && cjs.Etcd !== esm.Etcd,
  cjsErrorIsEsmEtcdError: cjsError instanceof esm.EtcdError,
  cjsErrorIsEsmInvalidArgument: cjsError instanceof esm.InvalidArgumentError,
  esmErrorIsCjsEtcdError: esmError instanceof cjs.EtcdError,
  esmErrorIsCjsInvalidArgument: esmError instanceof cjs.InvalidArgumentError,
  errorName: ${format}Error.name,
  errorCode: ${format}Error.code,
}));
`;

const ESM_PROBE = `import { createRequire } from 'node:module';
const esm = await import('etcdkit');
const esmTesting = await import('etcdkit/testing');
const require = createRequire(import.meta.url);
const cjs = require('etcdkit');
${probeBody('esm')}`;

const CJS_PROBE = `'use strict';
(async () => {
  const cjs = require('etcdkit');
  const cjsTesting = require('etcdkit/testing');
  const esm = await import('etcdkit');
  ${probeBody('cjs')}
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

async function probe(dir: string, file: string): Promise<ProbeReport> {
  const { stdout } = await run(process.execPath, [file], { cwd: dir, timeout: 30_000 });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ProbeReport;
}

/** Every `.d.ts` under `dir`, recursively. */
async function declarationFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.d.ts')).map((e) => join(e.parentPath, e.name));
}

const stripComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

/**
 * The top-level declarations named `name` in a `.d.ts` file, each up to the next top-level
 * statement (tsc writes one statement per top-level line, continuations indented or starting
 * with a closing bracket or a union/intersection operator).
 */
function declarationsOf(text: string, name: string): string[] {
  const lines = stripComments(text).split('\n');
  const start = new RegExp(
    String.raw`^(export )?(default )?(declare )?(abstract )?(class|interface|type|function|const|let|var|enum|namespace) ${name}\b`,
  );
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!start.test(lines[i]!)) continue;
    let end = i + 1;
    while (end < lines.length && !/^[A-Za-z@]/.test(lines[end]!)) end++;
    blocks.push(lines.slice(i, end).join('\n'));
  }
  return blocks;
}

/** `import`/`export … from` clauses of a `.d.ts`: local name → [module specifier, imported name]. */
function importsOf(text: string): Map<string, [string, string]> {
  const found = new Map<string, [string, string]>();
  for (const match of stripComments(text).matchAll(/^(?:import|export)(?: type)? \{([^}]*)\} from '([^']+)';/gm)) {
    for (const part of match[1]!.split(',')) {
      const [imported, local] = part.replace(/^\s*type\s+/, '').trim().split(/\s+as\s+/);
      if (imported) found.set(local ?? imported, [match[2]!, imported]);
    }
  }
  return found;
}

/**
 * Walks from the names `dist/esm/index.d.ts` exports to every declaration they mention, through
 * relative imports outside `generated/`, and returns the declarations that mention `Long`.
 */
async function longInPublicDeclarations(esmDir: string): Promise<string[]> {
  const cache = new Map<string, string>();
  const read = async (file: string): Promise<string> => {
    let text = cache.get(file);
    if (text === undefined) {
      text = await readFile(file, 'utf8');
      cache.set(file, text);
    }
    return text;
  };
  const offending: string[] = [];
  const seen = new Set<string>();
  const queue: [string, string][] = [];
  const indexFile = join(esmDir, 'index.d.ts');
  for (const [, [specifier, imported]] of importsOf(await read(indexFile))) {
    queue.push([resolve(esmDir, specifier.replace(/\.js$/, '.d.ts')), imported]);
  }
  while (queue.length > 0) {
    const [file, name] = queue.pop()!;
    const key = `${file}#${name}`;
    if (seen.has(key) || relative(esmDir, file).startsWith('generated')) continue;
    seen.add(key);
    const text = await read(file);
    const blocks = declarationsOf(text, name);
    const imports = importsOf(text);
    for (const block of blocks) {
      if (/\bLong\b/.test(block)) offending.push(`${relative(esmDir, file)}: ${name}`);
      for (const match of block.matchAll(/\bimport\('(\.[^']+)'\)\.([\w$]+)/g)) {
        queue.push([resolve(dirname(file), match[1]!.replace(/\.js$/, '.d.ts')), match[2]!]);
      }
      for (const [identifier] of block.matchAll(/\b[A-Za-z_$][\w$]*\b/g)) {
        const imported = imports.get(identifier);
        if (imported && imported[0].startsWith('.')) {
          queue.push([resolve(dirname(file), imported[0].replace(/\.js$/, '.d.ts')), imported[1]]);
        } else if (identifier !== name && declarationsOf(text, identifier).length > 0) {
          queue.push([file, identifier]);
        }
      }
    }
  }
  return offending.sort();
}

describe('package', () => {
  let temp: string;

  beforeAll(async () => {
    await run('npm', ['run', 'build'], { cwd: root, timeout: 110_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
    temp = await mkdtemp(join(tmpdir(), 'etcdkit-package-'));
    await mkdir(join(temp, 'node_modules'));
    await symlink(root, join(temp, 'node_modules', 'etcdkit'), 'dir');
    await writeFile(join(temp, 'probe.mjs'), ESM_PROBE);
    await writeFile(join(temp, 'probe.cjs'), CJS_PROBE);
  }, 120_000);

  afterAll(async () => {
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  it('exports exactly "." and "./testing"', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(Object.keys(manifest.exports).sort()).toEqual(['.', './testing']);
  });

  it('builds a CommonJS tree marked as such', async () => {
    expect(JSON.parse(await readFile(join(root, 'dist/cjs/package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
  });

  it.each([
    ['esm', 'probe.mjs'],
    ['cjs', 'probe.cjs'],
  ] as const)('loads by name as %s, and errors keep instanceof across the two copies', async (format, file) => {
    const report = await probe(temp, file);
    expect(report.format).toBe(format);
    expect(report.main).toEqual({
      Etcd: 'function',
      Range: 'function',
      Compare: 'function',
      Op: 'function',
      EtcdError: 'function',
      InvalidArgumentError: 'function',
    });
    expect(report.testing).toEqual({ startEtcd: 'function', startEtcdCluster: 'function', startFaultProxy: 'function' });
    expect(report.copiesDiffer).toBe(true);
    expect(report.errorName).toBe('InvalidArgumentError');
    expect(report.errorCode).toBe('INVALID_ARGUMENT');
    expect(report.cjsErrorIsEsmEtcdError).toBe(true);
    expect(report.cjsErrorIsEsmInvalidArgument).toBe(true);
    expect(report.esmErrorIsCjsEtcdError).toBe(true);
    expect(report.esmErrorIsCjsInvalidArgument).toBe(true);
  });

  it('ships declarations for both formats', async () => {
    for (const format of ['esm', 'cjs']) {
      const files = (await declarationFiles(join(root, 'dist', format))).map((file) => relative(join(root, 'dist', format), file));
      expect(files).toContain('index.d.ts');
      expect(files).toContain(join('testing', 'index.d.ts'));
    }
  });

  it('never shows Long in the declarations reachable from the public entry point', async () => {
    expect(await longInPublicDeclarations(join(root, 'dist/esm'))).toEqual([]);
  });

  it('finds Long when a public declaration does show it (the check itself works)', async () => {
    const dir = await mkdtemp(join(temp, 'long-'));
    await mkdir(join(dir, 'kv'));
    await writeFile(join(dir, 'index.d.ts'), "export { Leaky } from './kv/leaky.js';\nexport type { Fine } from './kv/leaky.js';\n");
    await writeFile(
      join(dir, 'kv', 'leaky.d.ts'),
      [
        "import Long from 'long';",
        "import { Base } from './base.js';",
        'export interface Fine {',
        '    revision: bigint;',
        '}',
        'export declare class Leaky extends Base {',
        '    get(): Fine;',
        '}',
        'export declare function internalHelper(value: Long): bigint;',
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'kv', 'base.d.ts'), "import Long from 'long';\nexport declare class Base {\n    revision: Long;\n}\n");
    expect(await longInPublicDeclarations(dir)).toEqual([join('kv', 'base.d.ts: Base')]);
  });
});
