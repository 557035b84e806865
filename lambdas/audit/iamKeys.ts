/**
 * IAM's side of the audit: every user's access keys. Its own module with static imports (the
 * audit loads it with import() when it audits keys), so the bundler keeps only these parts of
 * the IAM SDK: an import() of the SDK package itself would keep all of it.
 */
import { IAMClient, paginateListAccessKeys, paginateListUsers, paginateListUserTags } from '@aws-sdk/client-iam';
import type { AwsCredentialIdentity } from '@smithy/types';
import { keyMarker } from '../iam/accessKeys.js';
import type { AccessKeyEntry } from './audit.js';

export function iamClient(config: { region: string; profile?: string; credentials?: AwsCredentialIdentity }): IAMClient {
  return new IAMClient(config);
}

/**
 * Every user's access keys. A key the IAM kind created carries its marker, a tag on the user keyed
 * by the access key id whose value names the secret (lambdas/iam/accessKeys.ts, keyMarker): a key
 * marked for one of `secretArns` is `heldBy` that secret. (The secret's fingerprint tags say the
 * same, but keyed ones cannot be matched without reading Rotor's fingerprint key, a secret value.)
 */
export async function* listAccessKeys(iam: IAMClient, secretArns: readonly string[] = []): AsyncGenerator<AccessKeyEntry> {
  const byMarker = new Map(secretArns.map((arn) => [keyMarker(arn), arn]));
  for await (const page of paginateListUsers({ client: iam }, {})) {
    for (const user of page.Users ?? []) {
      const keys: AccessKeyEntry[] = [];
      for await (const listed of paginateListAccessKeys({ client: iam }, { UserName: user.UserName })) {
        for (const k of listed.AccessKeyMetadata ?? []) {
          keys.push({ userName: user.UserName!, accessKeyId: k.AccessKeyId!, status: k.Status, createdAt: k.CreateDate });
        }
      }
      const markers = new Map<string, string>();
      if (keys.length > 0 && byMarker.size > 0) {
        for await (const tags of paginateListUserTags({ client: iam }, { UserName: user.UserName })) {
          for (const t of tags.Tags ?? []) if (t.Key && t.Value) markers.set(t.Key, t.Value);
        }
      }
      for (const k of keys) {
        const heldBy = byMarker.get(markers.get(k.accessKeyId) ?? '');
        yield heldBy ? { ...k, heldBy } : k;
      }
    }
  }
}
