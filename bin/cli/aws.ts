import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AwsSetupError, CliError } from './errors.js';

/** Global options every command takes; the rest comes from the standard AWS chain. */
export interface AwsOptions {
  /** @default - AWS_REGION, then the profile's region, then AWS_DEFAULT_REGION */
  readonly region?: string;
  /** @default - AWS_PROFILE, then the default profile */
  readonly profile?: string;
}

/** The clients a command uses, all for one region and one set of credentials. */
export interface AwsClients {
  readonly region: string;
  /** AWS_ENDPOINT_URL when set (a local emulator); the SDK applies it itself. */
  readonly endpoint?: string;
  readonly secrets: SecretsManagerClient;
  readonly events: EventBridgeClient;
  readonly logs: CloudWatchLogsClient;
  /** Where a Lambda function writes its logs (see `functionLogGroup`). */
  functionLogGroup(functionArn: string): Promise<FunctionLogGroup>;
  destroy(): void;
}

export interface FunctionLogGroup {
  readonly logGroupName: string;
  /** `function`: from the function's LoggingConfig; `default`: Lambda's `/aws/lambda/<name>`. */
  readonly from: 'function' | 'default';
  /** Why the function's configuration could not be read, when it could not. */
  readonly note?: string;
}

const REGION_HELP =
  'set AWS_REGION (or AWS_DEFAULT_REGION), pass --region, or set a region in your AWS profile (~/.aws/config)';
const CREDENTIALS_HELP =
  'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with AWS_PROFILE or --profile, ' +
  'or sign in first (aws sso login / aws configure)';

/** The shared config and credentials files, where the SDK (and the AWS CLI) look for them. */
export function sharedFiles(env: NodeJS.ProcessEnv = process.env): { config: string; credentials: string } {
  const home = env.HOME || env.USERPROFILE || homedir();
  return {
    config: env.AWS_CONFIG_FILE || join(home, '.aws', 'config'),
    credentials: env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials'),
  };
}

/** Profile names a shared file defines (`[default]`, `[profile x]`, `[x]`); only section names are read. */
function profilesIn(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (!m) continue;
    const section = m[1]!;
    const profile = /^profile\s+(.+)$/.exec(section)?.[1] ?? (/\s/.test(section) ? undefined : section);
    if (profile) names.push(profile.trim());
  }
  return names;
}

/**
 * Checks that the profile named by --profile or AWS_PROFILE exists in the shared files, so that
 * an unknown one is named in the error instead of the SDK's "could not load credentials from any
 * providers". Reads section names only, never a key.
 */
export function checkProfile(options: AwsOptions, env: NodeJS.ProcessEnv = process.env): void {
  const profile = options.profile ?? (env.AWS_PROFILE || undefined);
  if (!profile) return;
  const files = sharedFiles(env);
  const known = [...new Set([...profilesIn(files.config), ...profilesIn(files.credentials)])];
  if (known.includes(profile)) return;
  const from = options.profile !== undefined ? '--profile' : 'AWS_PROFILE';
  throw new AwsSetupError(
    `AWS profile '${profile}' (${from}) not found in ${files.config} or ${files.credentials}` +
      `${known.length ? ` (profiles there: ${known.sort().join(', ')})` : ' (no profiles there)'}: ` +
      `check the name, create it with 'aws configure --profile ${profile}', or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at your files`,
  );
}

/** The region the SDK would use, with AWS_DEFAULT_REGION (the AWS CLI's variable) as a last resort. */
export async function resolveRegion(options: AwsOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (options.region) return options.region;
  if (env.AWS_REGION) return env.AWS_REGION;
  const probe = new SecretsManagerClient(options.profile ? { profile: options.profile } : {});
  try {
    const region = await probe.config.region();
    if (region) return region;
  } catch {
    // no region in the environment or the shared config files: try the AWS CLI's variable
  } finally {
    probe.destroy();
  }
  if (env.AWS_DEFAULT_REGION) return env.AWS_DEFAULT_REGION;
  throw new AwsSetupError(`no AWS region configured: ${REGION_HELP}`);
}

/**
 * Builds the clients after checking that a region and credentials can be found, so that a
 * missing one is reported before anything else happens.
 */
