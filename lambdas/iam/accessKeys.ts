import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  GetAccessKeyLastUsedCommand,
  ListAccessKeysCommand,
  ListUserTagsCommand,
  NoSuchEntityException,
  TagUserCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';

/** Access key statuses as IAM reports them. */
export const KeyStatus = {
  ACTIVE: 'Active',
  INACTIVE: 'Inactive',
} as const;
export type KeyStatus = (typeof KeyStatus)[keyof typeof KeyStatus];

export interface AccessKeyInfo {
  readonly accessKeyId: string;
  readonly status: string;
  readonly createDate?: Date;
}

/** IAM's tag values allow at most 256 characters. */
const MAX_TAG_VALUE = 256;

/**
 * The mark Rotor puts on a key it creates: an IAM user tag whose key is the access key id and
 * whose value names the secret (the IAM console shows such a tag as the key's description).
 * It tells an orphan that an interrupted createSecret left behind from a key somebody else made.
 */
export function keyMarker(secretArn: string): string {
  const resource = secretArn.includes(':secret:') ? secretArn.slice(secretArn.indexOf(':secret:') + 8) : secretArn;
  return `Rotor: ${resource}`.slice(0, MAX_TAG_VALUE);
}

/** The IAM calls the kind makes, on one user, with the errors IAM answers turned into facts. */
export class AccessKeys {
  public constructor(
    private readonly iam: IAMClient,
    public readonly username: string,
  ) {}

  public async list(): Promise<AccessKeyInfo[]> {
    const out = await this.iam.send(new ListAccessKeysCommand({ UserName: this.username }));
    return (out.AccessKeyMetadata ?? []).map((k) => ({
      accessKeyId: k.AccessKeyId ?? '',
      status: k.Status ?? '',
      createDate: k.CreateDate,
    }));
  }

  /** Like list(), but an empty list when the user does not exist (nothing left to retire). */
  public async listOrNone(): Promise<AccessKeyInfo[]> {
    try {
      return await this.list();
    } catch (err) {
      if (err instanceof NoSuchEntityException) return [];
      throw err;
    }
  }

  /** The user's tags that mark access keys (key = access key id), as id → value. */
  public async markers(): Promise<Map<string, string>> {
    const out = await this.iam.send(new ListUserTagsCommand({ UserName: this.username }));
    return new Map((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  }

  /**
   * When IAM last saw the key used, by which service, in which region; `at` undefined when it
   * never was (IAM answers ServiceName and Region 'N/A'); undefined when the key does not exist.
   */
  public async lastUsed(accessKeyId: string): Promise<{ at?: Date; service?: string; region?: string } | undefined> {
    try {
      const out = await this.iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }));
      const used = out.AccessKeyLastUsed;
      const known = (v: string | undefined) => (v && v !== 'N/A' ? v : undefined);
      return { at: used?.LastUsedDate, service: known(used?.ServiceName), region: known(used?.Region) };
    } catch (err) {
      if (err instanceof NoSuchEntityException) return undefined;
      throw err;
    }
  }

  public async create(): Promise<{ accessKeyId: string; secretAccessKey: string }> {
    const out = await this.iam.send(new CreateAccessKeyCommand({ UserName: this.username }));
    const key = out.AccessKey;
    if (!key?.AccessKeyId || !key.SecretAccessKey) throw new Error('CreateAccessKey returned no key');
    return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
  }

  public async mark(accessKeyId: string, marker: string): Promise<void> {
    await this.iam.send(new TagUserCommand({ UserName: this.username, Tags: [{ Key: accessKeyId, Value: marker }] }));
  }

  /** Sets a key's status; answers false when the key does not exist. */
  public async setStatus(accessKeyId: string, status: KeyStatus): Promise<boolean> {
    try {
      await this.iam.send(new UpdateAccessKeyCommand({ UserName: this.username, AccessKeyId: accessKeyId, Status: status }));
      return true;
    } catch (err) {
      if (err instanceof NoSuchEntityException) return false;
      throw err;
    }
  }

  /** Deletes a key and its marker tag; answers false when the key was already gone. */
  public async delete(accessKeyId: string): Promise<boolean> {
    let existed = true;
    try {
      await this.iam.send(new DeleteAccessKeyCommand({ UserName: this.username, AccessKeyId: accessKeyId }));
    } catch (err) {
      if (!(err instanceof NoSuchEntityException)) throw err;
      existed = false;
    }
    // Removing a tag the user does not have is not an error.
    await this.iam
      .send(new UntagUserCommand({ UserName: this.username, TagKeys: [accessKeyId] }))
      .catch((err: unknown) => {
        if (!(err instanceof NoSuchEntityException)) throw err;
      });
    return existed;
  }
}
