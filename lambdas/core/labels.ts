/** Reading staging labels and tags as Secrets Manager returns them (DescribeSecret, ListSecrets). */
import { RotorTags } from '../contract/vocabulary.js';

/** Version ids to their staging labels (`VersionIdsToStages`, `SecretVersionsToStages`). */
export type StagesById = Readonly<Record<string, readonly string[]>>;

/** The version that holds `stage` (other than `except`), if any. */
export function versionHolding(versions: StagesById | undefined, stage: string, except?: string): string | undefined {
  return Object.entries(versions ?? {}).find(([id, stages]) => stages.includes(stage) && id !== except)?.[0];
}

/**
 * A secret's name from its ARN (without the 6-character suffix Secrets Manager appends) or from
 * its name; undefined for an ARN that names no secret.
 */
export function secretNameOf(id: string): string | undefined {
  return id.startsWith('arn:') ? id.split(':secret:')[1]?.replace(/-[A-Za-z0-9]{6}$/, '') : id;
}

/** A secret's tags as a map (missing keys and values read as ''). */
export function tagMap(tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined): Map<string, string> {
  return new Map((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/**
 * The leak identities a secret's tags name (finishSecret writes them): the fingerprint of
 * AWSCURRENT's and of AWSPREVIOUS's value, each with the value it belongs to. A tag is keyed
 * (`k1:` + 32 hex) or, written before keyed fingerprints, legacy plain (32 hex): both are read.
 */
export function heldFingerprints(tags: ReadonlyMap<string, string>): Array<{ fingerprint: string; which: 'current' | 'previous' }> {
  const held: Array<{ fingerprint: string; which: 'current' | 'previous' }> = [];
  for (const [key, which] of [[RotorTags.FINGERPRINT_CURRENT, 'current'], [RotorTags.FINGERPRINT_PREVIOUS, 'previous']] as const) {
    const fingerprint = tags.get(key);
    if (fingerprint) held.push({ fingerprint, which });
  }
  return held;
}

/**
 * Which of the secret's values a leaked identity's fingerprints name, if any: `candidates` are
 * every fingerprint the identity may be tagged with (fingerprint.ts, candidateFingerprints: keyed
 * and legacy plain), or the one fingerprint a leak event carried.
 */
export function heldFingerprint(
  tags: ReadonlyMap<string, string>,
  candidates: readonly string[],
): { fingerprint: string; which: 'current' | 'previous' } | undefined {
  return heldFingerprints(tags).find((h) => candidates.includes(h.fingerprint));
}
