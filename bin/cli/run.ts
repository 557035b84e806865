/**
 * `rotor run [--env-file .env.tpl] [--watch] -- cmd args...`: runs a process with secrets
 * injected into its environment, as `op run` does, and with --watch follows rotations.
 *
 * References (one syntax, in the template's values or in rotor's own environment):
 *
 *   rotor://<secret-id>#<field>   a field of the secret's JSON value (AWSCURRENT); may sit inside
 *                                 a longer value: postgres://rotor://db#username:rotor://db#password@host/app
 *   rotor://<secret-id>           the whole secret string, when it is the entire value
 *
 * <secret-id> is a name or an ARN; <field> is letters, digits, `_`, `.`, `-`. Values go into the
 * child's environment only: nothing is written to disk, and rotor prints names, never values.
 * The template is a dotenv file (KEY=value, # comments, quotes), read with Node's own parser
 * (util.parseEnv), so it has no dependency of its own. As in any dotenv file, a value holding
 * `#` must be quoted: KEY="rotor://prod/db#password" (an unquoted one is refused, naming the
 * line). On Node.js 20, node itself also reads `--env-file` wherever it appears on the command
 * line (fixed in 22): a missing template is then reported by node ("node: <file>: not found",
 * exit 9) before rotor starts.
 */
import { DescribeSecretCommand, GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { parseEnv } from 'node:util';
import { Stages } from '../../lambdas/core/types.js';
import { versionHolding } from '../../lambdas/core/labels.js';
import { explainAwsError } from './aws.js';
import { CliError, SecretNotFoundError, UsageError } from './errors.js';
import type { Output } from './output.js';
import { runDefaults } from './defaults.js';

export const REFERENCE_SCHEME = 'rotor://';
/** What a secret id (a name or an ARN) is made of. */
const SECRET_ID = '[A-Za-z0-9/_+=.@:!-]';
/** A reference inside a value: the id runs to `#`, the field over its own characters. */
const FIELD_REFERENCE = new RegExp(`rotor://(${SECRET_ID}+?)#([A-Za-z0-9_.-]+)`, 'g');
/** A whole-value reference without a field. */
const WHOLE_REFERENCE = new RegExp(`^rotor://(${SECRET_ID}+)$`);

export { runDefaults };

/** Signals rotor passes on to the child (the child decides what they mean). */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export interface RunOptions {
  readonly envFile?: string;
  readonly watch: boolean;
  readonly intervalSeconds: number;
  /** With --watch: send this signal instead of restarting (the child re-reads by itself). */
  readonly reloadSignal?: NodeJS.Signals;
  readonly restartSignal: NodeJS.Signals;
  readonly stopTimeoutSeconds: number;
}

export function parseSignal(value: string): NodeJS.Signals {
  const name = (value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in constants.signals)) throw new UsageError(`unknown signal '${value}' (for example SIGHUP, SIGTERM, SIGUSR1)`);
  return name;
}

interface Reference {
  readonly variable: string;
  readonly secretId: string;
  readonly field?: string;
}

/** The references of every variable, in template order then environment order. */
export function findReferences(vars: Record<string, string | undefined>): Reference[] {
  const out: Reference[] = [];
  for (const [variable, value] of Object.entries(vars)) {
    if (value === undefined || !value.includes(REFERENCE_SCHEME)) continue;
    const whole = WHOLE_REFERENCE.exec(value);
    if (whole) {
      out.push({ variable, secretId: whole[1]! });
      continue;
    }
    let found = false;
    for (const m of value.matchAll(FIELD_REFERENCE)) {
      out.push({ variable, secretId: m[1]!, field: m[2]! });
      found = true;
    }
    if (!found) {
      throw new UsageError(
        `${variable}: '${REFERENCE_SCHEME}' without a usable reference; write ${REFERENCE_SCHEME}<secret-id>#<field> ` +
          `(or ${REFERENCE_SCHEME}<secret-id> for the whole secret string)`,
      );
    }
  }
  return out;
}

