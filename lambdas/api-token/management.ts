import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RotationStateError, SecretFormatError, UnsafeRotationError } from '../core/errors.js';
import { SecretsApi } from '../core/secretsApi.js';
import { decodeJson } from '../core/secretValue.js';
import { Stages } from '../core/types.js';
import { PRINTABLE_ASCII, PRINTABLE_ASCII_RULE } from './secret.js';
import { secretNameOf } from '../core/labels.js';

/** Reads another secret's AWSCURRENT value: its ARN and secret string (undefined when it has none). */
export type SecretReader = (secretId: string) => Promise<{ arn: string; secretString: string | undefined }>;

/**
 * A reader of AWSCURRENT values through Secrets Manager (core's SecretsApi). The default one
 * makes its client on first use, reused by a warm function; it honours AWS_ENDPOINT_URL like
 * every SDK client.
 */
export function currentValueReader(api?: SecretsApi): SecretReader {
  let secrets = api;
  return async (secretId) => {
    secrets ??= new SecretsApi(new SecretsManagerClient({}));
    const found = await secrets.getVersion(secretId, undefined, Stages.CURRENT);
    return { arn: found?.arn ?? secretId, secretString: found?.secretString };
  };
}

/** A management credential: its string fields, and where it may be sent. */
export interface ManagementCredential {
  readonly arn: string;
  readonly fields: Readonly<Record<string, string>>;
  /** Hosts (`host`, `host:port`, `*.domain`) the credential may be sent to; loopback always may. */
  readonly allowedHosts?: readonly string[];
}

/**
 * Reads and checks the management secret named by a secret. It must be another secret than the
 * one being rotated (self-rotation is an explicit opt-in, not an accident of configuration),
 * a JSON object with the fields the provider needs.
 */
export async function readManagement(
  reader: SecretReader,
  managementSecretArn: string,
  rotatedArn: string,
  required: readonly string[],
  provider: string,
  redact: (value: string) => void,
): Promise<ManagementCredential> {
  const where = `management secret ${managementSecretArn}`;
  if (sameSecret(managementSecretArn, rotatedArn)) {
    throw new UnsafeRotationError(
      `secret ${rotatedArn}: field 'managementSecretArn' names the secret being rotated; ` +
        "a token that may only rotate itself needs 'selfRotation': true instead",
    );
  }
  const { arn, secretString } = await reader(managementSecretArn);
  if (sameSecret(arn, rotatedArn)) {
    throw new UnsafeRotationError(`secret ${rotatedArn}: field 'managementSecretArn' names the secret being rotated`);
  }
  if (secretString === undefined || secretString === '') {
    throw new RotationStateError(`${where}: no AWSCURRENT value`);
  }
  const raw = decodeJson(secretString, where);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SecretFormatError(`${where}: value must be a JSON object`);
  }
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value === 'string') {
      fields[key] = value;
      redact(value);
    }
  }
  for (const field of required) {
    if (!fields[field]) throw new SecretFormatError(`${where}: field '${field}' is missing (required by provider '${provider}')`);
    if (!PRINTABLE_ASCII.test(fields[field])) throw new SecretFormatError(`${where}: field '${field}' is invalid: ${PRINTABLE_ASCII_RULE}`);
  }
  const hosts = (raw as Record<string, unknown>).allowedHosts;
  if (hosts !== undefined && (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string' && h.length > 0))) {
    throw new SecretFormatError(`${where}: field 'allowedHosts' is invalid: must be a list of host names`);
  }
  return { arn, fields, allowedHosts: hosts as string[] | undefined };
}

/** Whether two secret ids (ARN or name) name the same secret, as far as can be told offline. */
function sameSecret(a: string, b: string): boolean {
  if (a === b) return true;
  const name = secretNameOf(a);
  return name !== undefined && name === secretNameOf(b);
}
