/** Reading staging labels and tags as Secrets Manager returns them (DescribeSecret, ListSecrets). */

/** Version ids to their staging labels (`VersionIdsToStages`, `SecretVersionsToStages`). */
export type StagesById = Readonly<Record<string, readonly string[]>>;

/** The version that holds `stage` (other than `except`), if any. */
export function versionHolding(versions: StagesById | undefined, stage: string, except?: string): string | undefined {
  return Object.entries(versions ?? {}).find(([id, stages]) => stages.includes(stage) && id !== except)?.[0];
}

/** A secret's tags as a map (missing keys and values read as ''). */
export function tagMap(tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined): Map<string, string> {
  return new Map((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}
