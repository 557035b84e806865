import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import { TagsWrittenBy } from '../lambdas/contract/index.js';
import { keyViaSecretsManager, secretArnPattern } from './secret-access.js';

/** What the emergency handler may act on for one rotation. */
export interface RevokeTarget {
  /** Scope whose region the KMS conditions name (the rotation construct). */
  readonly scope: IConstruct;
  /** The rotated secret. */
  readonly secret: secretsmanager.ISecret;
  /** The secret's rotation function (RotateSecret restates it, hence InvokeFunction on it). */
  readonly rotationFunction: lambda.IFunction;
  /** Secrets the rotation reads but never writes (master secret, management credential). */
  readonly readOnlySecrets: readonly secretsmanager.ISecret[];
}

/**
 * What the emergency handler needs to rotate a secret now and revoke a leaked value: describe,
 * read, rotate, unlabel and tag the secret (only the emergency tags), write claim versions, read
 * the read-only secrets, and their keys through Secrets Manager. Kinds whose revoke touches
 * another service add to it (IAM keys).
 */
export function grantRevoke(grantee: iam.IGrantable, target: RevokeTarget): void {
  const add = (statement: iam.PolicyStatement) => grantee.grantPrincipal.addToPrincipalPolicy(statement);
  add(
    new iam.PolicyStatement({
      actions: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:RotateSecret',
        'secretsmanager:UpdateSecretVersionStage',
        // Claims only (lambdas/core/claim.ts): one delivery of a leak rotates and announces.
        // PutSecretValue has no condition key for the label; the handler writes claim versions
        // labelled ROTOR_CLAIM and nothing else.
        'secretsmanager:PutSecretValue',
      ],
      resources: [secretArnPattern(target.secret)],
    }),
  );
  add(
    new iam.PolicyStatement({
      actions: ['secretsmanager:TagResource'],
      resources: [secretArnPattern(target.secret)],
      conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [...TagsWrittenBy.emergency] } },
    }),
  );
  add(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [target.rotationFunction.functionArn] }));
  for (const other of target.readOnlySecrets) {
    add(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        resources: [secretArnPattern(other)],
      }),
    );
  }
  const keys = [
    // Writing a claim version encrypts with the rotated secret's key.
    keyViaSecretsManager(target.scope, target.secret, ['kms:Decrypt', 'kms:GenerateDataKey']),
    ...target.readOnlySecrets.map((r) => keyViaSecretsManager(target.scope, r, ['kms:Decrypt'])),
  ];
  for (const statement of keys) if (statement) add(statement);
}
