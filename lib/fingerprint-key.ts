import { RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { Fingerprints, settings } from '../lambdas/contract/index.js';
import { writeSetting } from './function-settings.js';
import { keyViaSecretsManager, secretArnPattern } from './secret-access.js';

/** Props of FingerprintKey. */
export interface FingerprintKeyProps {
  /**
   * Customer managed key that encrypts the key secret.
   * @default - the account's AWS managed key for Secrets Manager
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the key secret when it leaves the stack. Retained by default: a new key would
   * orphan every fingerprint tag written with the old one until each secret rotates again.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export const fingerprintKeyDefaults = {
  removalPolicy: RemovalPolicy.RETAIN,
  /** Construct id of the per-stack key (FingerprintKey.of). */
  singletonId: 'RotorFingerprintKey',
} as const;

/**
 * Rotor's fingerprint key: a random key in a secret of its own, the HMAC-SHA-256 key of the
 * `rotor:fp-current` / `rotor:fp-previous` tags (lambdas/core/fingerprint.ts). Keyed tags tell
 * nothing of a value, even a guessable database password, to anyone who cannot read this secret.
 * The rotation functions and the emergency handler read it (GetSecretValue on this secret only,
 * `grantRead`); `rotor leak --from` finds it by its `rotor:fingerprint-key` tag. Rotor never
 * rotates it: a new key would leave the existing tags unmatched until each secret rotates again.
 */
export class FingerprintKey extends Construct {
  /** The per-stack key every Rotor construct of the stack uses unless given one (`fingerprintKey` prop). */
  public static of(scope: Construct): FingerprintKey {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(fingerprintKeyDefaults.singletonId);
    if (existing instanceof FingerprintKey) return existing;
    return new FingerprintKey(stack, fingerprintKeyDefaults.singletonId);
  }

  /** The key secret. */
  public readonly secret: secretsmanager.Secret;

  public constructor(scope: Construct, id: string, props: FingerprintKeyProps = {}) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: "Rotor's fingerprint key: the HMAC-SHA-256 key of the rotor:fp-* tags (never rotated; do not delete)",
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy ?? fingerprintKeyDefaults.removalPolicy,
      generateSecretString: {
        passwordLength: Fingerprints.KEY_LENGTH,
        excludePunctuation: true,
        includeSpace: false,
        requireEachIncludedType: true,
      },
    });
    Tags.of(this.secret).add(Fingerprints.KEY_TAG, Fingerprints.KEY_TAG_VALUE);
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "Rotor's fingerprint key is not a credential and is never rotated: a new key would leave every secret's " +
        'fingerprint tags unmatched until it rotates again',
    });
  }

  /** Lets `fn` read the key (GetSecretValue on this secret only, kms:Decrypt through Secrets Manager) and tells it where it is. */
  public grantRead(fn: lambda.Function): void {
    grantFingerprintKey(fn, this.secret);
  }
}

/**
 * Gives a Rotor function the fingerprint key `secret`: its ARN in ROTOR_FINGERPRINT_KEY_ARN,
 * GetSecretValue on that one secret, and kms:Decrypt through Secrets Manager when it has a
 * customer managed key.
 */
export function grantFingerprintKey(fn: lambda.Function, secret: secretsmanager.ISecret): void {
  for (const [name, value] of Object.entries(writeSetting(settings.fingerprintKeyArn, secret.secretArn))) fn.addEnvironment(name, value);
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretArnPattern(secret)] }));
  const decrypt = keyViaSecretsManager(fn, secret, ['kms:Decrypt']);
  if (decrypt) fn.addToRolePolicy(decrypt);
}
