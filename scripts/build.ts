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
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
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

function declarations(out: string): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(out, 'types')], { stdio: 'inherit', cwd: root });
  if (run.status !== 0) throw new Error(`tsc (declarations) failed with exit code ${run.status}`);
  // The same declarations for `require`: in a folder that says CommonJS, so a CommonJS app's
  // TypeScript (module NodeNext) reads them as CommonJS, as it loads dist/*.cjs.
  cpSync(join(out, 'types'), join(out, 'types-cjs'), { recursive: true });
  writeJson(join(out, 'types-cjs', 'package.json'), { type: 'commonjs' });
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/**
 * Moves the staged build into dist/ one file at a time (a rename replaces a file atomically),
 * then removes what the build no longer makes. A process reading dist/ meanwhile (a test run
 * beside another, `cdk synth` of the example) never sees a missing or half-written file.
 */
function publish(staged: string): void {
  const made = new Set(filesUnder(staged));
  for (const file of made) {
    mkdirSync(dirname(join(dist, file)), { recursive: true });
    renameSync(join(staged, file), join(dist, file));
  }
  for (const file of filesUnder(dist)) if (!made.has(file)) rmSync(join(dist, file), { force: true });
}

export async function buildPackage(options: { types?: boolean } = {}): Promise<void> {
  const staged = mkdtempSync(join(root, '.dist-staging-'));
  try {
    await buildInto(staged, options);
    publish(staged);
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
}

async function buildInto(out: string, options: { types?: boolean }): Promise<void> {
  await Promise.all([
    bundleLambdas(join(out, 'lambdas')),
    build({ ...library, entryPoints: entries, outdir: out, format: 'esm', splitting: true, chunkNames: 'chunks/[name]-[hash]' }),
    build({ ...library, ...importMetaUrlInCjs, entryPoints: entries, outdir: out, format: 'cjs', outExtension: { '.js': '.cjs' } }),
    build({
      ...library,
      // rotor-publish-assets: the Organizations member stack's assets to their buckets (README, "Many accounts").
      entryPoints: { rotor: join(root, 'bin', 'rotor.ts'), 'rotor-publish-assets': join(root, 'scripts', 'publish-assets.ts') },
      outdir: join(out, 'bin'),
      format: 'esm',
      // Each command's code (and its SDK clients) is a chunk loaded when the command runs,
      // so `rotor --help` loads commander and the option definitions only.
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      banner: { js: '#!/usr/bin/env node' },
    }),
  ]);
  chmodSync(join(out, 'bin', 'rotor.js'), 0o755);
  chmodSync(join(out, 'bin', 'rotor-publish-assets.js'), 0o755);
  if (options.types ?? true) declarations(out);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await buildPackage({ types: !process.argv.includes('--no-types') });
}
