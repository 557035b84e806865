import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotationHandler } from '../../lambdas/core/handler';
import type { RotationKind } from '../../lambdas/core/types';
import { SecretsManagerPlayer } from '../../test/support/harness';

/** What every sandbox scenario gets: the emulated Secrets Manager and a way to print. */
export interface SandboxContext {
  readonly client: SecretsManagerClient;
  readonly player: SecretsManagerPlayer;
  print(line: string): void;
}

/** A handler as deployed, with quiet logs (the sandbox prints its own summary). */
export function quietHandler<S>(kind: RotationKind<S>, ctx: SandboxContext, env: Record<string, string>) {
  return createRotationHandler(kind, {
    client: ctx.client,
    env,
    logger: new Logger({ serviceName: 'rotor-sandbox', logLevel: 'ERROR' }),
    metrics: new Metrics({ namespace: 'RotorSandbox', serviceName: 'rotor-sandbox', singleMetric: false }),
  });
}

export function mark(ok: boolean): string {
  return ok ? 'logs in' : 'refused';
}

export function short(id: string | undefined): string {
  return id ? id.slice(0, 8) : '-';
}

/** Prints labels of every version, oldest first. */
export async function printLabels(ctx: SandboxContext, secretId: string): Promise<void> {
  const versions = await ctx.player.versions(secretId);
  const text = Object.entries(versions)
    .map(([id, stages]) => `${short(id)}=${stages.join('+')}`)
    .join('  ');
  ctx.print(`    labels: ${text}`);
}
