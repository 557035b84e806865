import { createHash } from 'node:crypto';

/**
 * The fingerprint of a credential's identity (an access key id, a token): the first 32 hex
 * digits of its SHA-256. Secret scanners send this instead of a leaked token; Rotor keeps it in
 * the secret's tags to find the secret without reading values. It does not reveal the value.
 */
export function fingerprint(identity: string): string {
  return createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, 32);
}
