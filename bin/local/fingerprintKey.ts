import { randomBytes } from 'node:crypto';
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Fingerprints, settings } from '../../lambdas/contract/index.js';
import { FingerprintKey } from '../../lambdas/core/fingerprint.js';
import { noteCredential } from './hygiene.js';

/** Rotor's fingerprint key as a deployed stack has it: its secret, and the variable the functions read. */
export interface LocalFingerprintKey {
  readonly arn: string;
  /** ROTOR_FINGERPRINT_KEY_ARN for a rotation function or the emergency handler. */
  readonly env: Record<string, string>;
  /** The key itself, to compute the fingerprints a test expects. */
  readonly key: FingerprintKey;
}

/**
 * Creates Rotor's fingerprint key secret in a local emulator (moto), as the FingerprintKey
 * construct does on AWS: a random key of letters and digits, tagged so the CLI finds it. The key
 * is noted with the suite's hygiene ledger: it must never appear in any output.
 */
export async function createFingerprintKey(client: SecretsManagerClient, name = `rotor-fingerprint-key-${randomBytes(4).toString('hex')}`): Promise<LocalFingerprintKey> {
  const text = randomBytes(48).toString('base64url').replace(/[^A-Za-z0-9]/g, '').padEnd(Fingerprints.KEY_LENGTH, '0').slice(0, Fingerprints.KEY_LENGTH);
  noteCredential(text);
  const out = await client.send(
    new CreateSecretCommand({
      Name: name,
      Description: "Rotor's fingerprint key (HMAC-SHA-256 key of the rotor:fp-* tags)",
      SecretString: text,
      Tags: [{ Key: Fingerprints.KEY_TAG, Value: Fingerprints.KEY_TAG_VALUE }],
    }),
  );
  const arn = out.ARN!;
  return { arn, env: { [settings.fingerprintKeyArn.name]: arn }, key: new FingerprintKey(text, arn) };
}
