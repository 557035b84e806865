import {
  DescribeSecretCommand,
  ListSecretVersionIdsCommand,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { expect } from 'vitest';
import type { PreflightReport } from '../../lambdas/contract/index.js';
import { createRotationHandler } from '../../lambdas/core/handler.js';
import type { RotationKind } from '../../lambdas/core/types.js';
import { lambdaContext, smClient } from '../../bin/local/harness.js';
import { createRotationFunction } from '../../bin/local/moto.js';

/** The rotation function moto knows (bin/local/moto.ts createRotationFunction's default name). */
export const ROTATION_FUNCTION = 'rotor-rotation';

/**
 * Turns rotation on with moto's stand-in function, as a Rotor construct leaves a secret before its
 * first rotation: RotationLambdaARN set, rotation enabled, no AWSPENDING left behind.
 */
export async function enableRotation(
  endpoint: string,
  client: SecretsManagerClient,
  secretId: string,
  options: { functionName?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } = {},
): Promise<string> {
  const functionArn = await createRotationFunction(endpoint, options.functionName ?? ROTATION_FUNCTION, options.credentials);
  await client.send(
    new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: functionArn, RotationRules: { AutomaticallyAfterDays: 30 }, RotateImmediately: false }),
  );
  const versions = (await client.send(new DescribeSecretCommand({ SecretId: secretId }))).VersionIdsToStages ?? {};
  for (const [id, stages] of Object.entries(versions)) {
    if (stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT')) {
      await client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: id }));
    }
  }
  return functionArn;
}

/** What a preflight must leave as it was: every version and its labels, the tags, the rotation settings. */
export async function secretState(client: SecretsManagerClient, secretId: string) {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  const versions = await client.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }));
  return {
    stages: described.VersionIdsToStages,
    versions: (versions.Versions ?? []).map((v) => `${v.VersionId} ${[...(v.VersionStages ?? [])].sort().join(',')}`).sort(),
    tags: (described.Tags ?? []).map((t) => `${t.Key}=${t.Value}`).sort(),
    rotation: { enabled: described.RotationEnabled, lambda: described.RotationLambdaARN },
  };
}

/**
 * Runs the real rotation handler of `kind` with a preflight event, as Lambda would invoke it
 * (`functionName` is the function that runs: the secret's own unless a case says otherwise), and
 * checks the report against the contract's schema; `note` hands the report to the suite's leak check.
 */
export async function runPreflight<S>(
  endpoint: string,
  kind: RotationKind<S>,
  secretId: string,
  options: { env?: Record<string, string>; functionName?: string; note?: (text: string) => void; client?: SecretsManagerClient } = {},
): Promise<PreflightReport> {
  const handler = createRotationHandler(kind, { client: options.client ?? smClient(endpoint), env: options.env ?? {} });
  const report = await handler({ rotor: 'preflight', secretId }, lambdaContext(options.functionName ?? ROTATION_FUNCTION));
  options.note?.(JSON.stringify(report));
  return report;
}

/** The check of a report by name (fails the case when it is absent). */
export function check(report: PreflightReport, name: string) {
  const found = report.checks.find((c) => c.check === name);
  expect(found, `check ${name} in ${JSON.stringify(report.checks.map((c) => c.check))}`).toBeDefined();
  return found!;
}

/** Names of the checks with a problem. */
export const problems = (report: PreflightReport) => report.checks.filter((c) => c.status === 'problem').map((c) => c.check);
