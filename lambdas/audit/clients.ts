import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { AccessKeyEntry, AuditClients, FunctionKind } from './audit.js';

/** How the audit's SDK clients are made: the CLI's profile or an assumed role's credentials; nothing in the function (its role). */
export interface AuditClientConfig {
  /** Region of the IAM client (IAM is global) and of anything not per region. */
  readonly region: string;
  readonly profile?: string;
  readonly credentials?: AwsCredentialIdentity;
}

/**
 * The SDK clients of an audit: Secrets Manager and Lambda per region, IAM once. Lambda's and
 * IAM's SDK load on first use (the function's cold start pays for Secrets Manager only; a run
 * that finds no rotation function, or skips IAM, never loads them).
 */
export async function auditSdkClients(config: AuditClientConfig): Promise<AuditClients & { destroy(): void }> {
  const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const base = {
    ...(config.profile ? { profile: config.profile } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
  };
  const made: Array<{ destroy(): void }> = [];
  const perRegion = <T extends { destroy(): void }>(make: (region: string) => T) => {
    const cache = new Map<string, T>();
    return (region: string): T => {
      let client = cache.get(region);
      if (!client) {
        client = make(region);
        made.push(client);
        cache.set(region, client);
      }
      return client;
    };
  };
  const secretsFor = perRegion((region): SecretsManagerClient => new SecretsManagerClient({ ...base, region }));
  let functions: Promise<typeof import('./functionConfig.js')> | undefined;
  const lambdaClients = new Map<string, import('@aws-sdk/client-lambda').LambdaClient>();

  return {
    secretsFor,
    async functionKind(region, functionArn): Promise<FunctionKind> {
      functions ??= import('./functionConfig.js');
      const { lambdaClient, functionKindOf } = await functions;
      let client = lambdaClients.get(region);
      if (!client) {
        client = lambdaClient({ ...base, region });
        made.push(client);
        lambdaClients.set(region, client);
      }
      return functionKindOf(client, functionArn);
    },
    async *accessKeys(secretArns): AsyncGenerator<AccessKeyEntry> {
      const { iamClient, listAccessKeys } = await import('./iamKeys.js');
      const iam = iamClient({ ...base, region: config.region });
      made.push(iam);
      yield* listAccessKeys(iam, secretArns);
    },
    destroy() {
      for (const c of made) c.destroy();
    },
  };
}
