#!/usr/bin/env -S npx tsx
/**
 * `npm run bench`: every part in turn, or one with BENCH_ONLY (bundles, cli, rotation, load,
 * fanout). Each part prints one JSON object per figure on stdout and a short table on stderr.
 * Wall-clock figures depend on this machine and its load; round-trip counts do not.
 *
 * - bundles: each Lambda bundle's size and cold require() time (bench/bundles.ts)
 * - cli: `rotor --help` time (bench/cli.ts)
 * - rotation: latency and round trips per kind and strategy, warm and cold, beside the floor (bench/rotation.ts)
 * - load: requests through rotor/client while rotations run, none may fail (bench/loadBench.ts)
 * - fanout: N leaked secrets rotated and revoked at once under Secrets Manager's quotas (bench/fanout.ts)
 */
import { runBundleBench } from './bundles.js';
import { runCliBench } from './cli.js';
import { runFanoutBench } from './fanout.js';
import { runLoadBench } from './loadBench.js';
import { runRotationBench } from './rotation.js';

const ONLY = process.env.BENCH_ONLY;
const PARTS = ['bundles', 'cli', 'rotation', 'load', 'fanout'] as const;
if (ONLY && !(PARTS as readonly string[]).includes(ONLY)) {
  console.error(`BENCH_ONLY must be one of ${PARTS.join(', ')}, got '${ONLY}'`);
  process.exit(2);
}
const runs = (part: (typeof PARTS)[number]) => ONLY === undefined || ONLY === '' || ONLY === part;
if (runs('bundles')) await runBundleBench();
if (runs('cli')) await runCliBench();
if (runs('rotation')) await runRotationBench();
if (runs('load')) await runLoadBench();
if (runs('fanout')) await runFanoutBench();