/** The template's variables (dotenv), or a usage error naming the file. */
export function readTemplate(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--env-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // dotenv reads an unquoted `#` as the start of a comment, which would cut a reference to its
  // secret id (and inject the whole secret string): ask for quotes instead.
  text.split(/\r?\n/).forEach((line, i) => {
    const m = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*([^'"`\s].*)$/.exec(line);
    if (m && /rotor:\/\/[^\s#]*#/.test(m[2]!)) {
      throw new UsageError(
        `--env-file ${file}, line ${i + 1} (${m[1]}): quote the value, ${m[1]}="${REFERENCE_SCHEME}<secret-id>#<field>" ` +
          '(dotenv reads an unquoted # as the start of a comment)',
      );
    }
  });
  return parseEnv(text) as Record<string, string>;
}

interface ResolvedSecret {
  readonly versionId: string;
  readonly secretString: string;
  readonly json?: Record<string, unknown>;
}

async function readSecret(client: SecretsManagerClient, secretId: string): Promise<ResolvedSecret> {
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (out.SecretString === undefined) throw new CliError(`secret '${secretId}' has no string value (binary secrets cannot go into an environment)`);
    let json: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(out.SecretString);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    } catch {
      // not JSON: only the whole-string reference can use it
    }
    return { versionId: out.VersionId!, secretString: out.SecretString, json };
  } catch (err) {
    if (err instanceof CliError) throw err;
    if ((err as Error).name === 'ResourceNotFoundException') throw new SecretNotFoundError(`secret '${secretId}' not found`, { cause: err });
    throw explainAwsError(err, `reading secret '${secretId}'`, {});
  }
}

function fieldValue(ref: Reference, secret: ResolvedSecret): string {
  if (ref.field === undefined) return secret.secretString;
  if (!secret.json) throw new CliError(`${ref.variable}: secret '${ref.secretId}' is not a JSON object, so it has no field '${ref.field}' (use ${REFERENCE_SCHEME}${ref.secretId} for the whole value)`);
  if (!Object.hasOwn(secret.json, ref.field)) {
    throw new CliError(`${ref.variable}: secret '${ref.secretId}' has no field '${ref.field}' (its fields: ${Object.keys(secret.json).join(', ') || 'none'})`);
  }
  const v = secret.json[ref.field];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new CliError(`${ref.variable}: field '${ref.field}' of secret '${ref.secretId}' is not a string, number or boolean`);
}

export interface Resolution {
  readonly env: NodeJS.ProcessEnv;
  /** AWSCURRENT version of each referenced secret, when read. */
  readonly versions: ReadonlyMap<string, string>;
  readonly variables: readonly string[];
}

/** The child's environment: rotor's own plus the template's, every reference replaced. */
export async function resolveEnvironment(client: SecretsManagerClient, base: NodeJS.ProcessEnv, template: Record<string, string>): Promise<Resolution> {
  const vars: NodeJS.ProcessEnv = { ...base, ...template };
  const refs = findReferences(vars);
  const ids = [...new Set(refs.map((r) => r.secretId))];
  const secrets = new Map<string, ResolvedSecret>();
  // A handful of secrets: read them together, each once.
  await Promise.all(ids.map(async (id) => secrets.set(id, await readSecret(client, id))));
  const env: NodeJS.ProcessEnv = { ...vars };
  for (const variable of new Set(refs.map((r) => r.variable))) {
    const value = vars[variable]!;
    const whole = WHOLE_REFERENCE.exec(value);
    env[variable] = whole
      ? fieldValue({ variable, secretId: whole[1]! }, secrets.get(whole[1]!)!)
      : value.replace(FIELD_REFERENCE, (_m, secretId: string, field: string) => fieldValue({ variable, secretId, field }, secrets.get(secretId)!));
  }
  return { env, versions: new Map([...secrets].map(([id, s]) => [id, s.versionId])), variables: [...new Set(refs.map((r) => r.variable))] };
}

/** AWSCURRENT's version id of a secret, from its metadata (no value is read). */
async function currentVersion(client: SecretsManagerClient, secretId: string): Promise<string | undefined> {
  const out = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return versionHolding(out.VersionIdsToStages, Stages.CURRENT);
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

interface RunContext {
  readonly client: SecretsManagerClient;
  readonly env: NodeJS.ProcessEnv;
  readonly out: Output;
  readonly sleep: (ms: number) => Promise<void>;
}

/** The referenced secrets whose AWSCURRENT is no longer the version the environment was made from. */
async function rotatedSince(versions: ReadonlyMap<string, string>, ctx: RunContext): Promise<string[]> {
  const changed: string[] = [];
  for (const [id, version] of versions) {
    try {
      if ((await currentVersion(ctx.client, id)) !== version) changed.push(id);
    } catch (err) {
      ctx.out.note(`rotor run: cannot check secret '${id}' (${(err as Error).name}); the process keeps running`);
    }
  }
  return changed;
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
}

function start(command: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(command[0]!, command.slice(1), { env, stdio: 'inherit' });
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', (err) => reject(new CliError(`cannot start '${command[0]}': ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    child.once('exit', (code, signal) => resolve(exitCodeOf(code, signal)));
  });
  return { child, exited };
}

