/**
 * IAM's side of the audit: every user's access keys. Its own module with static imports (the
 * audit loads it with import() when it audits keys), so the bundler keeps only these parts of
 * the IAM SDK: an import() of the SDK package itself would keep all of it.
 */
import { IAMClient, paginateListAccessKeys, paginateListUsers } from '@aws-sdk/client-iam';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { AccessKeyEntry } from './audit.js';

export function iamClient(config: { region: string; profile?: string; credentials?: AwsCredentialIdentity }): IAMClient {
  return new IAMClient(config);
}

export async function* listAccessKeys(iam: IAMClient): AsyncGenerator<AccessKeyEntry> {
  for await (const page of paginateListUsers({ client: iam }, {})) {
    for (const user of page.Users ?? []) {
      for await (const keys of paginateListAccessKeys({ client: iam }, { UserName: user.UserName })) {
        for (const k of keys.AccessKeyMetadata ?? []) {
          yield { userName: user.UserName!, accessKeyId: k.AccessKeyId!, status: k.Status, createdAt: k.CreateDate };
        }
      }
    }
  }
}
