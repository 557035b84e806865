import { noteOutput } from '../../bin/local/hygiene.js';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Handler } from '../../bin/local/harness.js';
import type { LogCapture } from './logCapture.js';
import { awsEnvFor } from '../../bin/local/moto.js';
import { collectChild } from './exec.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/**
 * The environment the `rotor` binary runs with in tests: moto's endpoint, a region, dummy
 * credentials, and nothing from the machine's own AWS setup (no profile, no instance metadata).
 */
export function cliEnv(endpoint: string, overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  Object.assign(env, awsEnvFor(endpoint), {
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/rotor-test-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rotor-test-credentials',
  });
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs the real `rotor` binary (`node --import tsx bin/rotor.ts ...`) as a subprocess. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/rotor.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, timeoutMs);
}

/** What a CLI subprocess printed and how it ended (fed to the hygiene ledger); killed after `timeoutMs`. */
async function collect(child: ChildProcess, timeoutMs: number, onStdout?: (stdout: string) => void): Promise<CliResult> {
  const { status, stdout, stderr, durationMs } = await collectChild(child, timeoutMs, onStdout);
  noteOutput(stdout);
  noteOutput(stderr);
  return { code: status, stdout, stderr, durationMs };
}

/**
 * A rotation function's CloudWatch log group in moto, written the way Lambda writes it: the
 * handler's JSON log lines, one event each, in a stream of their own.
 */
export class FunctionLogs {
  public readonly client: CloudWatchLogsClient;
  private readonly stream = `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomBytes(16).toString('hex')}`;

  public constructor(
    endpoint: string,
    public readonly logGroupName = '/aws/lambda/rotor-rotation',
  ) {
    this.client = new CloudWatchLogsClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  }

  /** Creates the group and stream (a deployed function's group exists before it rotates). */
  public async create(): Promise<this> {
    await this.client.send(new CreateLogGroupCommand({ logGroupName: this.logGroupName })).catch((err: Error) => {
      if (err.name !== 'ResourceAlreadyExistsException') throw err;
    });
    await this.client.send(new CreateLogStreamCommand({ logGroupName: this.logGroupName, logStreamName: this.stream }));
    return this;
  }

  public async put(records: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    if (records.length === 0) return;
    await this.client.send(
      new PutLogEventsCommand({
        logGroupName: this.logGroupName,
        logStreamName: this.stream,
        logEvents: records.map((r) => ({
          timestamp: typeof r.timestamp === 'string' && !Number.isNaN(Date.parse(r.timestamp)) ? Date.parse(r.timestamp) : Date.now(),
          message: JSON.stringify(r),
        })),
      }),
    );
  }
}

/**
 * The rotation handler as Lambda runs it: after each invocation (failed or not), the JSON lines
 * it logged for that event's token reach its log group.
 */
export function loggingToCloudWatch(handler: Handler, logs: () => LogCapture, sink: FunctionLogs): Handler {
  return async (event, context) => {
    const token = (event as { ClientRequestToken?: string }).ClientRequestToken;
    const mark = logs().records().length;
    try {
      return await handler(event, context);
    } finally {
      await sink.put(logs().records().slice(mark).filter((r) => r.token === token));
    }
  };
}

/** `script` (util-linux) gives the binary a terminal on stdin, for the confirmation prompt; undefined when absent. */
export const scriptCommand: string | undefined = (() => {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/script`)) return `${dir}/script`;
  }
  return undefined;
})();

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Runs the real `rotor` binary on a pseudo-terminal (`script -qec`), typing `input` once the
 * prompt has appeared. The terminal merges stdout and stderr (and echoes the input) into `stdout`.
 */
export function runCliOnTerminal(args: readonly string[], env: NodeJS.ProcessEnv, input: string, timeoutMs = 30_000): Promise<CliResult> {
  if (!scriptCommand) throw new Error('script(1) is not installed');
  const command = [process.execPath, '--import', 'tsx', 'bin/rotor.ts', ...args].map(shellQuote).join(' ');
  const child = spawn(scriptCommand!, ['-qec', command, '/dev/null'], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let typed = false;
  return collect(child, timeoutMs, (stdout) => {
    if (!typed && stdout.includes('[y/N]')) {
      typed = true;
      child.stdin?.write(input);
    }
  });
}
