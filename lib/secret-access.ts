import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';

/** ARN pattern that matches a secret's versions of ARN: the partial ARN needs the `-??????` suffix. */
export function secretArnPattern(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/**
 * A statement on the customer-managed key of `secret`, usable only through Secrets Manager in
 * the region of `scope` (`kms:ViaService`); undefined when the secret uses the AWS managed key.
 */
export function keyViaSecretsManager(
  scope: IConstruct,
  secret: secretsmanager.ISecret,
  actions: string[],
): iam.PolicyStatement | undefined {
  if (!secret.encryptionKey) return undefined;
  return new iam.PolicyStatement({
    actions,
    resources: [secret.encryptionKey.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(scope).region}.amazonaws.com` } },
  });
}
