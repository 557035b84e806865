/**
 * The bundles part of `npm run bench` (BENCH_ONLY=bundles): every Lambda entry bundled with the
 * constructs' own esbuild options (lib/rotor-function.ts `rotorBundling`), its minified size,
 * and its cold init: a fresh `node` process `require()`s the bundle, as Lambda's runtime does for
 * CommonJS, timed inside that process; the median of RUNS processes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { KIND_NAMES } from '../lambdas/contract/index.js';
import { LambdaEntries } from '../lib/lambda-entries.js';
import { rotorBundling } from '../lib/rotor-function.js';

/** Fresh processes per bundle. */
const RUNS = Number(process.env.BENCH_BUNDLE_RUNS ?? 10);
/** The bounds: every bundle, and the cold init of every rotation function. */
export const bundleLimits = { maxKiB: 500, maxColdInitMs: 90 } as const;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** esbuild's `alias` option from the constructs' `--alias:<package>` arguments. */
function aliasesOf(args: Record<string, string | boolean>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(args).flatMap(([key, value]) => (key.startsWith('--alias:') ? [[key.slice('--alias:'.length), String(value)]] : [])),
  );
}

/** Bundles `entry` as the constructs do (same esbuild options) into `outfile`. */
export async function bundleLikeTheConstructs(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: `${rotorBundling.format}`,
    target: rotorBundling.target,
    minify: rotorBundling.minify,
    sourcemap: rotorBundling.sourceMap,
    mainFields: rotorBundling.mainFields,
    external: rotorBundling.externalModules,
    alias: aliasesOf(rotorBundling.esbuildArgs),
    logLevel: 'warning',
  });
}

/** Milliseconds one fresh node process takes to `require()` the bundle. */
function coldRequireMs(file: string): number {
  const script = `const t = performance.now(); require(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
  // A clean environment: no NODE_OPTIONS (tsx's loader) and no AWS settings of this machine.
  const run = spawnSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`require(${file}) failed: ${run.stderr}`);
  return Number(run.stdout);
}

export async function runBundleBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bundles-'));
  const entries: Array<{ name: string; entry: string; rotation: boolean }> = [
    ...KIND_NAMES.map((kind) => ({ name: kind, entry: LambdaEntries.rotation(kind), rotation: true })),
    { name: 'emergency', entry: LambdaEntries.emergency, rotation: false },
    { name: 'retire', entry: LambdaEntries.retire, rotation: false },
  ];
  try {
    const built: Array<{ name: string; rotation: boolean; file: string; bytes: number; times: number[] }> = [];
    for (const { name, entry, rotation } of entries) {
      const file = join(dir, `${name}.js`);
      await bundleLikeTheConstructs(entry, file);
      built.push({ name, rotation, file, bytes: statSync(file).size, times: [] });
    }
    // Round-robin, so that a burst of load on the machine spreads over every bundle.
    for (let run = 0; run < RUNS; run++) for (const b of built) b.times.push(coldRequireMs(b.file));
    for (const { name, rotation, bytes, times } of built) {
      const kib = Number((bytes / 1024).toFixed(1));
      const coldMs = Number(median(times).toFixed(1));
      console.log(
        JSON.stringify({
          figure: 'bundle',
          entry: name,
          bytes,
          kib,
          source_map: rotorBundling.sourceMap,
          cold_require_median_ms: coldMs,
          cold_require_min_ms: Number(Math.min(...times).toFixed(1)),
          runs: RUNS,
          within_size: kib <= bundleLimits.maxKiB,
          ...(rotation ? { within_cold_init: coldMs <= bundleLimits.maxColdInitMs } : {}),
          conditions: `node ${process.version}, ${cpus().length} cores, esbuild options of lib/rotor-function.ts, require() timed inside a fresh process`,
        }),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
