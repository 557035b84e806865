import { createHash, createHmac } from 'node:crypto';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { FINGERPRINT_PATTERN, Fingerprints, settings } from '../contract/index.js';

export { FINGERPRINT_PATTERN };
import { FingerprintKeyError } from './errors.js';
import { readSetting } from './settings.js';
import type { Redactor } from './redact.js';

/**
 * Fingerprints of a credential's leak identity (an access key id, a token, a database password):
 * what finishSecret writes in the `rotor:fp-current` / `rotor:fp-previous` tags and what a leak
 * event may carry instead of the value, so a secret is found without reading values.
 *
 * Keyed (what Rotor writes): `k1:` + the first 32 hex digits of HMAC-SHA-256 under Rotor's
 * fingerprint key (a random key in a secret of its own). Without the key a tag tells nothing,
 * even of a low-entropy password: nobody can test guesses against it.
 *
 * Plain (legacy, written before keyed fingerprints): the first 32 hex digits of SHA-256. Never
 * written any more; still matched, so secrets tagged before the change stay findable until their
 * next rotation rewrites the tags.
 */
export function plainFingerprint(identity: string): string {
  return createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, Fingerprints.HEX_DIGITS);
}


/** What a fingerprint string is: keyed, legacy plain, or not a fingerprint at all. */
export function fingerprintFormat(value: string): 'keyed' | 'plain' | undefined {
  if (!FINGERPRINT_PATTERN.test(value)) return undefined;
  return value.startsWith(Fingerprints.KEYED_PREFIX) ? 'keyed' : 'plain';
}

/**
 * Rotor's fingerprint key. The key bytes live in a private field: logging or serialising the
 * object shows nothing of them.
 */
export class FingerprintKey {
  readonly #key: Buffer;
  readonly #text: string;

  /** `source` names where the key came from, for messages (a secret ARN): never the key. */
  public constructor(
    keyText: string,
    public readonly source: string,
  ) {
    if (keyText.length < Fingerprints.MIN_KEY_LENGTH) {
      throw new FingerprintKeyError(
        `fingerprint key secret ${source}: the key is shorter than ${Fingerprints.MIN_KEY_LENGTH} characters (generate a new one)`,
      );
    }
    this.#text = keyText;
    this.#key = Buffer.from(keyText, 'utf8');
  }

  /** The keyed fingerprint of `identity`. */
  public fingerprint(identity: string): string {
    const mac = createHmac('sha256', this.#key).update(identity, 'utf8').digest('hex');
    return `${Fingerprints.KEYED_PREFIX}${mac.slice(0, Fingerprints.HEX_DIGITS)}`;
  }

  /** Masks the key in every error the redactor rebuilds. */
  public registerWith(redactor: Redactor): void {
    redactor.add(this.#text);
  }

  public toJSON(): string {
    return `[fingerprint key ${this.source}]`;
  }
}

/**
 * Every fingerprint a leaked `identity` may be tagged with: keyed under each key given (a CLI may
 * know several Rotor stacks' keys), then the legacy plain one.
 */
export function candidateFingerprints(identity: string, keys: readonly FingerprintKey[]): string[] {
  return [...keys.map((k) => k.fingerprint(identity)), plainFingerprint(identity)];
}

/**
 * Reads the key from its secret (AWSCURRENT). `where` says who needs it and how the secret was
 * named (`ROTOR_FINGERPRINT_KEY_ARN`, `--fingerprint-key-secret`), for the message.
 */
export async function readFingerprintKey(client: SecretsManagerClient, secretId: string, where: string): Promise<FingerprintKey> {
  let text: string | undefined;
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }));
    text = out.SecretString;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    // Moto and some proxies answer a refused signature as XML the SDK cannot parse: the 403 is in $metadata.
    const denied = e.name === 'AccessDeniedException' || e.$metadata?.httpStatusCode === 403;
    if (e.name === 'ResourceNotFoundException') {
      throw new FingerprintKeyError(`${where}: the fingerprint key secret ${secretId} does not exist`, { cause: err });
    }
    if (denied) {
      throw new FingerprintKeyError(
        `${where}: cannot read the fingerprint key secret ${secretId}: access denied (secretsmanager:GetSecretValue on it, ` +
          'and kms:Decrypt if it has a customer managed key, is needed)',
        { cause: err },
      );
    }
    // The network, credentials, throttling: the caller explains those as it does for any AWS call.
    throw err;
  }
  if (!text) throw new FingerprintKeyError(`${where}: the fingerprint key secret ${secretId} has no string value`);
  return new FingerprintKey(text, secretId);
}

/**
 * The functions' key: the secret ROTOR_FINGERPRINT_KEY_ARN names, read on first use and kept for
 * the container's life (the key is never rotated by Rotor itself). A failed read is not kept:
 * the next invocation tries again. Resolves to undefined when the variable is not set; a bad
 * value or an unreadable secret rejects with a FingerprintKeyError naming the variable.
 */
export function fingerprintKeySource(
  client: SecretsManagerClient,
  env: Readonly<Record<string, string | undefined>>,
  who: string,
): FingerprintKeySource {
  let cached: Promise<FingerprintKey | undefined> | undefined;
  const source = (() => {
    cached ??= (async () => {
      const arn = readSetting(settings.fingerprintKeyArn, env, who);
      if (arn === undefined) return undefined;
      source.reads++;
      return readFingerprintKey(client, arn, `${who} (${settings.fingerprintKeyArn.name})`);
    })().catch((err: unknown) => {
      cached = undefined;
      throw err instanceof FingerprintKeyError ? err : new FingerprintKeyError((err as Error).message, { cause: err });
    });
    return cached;
  }) as FingerprintKeySource;
  source.reads = 0;
  return source;
}

/** The key when configured (undefined when not), cached; `reads` counts the GetSecretValue calls made (cost figures). */
export interface FingerprintKeySource {
  (): Promise<FingerprintKey | undefined>;
  reads: number;
}

/**
 * @deprecated The legacy plain fingerprint, kept for readers during the change to keyed ones
 * (`rotor audit`): match with candidateFingerprints (keyed and plain), write with FingerprintKey.
 */
export const fingerprint = plainFingerprint;
