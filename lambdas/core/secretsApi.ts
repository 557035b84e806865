import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  paginateListSecrets,
  paginateListSecretVersionIds,
  PutSecretValueCommand,
  ResourceNotFoundException,
  RotateSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type DescribeSecretCommandOutput,
  type Filter,
  type RotateSecretCommandInput,
  type RotateSecretCommandOutput,
  type SecretListEntry,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { PasswordPolicy, Stage } from './types.js';
import { versionHolding } from './labels.js';
import { replicasOf, type ReplicaState } from './replication.js';

/** The parts of DescribeSecret the engine uses. */
export interface SecretDescription {
  readonly arn: string;
  readonly name: string;
  readonly rotationEnabled: boolean;
  readonly versions: Readonly<Record<string, readonly string[]>>;
  /** The secret's tags, by key. */
  readonly tags: Readonly<Record<string, string>>;
  /** Its replicas in other regions and their ReplicationStatus (empty: not replicated). */
  readonly replicas: readonly ReplicaState[];
}

/** One version's value as GetSecretValue answers it (the value is a secret: never log it). */
export interface SecretVersionValue {
  /** The secret's ARN (the id asked for when the answer names none). */
  readonly arn: string;
  readonly secretString: string;
  readonly createdDate?: Date;
}

/**
 * The one Secrets Manager wrapper of Rotor's functions and CLI: the engine, the retire run, the
 * emergency handler, the API-token kind's management read and `rotor` all call Secrets Manager
 * through it. Every call is counted (`calls`), so that each can report its round trips (the cost
 * of a rotation); lists are paged with the SDK's paginators, one call per page.
 */
export class SecretsApi {
  public calls = 0;

  public constructor(private readonly client: SecretsManagerClient) {}

  /** DescribeSecret's whole answer (tags, rotation configuration, dates): what the CLI and the emergency handler read. */
  public async describeSecret(secretId: string): Promise<DescribeSecretCommandOutput> {
    this.calls++;
    return this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
  }

  public async describe(secretId: string): Promise<SecretDescription> {
    return toDescription(await this.describeSecret(secretId), secretId);
  }

  /**
   * Reads one version, always naming both the version and the stage. Returns undefined when the
   * version has no value yet (Secrets Manager answers ResourceNotFound; moto may answer empty).
   */
  public async getValue(secretId: string, versionId: string | undefined, stage: Stage | undefined): Promise<string | undefined> {
    return (await this.getVersion(secretId, versionId, stage))?.secretString;
  }

  /** As getValue, with the secret's ARN and the version's creation date. */
  public async getVersion(
    secretId: string,
    versionId: string | undefined,
    stage: Stage | undefined,
  ): Promise<SecretVersionValue | undefined> {
    this.calls++;
    try {
      const out = await this.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: stage }),
      );
      if (out.SecretString === undefined || out.SecretString === '') return undefined;
      return { arn: out.ARN ?? secretId, secretString: out.SecretString, createdDate: out.CreatedDate };
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  }

  /**
   * The secrets ListSecrets finds with these filters, with their tags and labels, page by page
   * (the SDK's paginator; each page is one call). Stop iterating to stop asking.
   */
  public async *listSecrets(filters: Filter[], pageSize = 100): AsyncGenerator<SecretListEntry> {
    const pages = paginateListSecrets({ client: this.client, pageSize }, { Filters: filters });
    for await (const page of pages) {
      this.calls++;
      for (const entry of page.SecretList ?? []) yield entry;
    }
  }

  /**
   * Every version of the secret, labelled or not (IncludeDeprecated, unless `includeDeprecated` is
   * false: then the labelled ones and a few recent others, as ListSecretVersionIds answers), newest first: by
   * CreatedDate, and among equal dates (moto gives them all one date) the later-listed first.
   * Paged with the SDK's paginator; each page is one call.
   */
  public async listVersions(
    secretId: string,
    options: { includeDeprecated?: boolean } = {},
  ): Promise<Array<{ versionId: string; stages: string[]; created?: Date }>> {
    const found: Array<{ versionId: string; stages: string[]; created?: Date; order: number }> = [];
    const pages = paginateListSecretVersionIds(
      { client: this.client, pageSize: 100 },
      { SecretId: secretId, IncludeDeprecated: options.includeDeprecated ?? true },
    );
    for await (const page of pages) {
      this.calls++;
      for (const v of page.Versions ?? []) {
        if (v.VersionId) found.push({ versionId: v.VersionId, stages: v.VersionStages ?? [], created: v.CreatedDate, order: found.length });
      }
    }
    found.sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0) || b.order - a.order);
    return found.map(({ order: _order, ...v }) => v);
  }

  public async tag(secretId: string, tags: Record<string, string>): Promise<void> {
    this.calls++;
    await this.client.send(
      new TagResourceCommand({ SecretId: secretId, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
    );
  }

  public async untag(secretId: string, keys: readonly string[]): Promise<void> {
    this.calls++;
    await this.client.send(new UntagResourceCommand({ SecretId: secretId, TagKeys: [...keys] }));
  }

  /** RotateSecret: starts a rotation (RotateImmediately, a token, the function and rules to use). */
  public async rotate(input: RotateSecretCommandInput): Promise<RotateSecretCommandOutput> {
    this.calls++;
    return this.client.send(new RotateSecretCommand(input));
  }

  public async randomPassword(policy: PasswordPolicy): Promise<string> {
    this.calls++;
    const out = await this.client.send(
      new GetRandomPasswordCommand({
        PasswordLength: policy.length,
        ExcludeCharacters: policy.excludeCharacters || undefined,
      }),
    );
    if (!out.RandomPassword) throw new Error('GetRandomPassword returned no password');
    return out.RandomPassword;
  }

  public async putPending(secretId: string, token: string, secretString: string, stage: Stage): Promise<void> {
    await this.putVersion(secretId, token, secretString, stage);
  }

  /**
   * PutSecretValue with this token (the version id) and exactly this label: AWSPENDING, or a
   * label of Rotor's own such as a claim's (never AWSCURRENT: that is moveStage's job).
   */
  public async putVersion(secretId: string, token: string, secretString: string, stage: string): Promise<void> {
    this.calls++;
    await this.client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        ClientRequestToken: token,
        SecretString: secretString,
        VersionStages: [stage],
      }),
    );
  }

  public async moveStage(
    secretId: string,
    stage: Stage,
    move: { to?: string; from?: string },
  ): Promise<void> {
    this.calls++;
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: stage,
        MoveToVersionId: move.to,
        RemoveFromVersionId: move.from,
      }),
    );
  }
}

/** The parts of a DescribeSecret answer the engine uses. */
export function toDescription(
  out: Pick<DescribeSecretCommandOutput, 'ARN' | 'Name' | 'RotationEnabled' | 'VersionIdsToStages' | 'Tags' | 'ReplicationStatus'>,
  secretId = '',
): SecretDescription {
  return {
    arn: out.ARN ?? secretId,
    name: out.Name ?? secretId,
    rotationEnabled: out.RotationEnabled === true,
    versions: out.VersionIdsToStages ?? {},
    tags: Object.fromEntries((out.Tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']]))),
    replicas: replicasOf(out),
  };
}

/** The version id that holds a stage, if any. */
export function versionWithStage(description: SecretDescription, stage: Stage): string | undefined {
  return versionHolding(description.versions, stage);
}
