/**
 * The CLI part of `npm run bench` (BENCH_ONLY=cli): wall time of `rotor --help` and `rotor
 * --version` as an installed package runs them (plain node on dist/bin/rotor.js, no tsx), from
 * process start to exit, the median of RUNS fresh processes. Builds the package first when
 * dist/ has no CLI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.js';
import { buildPackage } from '../scripts/build.js';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 10);
/** The bound for `rotor --help` on this machine. */
export const cliLimits = { maxHelpMs: 300 } as const;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function runCliBench(): Promise<void> {
  const bin = join(packageRoot(), 'dist', 'bin', 'rotor.js');
  if (!existsSync(bin)) await buildPackage({ types: false });
  const nodeAlone: number[] = [];
  for (const args of [['--help'], ['--version'], ['status', '--help']]) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      const run = spawnSync(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
      times.push(performance.now() - started);
      if (run.status !== 0) throw new Error(`rotor ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
      if (args[0] === '--help') {
        const t = performance.now();
        spawnSync(process.execPath, ['-e', '0']);
        nodeAlone.push(performance.now() - t);
      }
    }
    const ms = Number(median(times).toFixed(1));
    console.log(
      JSON.stringify({
        figure: 'cli',
        command: `rotor ${args.join(' ')}`,
        wall_median_ms: ms,
        wall_min_ms: Number(Math.min(...times).toFixed(1)),
        node_alone_median_ms: Number(median(nodeAlone).toFixed(1)),
        runs: RUNS,
        ...(args[0] === '--help' ? { within_limit: ms <= cliLimits.maxHelpMs } : {}),
        conditions: `node ${process.version} on dist/bin/rotor.js (no tsx), ${cpus().length} cores, process start to exit`,
      }),
    );
  }
}
