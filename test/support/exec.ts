import { spawn, type SpawnOptions } from 'node:child_process';

export interface Exited {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A child process run to its end without blocking the test worker. The suite's long commands
 * (cdk synth, npm install, tsc) used execFileSync/spawnSync: a worker blocked for a minute misses
 * vitest's own RPC deadline ("[vitest-worker]: Timeout calling onTaskUpdate", an unhandled error
 * that fails the run) and cannot time the test out either. Bounded by `timeoutMs` (SIGKILL).
 */
export function exec(cmd: string, args: readonly string[], options: SpawnOptions & { timeoutMs: number }): Promise<Exited> {
  const { timeoutMs, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.once('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** `exec`, failing with the command's output when it does not exit 0. */
export async function execOk(cmd: string, args: readonly string[], options: SpawnOptions & { timeoutMs: number }): Promise<string> {
  const result = await exec(cmd, args, options);
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${result.status}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}
