import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import type { StepOutcome } from '../../lambdas/core/engine.js';
import { Steps, type Step } from '../../lambdas/core/types.js';

export const STEPS: readonly Step[] = [Steps.CREATE, Steps.SET, Steps.TEST, Steps.FINISH];

export type Handler = (event: unknown, context: Context) => Promise<StepOutcome>;

export function lambdaContext(name = 'rotor-test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function smClient(endpoint: string): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

/**
 * Plays Secrets Manager's part against moto: RotateSecret stages an empty AWSPENDING version
 * with a new token and turns rotation on (moto answers ResourceNotFound for the unknown
 * function, as TESTING.md notes, yet leaves exactly that state); then the test calls the
 * handler for each step in order, as the service does.
 */
export class SecretsManagerPlayer {
  public readonly rotationLambdaArn = 'arn:aws:lambda:us-east-1:123456789012:function:rotor-rotation';

  public constructor(public readonly client: SecretsManagerClient) {}

  public async createSecret(name: string, value: unknown): Promise<string> {
    const out = await this.client.send(
      new CreateSecretCommand({ Name: name, SecretString: typeof value === 'string' ? value : JSON.stringify(value) }),
    );
    return out.ARN!;
  }

  /** Starts a rotation the way the service does and returns the new token. */
  public async startRotation(secretId: string): Promise<string> {
    const before = await this.versions(secretId);
    try {
      await this.client.send(
        new RotateSecretCommand({
          SecretId: secretId,
          RotationLambdaARN: this.rotationLambdaArn,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: true,
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ResourceNotFoundException') throw err;
    }
    const after = await this.versions(secretId);
    const token = Object.entries(after).find(([id, stages]) => stages.includes('AWSPENDING') && !before[id])?.[0];
    if (!token) throw new Error(`RotateSecret staged no new AWSPENDING version for ${secretId}`);
    return token;
  }

  public async versions(secretId: string): Promise<Record<string, string[]>> {
    const out = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return out.VersionIdsToStages ?? {};
  }

  public async describe(secretId: string) {
    return this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
  }

  public async versionOf(secretId: string, stage: string): Promise<string | undefined> {
    const versions = await this.versions(secretId);
    return Object.entries(versions).find(([, s]) => s.includes(stage))?.[0];
  }

  public async value<T = Record<string, unknown>>(secretId: string, stage = 'AWSCURRENT'): Promise<T> {
    const versionId = await this.versionOf(secretId, stage);
    if (!versionId) throw new Error(`no version staged ${stage}`);
    const out = await this.client.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: stage }),
    );
    return JSON.parse(out.SecretString!) as T;
  }

  public event(secretId: string, token: string, step: Step) {
    return { SecretId: secretId, ClientRequestToken: token, Step: step };
  }

  /** Calls the handler for the given steps in order; returns what each step reported. */
  public async runSteps(handler: Handler, secretId: string, token: string, steps: readonly Step[] = STEPS) {
    const outcomes: StepOutcome[] = [];
    for (const step of steps) outcomes.push(await handler(this.event(secretId, token, step), lambdaContext()));
    return outcomes;
  }

  /** A whole rotation: RotateSecret then the four steps. */
  public async rotate(handler: Handler, secretId: string) {
    const token = await this.startRotation(secretId);
    const outcomes = await this.runSteps(handler, secretId, token);
    return { token, outcomes };
  }
}

/** Every secret string ever stored in these secrets (all versions), for the log leak check. */
export async function allSecretStrings(client: SecretsManagerClient, secretIds: Iterable<string>): Promise<string[]> {
  const { ListSecretVersionIdsCommand } = await import('@aws-sdk/client-secrets-manager');
  const found: string[] = [];
  for (const secretId of secretIds) {
    const list = await client.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }));
    for (const v of list.Versions ?? []) {
      try {
        const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: v.VersionId }));
        if (out.SecretString) found.push(out.SecretString);
      } catch {
        // a version with no value (an empty AWSPENDING) holds nothing to leak
      }
    }
  }
  return found;
}

/** The credential-like strings of secret JSON values (passwords, keys, tokens). */
export function sensitiveValues(secretStrings: Iterable<string>): string[] {
  const keys = new Set(['password', 'secretAccessKey', 'token', 'apiToken', 'secret']);
  const out = new Set<string>();
  for (const s of secretStrings) {
    try {
      const obj = JSON.parse(s) as Record<string, unknown>;
      for (const [k, v] of Object.entries(obj)) if (keys.has(k) && typeof v === 'string') out.add(v);
    } catch {
      // not JSON: the whole string is sensitive
      out.add(s);
    }
  }
  return [...out];
}

/**
 * Plays Secrets Manager while other code (the emergency handler, the CLI) waits for a rotation:
 * whenever a new AWSPENDING version appears on the secret, it calls the handler's four steps,
 * as the service would. Stop it when the waiting code has returned.
 */
export function playRotations(player: SecretsManagerPlayer, handler: Handler, secretId: string, pollMs = 50) {
  const done = new Set<string>();
  const errors: unknown[] = [];
  let stopped = false;
  let rotations = 0;
  const loop = (async () => {
    while (!stopped) {
      const versions = await player.versions(secretId);
      const token = Object.entries(versions).find(([id, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT') && !done.has(id))?.[0];
      if (token) {
        done.add(token);
        try {
          await player.runSteps(handler, secretId, token);
          rotations++;
        } catch (err) {
          errors.push(err);
        }
      } else {
        await new Promise((r) => setTimeout(r, pollMs));
      }
    }
  })();
  return {
    get rotations() {
      return rotations;
    },
    errors,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
