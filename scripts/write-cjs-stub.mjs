// Marks dist/cjs as CommonJS: the package is "type": "module", so without this stub Node would
// load the second tsc run's .js files as ESM.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'dist', 'cjs');
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