export async function connect(options: AwsOptions, env: NodeJS.ProcessEnv = process.env): Promise<AwsClients> {
  checkProfile(options, env);
  const region = await resolveRegion(options, env);
  const config = { region, ...(options.profile ? { profile: options.profile } : {}) };
  const secrets = new SecretsManagerClient(config);
  try {
    await secrets.config.credentials();
  } catch (err) {
    secrets.destroy();
    const profile = options.profile ?? (env.AWS_PROFILE || undefined);
    const e = err as Error;
    if (profile && (e.name === 'CredentialsProviderError' || /could not (load|resolve) credentials/i.test(e.message))) {
      throw new AwsSetupError(
        `cannot load credentials for AWS profile '${profile}': ${e.message.split('\n')[0]}. ` +
          `Check the profile in ${sharedFiles(env).config}, or sign in first (aws sso login --profile ${profile})`,
        { cause: err },
      );
    }
    throw explainAwsError(err, 'loading AWS credentials', { region, endpoint: env.AWS_ENDPOINT_URL });
  }
  const events = new EventBridgeClient(config);
  const logs = new CloudWatchLogsClient(config);
  return {
    region,
    endpoint: env.AWS_ENDPOINT_URL,
    secrets,
    events,
    logs,
    functionLogGroup: (arn) => functionLogGroup(arn, config),
    destroy() {
      secrets.destroy();
      events.destroy();
      logs.destroy();
    },
  };
}

/** `rotor-rotation` from `arn:aws:lambda:us-east-1:123456789012:function:rotor-rotation[:alias]`. */
export function functionNameOf(functionArn: string): string {
  const parts = functionArn.split(':');
  return parts[5] === 'function' && parts[6] ? parts[6] : functionArn;
}

/**
 * The log group a function writes to: its LoggingConfig names one when it was deployed with
 * its own log group (as Rotor's CDK constructs deploy it); otherwise Lambda's default.
 */
async function functionLogGroup(functionArn: string, config: { region: string; profile?: string }): Promise<FunctionLogGroup> {
  const fallback = `/aws/lambda/${functionNameOf(functionArn)}`;
  let lambdaModule: typeof import('@aws-sdk/client-lambda');
  try {
    lambdaModule = await import('@aws-sdk/client-lambda');
  } catch {
    return { logGroupName: fallback, from: 'default', note: '@aws-sdk/client-lambda is not installed' };
  }
  const lambda = new lambdaModule.LambdaClient(config);
  try {
    const out = await lambda.send(new lambdaModule.GetFunctionConfigurationCommand({ FunctionName: functionArn }));
    const named = out.LoggingConfig?.LogGroup;
    return named ? { logGroupName: named, from: 'function' } : { logGroupName: fallback, from: 'default' };
  } catch (err) {
    const e = err as Error;
    return { logGroupName: fallback, from: 'default', note: `cannot read the function's configuration (${e.name}: ${e.message})` };
  } finally {
    lambda.destroy();
  }
}

const AUTH_ERRORS = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'ExpiredTokenException',
  'ExpiredToken',
  'NotAuthorized',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

/** Turns an SDK error into a CliError that says what was being done and what to check. */
export function explainAwsError(
  err: unknown,
  doing: string,
  where: { region?: string; endpoint?: string } = {},
): CliError {
  if (err instanceof CliError) return err;
  const e = (err instanceof Error ? err : new Error(String(err))) as Error & { code?: string };
  if (e.name === 'CredentialsProviderError' || /could not load credentials/i.test(e.message)) {
    return new AwsSetupError(`no AWS credentials found: ${CREDENTIALS_HELP}`, { cause: err });
  }
  if (/region is missing/i.test(e.message)) {
    return new AwsSetupError(`no AWS region configured: ${REGION_HELP}`, { cause: err });
  }
  if ((e.code && NETWORK_CODES.has(e.code)) || e.name === 'TimeoutError') {
    const target = where.endpoint ? `${where.endpoint} (AWS_ENDPOINT_URL)` : `AWS in ${where.region ?? 'the configured region'}`;
    return new AwsSetupError(`cannot reach ${target} while ${doing}: ${e.code ?? e.name}: ${e.message}`, { cause: err });
  }
  if (AUTH_ERRORS.has(e.name)) {
    return new CliError(
      `AWS refused ${doing} (${e.name}): ${e.message}. Check the credentials and that their policy allows it.`,
      { cause: err },
    );
  }
  return new CliError(`${doing} failed: ${e.name}: ${e.message}`, { cause: err });
}
