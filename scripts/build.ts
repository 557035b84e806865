/**
 * The package build (`npm run build`, and `prepack`): everything a consumer's `npm install rotor`
 * gets, into dist/.
 *
 *   dist/lambdas/<name>/index.js   the Lambda bundles, built once here (scripts/lambda-bundles.ts)
 *   dist/index.js, dist/client.js  the constructs and the client library as ES modules (+ chunks/)
 *   dist/index.cjs, dist/client.cjs   the same as CommonJS (the default `cdk init` app)
 *   dist/bin/rotor.js              the CLI, `#!/usr/bin/env node`, commands loaded on first use
 *   dist/types/, dist/types-cjs/   declarations (tsc), once per module format
 *
 * The library and CLI builds leave every package import to node_modules (`packages: external`):
 * aws-cdk-lib and constructs are the app's own (peer dependencies), the rest are dependencies.
 * `--no-types` skips the declarations (the test suite's setup: it needs the JavaScript only).
 */
import { build, type BuildOptions } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../lib/package-root.js';
import { bundleLambdas } from './lambda-bundles.js';

const root = packageRoot();
const dist = join(root, 'dist');

const library: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  legalComments: 'none',
  logLevel: 'warning',
};

/** The library's entries: `rotor` and `rotor/client` (package.json `exports`). */
const entries = { index: join(root, 'lib', 'index.ts'), client: join(root, 'client', 'index.ts') };

/** A CommonJS file has no import.meta: the sources' `import.meta.url` becomes the file's own URL. */
const importMetaUrlInCjs: BuildOptions = {
  define: { 'import.meta.url': '__rotorImportMetaUrl' },
  banner: { js: 'const __rotorImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
};

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function declarations(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  if (run.status !== 0) throw new Error(`tsc (declarations) failed with exit code ${run.status}`);
  // The same declarations for `require`: in a folder that says CommonJS, so a CommonJS app's
  // TypeScript (module NodeNext) reads them as CommonJS, as it loads dist/*.cjs.
  cpSync(join(dist, 'types'), join(dist, 'types-cjs'), { recursive: true });
  writeJson(join(dist, 'types-cjs', 'package.json'), { type: 'commonjs' });
}

export async function buildPackage(options: { types?: boolean } = {}): Promise<void> {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  await Promise.all([
    bundleLambdas(),
    build({ ...library, entryPoints: entries, outdir: dist, format: 'esm', splitting: true, chunkNames: 'chunks/[name]-[hash]' }),
    build({ ...library, ...importMetaUrlInCjs, entryPoints: entries, outdir: dist, format: 'cjs', outExtension: { '.js': '.cjs' } }),
    build({
      ...library,
      entryPoints: { rotor: join(root, 'bin', 'rotor.ts') },
      outdir: join(dist, 'bin'),
      format: 'esm',
      // Each command's code (and its SDK clients) is a chunk loaded when the command runs,
      // so `rotor --help` loads commander and the option definitions only.
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      banner: { js: '#!/usr/bin/env node' },
    }),
  ]);
  chmodSync(join(dist, 'bin', 'rotor.js'), 0o755);
  if (options.types ?? true) declarations();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await buildPackage({ types: !process.argv.includes('--no-types') });
}
