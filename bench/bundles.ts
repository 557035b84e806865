/**
 * The bundles part of `npm run bench` (BENCH_ONLY=bundles): every Lambda entry bundled with the
 * package build's own esbuild options (scripts/lambda-bundles.ts), its minified size,
 * and its cold init: a fresh `node` process `require()`s the bundle, as Lambda's runtime does for
 * CommonJS, timed inside that process; the median of RUNS processes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAMBDA_BUNDLES } from '../lib/lambda-assets.js';
import { KIND_NAMES } from '../lambdas/contract/index.js';
import { bundleLambda, lambdaBundleOptions } from '../scripts/lambda-bundles.js';

/** Fresh processes per bundle. */
const RUNS = Number(process.env.BENCH_BUNDLE_RUNS ?? 10);
/** The bounds: every bundle, and the cold init of every rotation function. */
export const bundleLimits = { maxKiB: 500, maxColdInitMs: 90 } as const;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
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
  try {
    const built: Array<{ name: string; rotation: boolean; file: string; bytes: number; times: number[] }> = [];
    for (const name of LAMBDA_BUNDLES) {
      const rotation = (KIND_NAMES as readonly string[]).includes(name);
      const file = await bundleLambda(name, join(dir, name));
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
          source_map: Boolean(lambdaBundleOptions().sourcemap),
          cold_require_median_ms: coldMs,
          cold_require_min_ms: Number(Math.min(...times).toFixed(1)),
          runs: RUNS,
          within_size: kib <= bundleLimits.maxKiB,
          ...(rotation ? { within_cold_init: coldMs <= bundleLimits.maxColdInitMs } : {}),
          conditions: `node ${process.version}, ${cpus().length} cores, esbuild options of scripts/lambda-bundles.ts, require() timed inside a fresh process`,
        }),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