/**
 * Runs the command with the resolved environment until it exits, passing rotor's signals on;
 * with --watch, restarts it (or sends it --reload-signal) when a referenced secret's AWSCURRENT
 * moves. Returns the child's exit code (128 + the signal's number when a signal ended it).
 */
export async function runCommand(command: readonly string[], options: RunOptions, ctx: RunContext): Promise<number> {
  if (command.length === 0) throw new UsageError('name the command to run after --, e.g. rotor run -- node server.js');
  const template = options.envFile ? readTemplate(options.envFile) : {};
  let resolution = await resolveEnvironment(ctx.client, ctx.env, template);
  if (options.watch && resolution.versions.size === 0) throw new UsageError('--watch: no variable references a secret, so there is nothing to follow');
  ctx.out.note(
    `rotor run: ${resolution.variables.length ? `${[...resolution.variables].sort().join(', ')} from ${resolution.versions.size} secret(s)` : 'no secret references'}; starting ${command[0]}`,
  );

  let running = start(command, resolution.env);
  let stopping = false;
  const forward = (signal: NodeJS.Signals) => {
    stopping = true;
    running.child.kill(signal);
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    for (;;) {
      if (!options.watch) return await running.exited;
      const woke = await Promise.race([
        running.exited.then(() => 'exited' as const),
        ctx.sleep(options.intervalSeconds * 1000).then(() => 'tick' as const),
      ]);
      if (woke === 'exited' || stopping) return await running.exited;
      const rotated = await rotatedSince(resolution.versions, ctx);
      if (rotated.length === 0) continue;
      let next: Resolution;
      try {
        next = await resolveEnvironment(ctx.client, ctx.env, template);
      } catch (err) {
        // The new value does not resolve (a field removed, access lost): keep the process on the
        // old one and say why; the next look tries again.
        ctx.out.note(`rotor run: ${rotated.join(', ')} rotated, but the new environment cannot be made: ${(err as Error).message}; the process keeps running`);
        continue;
      }
      if (options.reloadSignal) {
        ctx.out.note(`rotor run: ${rotated.join(', ')} rotated; sending ${options.reloadSignal} to the process`);
        resolution = next;
        running.child.kill(options.reloadSignal);
        continue;
      }
      ctx.out.note(`rotor run: ${rotated.join(', ')} rotated; restarting ${command[0]} with the new value(s)`);
      running.child.kill(options.restartSignal);
      const killer = setTimeout(() => running.child.kill('SIGKILL'), options.stopTimeoutSeconds * 1000);
      const code = await running.exited;
      clearTimeout(killer);
      if (stopping) return code;
      resolution = next;
      running = start(command, resolution.env);
    }
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
}
