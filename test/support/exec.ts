import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Exited {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/**
 * What a child process printed and how it ended, without blocking the test worker; killed
 * (SIGKILL) after `timeoutMs`. `onStdout` sees the output so far.
 */
export function collectChild(child: ChildProcess, timeoutMs: number, onStdout?: (stdout: string) => void): Promise<Exited> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    // Decoded as a stream: a character split across two chunks stays whole.
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      onStdout?.(stdout);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.once('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr, durationMs: Date.now() - started });
    });
  });
}

/**
 * A command run to its end as an asynchronous child. The suite's long commands (cdk synth, npm
 * install, tsc) used execFileSync/spawnSync: a worker blocked for a minute misses vitest's own RPC
 * deadline ("[vitest-worker]: Timeout calling onTaskUpdate", an unhandled error that fails the
 * run) and cannot time the test out either.
 */
export function exec(cmd: string, args: readonly string[], options: SpawnOptions & { timeoutMs: number }): Promise<Exited> {
  const { timeoutMs, ...spawnOptions } = options;
  return collectChild(spawn(cmd, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] }), timeoutMs);
}

/** `exec`, failing with the command's output when it does not exit 0. */
export async function execOk(cmd: string, args: readonly string[], options: SpawnOptions & { timeoutMs: number }): Promise<string> {
  const result = await exec(cmd, args, options);
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${result.status}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}
