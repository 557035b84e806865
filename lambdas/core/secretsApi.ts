import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  paginateListSecretVersionIds,
  PutSecretValueCommand,
  ResourceNotFoundException,
  TagResourceCommand,
  type DescribeSecretCommandOutput,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { PasswordPolicy, Stage } from './types';
import { versionHolding } from './labels';

/** The parts of DescribeSecret the engine uses. */
export interface SecretDescription {
  readonly arn: string;
  readonly name: string;
  readonly rotationEnabled: boolean;
  readonly versions: Readonly<Record<string, readonly string[]>>;
}

/**
 * The Secrets Manager calls the engine makes, counted so that every step can report its
 * round trips (the cost of a rotation).
 */
export class SecretsApi {
  public calls = 0;

  public constructor(private readonly client: SecretsManagerClient) {}

  public async describe(secretId: string): Promise<SecretDescription> {
    this.calls++;
    const out: DescribeSecretCommandOutput = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return toDescription(out, secretId);
  }

  /**
   * Reads one version, always naming both the version and the stage. Returns undefined when the
   * version has no value yet (Secrets Manager answers ResourceNotFound; moto may answer empty).
   */
  public async getValue(secretId: string, versionId: string | undefined, stage: Stage | undefined): Promise<string | undefined> {
    this.calls++;
    try {
      const out = await this.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: stage }),
      );
      return out.SecretString === undefined || out.SecretString === '' ? undefined : out.SecretString;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  }

  /**
   * Every version of the secret, labelled or not (IncludeDeprecated), newest first: by
   * CreatedDate, and among equal dates (moto gives them all one date) the later-listed first.
   * Paged with the SDK's paginator; each page is one call.
   */
  public async listVersions(secretId: string): Promise<Array<{ versionId: string; stages: string[]; created?: Date }>> {
    const found: Array<{ versionId: string; stages: string[]; created?: Date; order: number }> = [];
    const pages = paginateListSecretVersionIds(
      { client: this.client, pageSize: 100 },
      { SecretId: secretId, IncludeDeprecated: true },
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
  out: Pick<DescribeSecretCommandOutput, 'ARN' | 'Name' | 'RotationEnabled' | 'VersionIdsToStages'>,
  secretId = '',
): SecretDescription {
  return {
    arn: out.ARN ?? secretId,
    name: out.Name ?? secretId,
    rotationEnabled: out.RotationEnabled === true,
    versions: out.VersionIdsToStages ?? {},
  };
}

/** The version id that holds a stage, if any. */
export function versionWithStage(description: SecretDescription, stage: Stage): string | undefined {
  return versionHolding(description.versions, stage);
}
