import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { noteCredential } from './hygiene.js';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { randomBytes } from 'node:crypto';

/** AWS-side helpers for moto with signature checks on (no vitest: the sandbox uses them too). */

/** Calls moto serves before it starts checking signatures: CreateUser, PutUserPolicy, CreateAccessKey. */
export const BOOTSTRAP_CALLS = 3;

export interface KeyPair {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export const region = 'us-east-1';

/**
 * Creates an administrator in moto's first free calls and returns its key: from then on every
 * call (Secrets Manager's, EventBridge's, STS's) must be signed with a key IAM knows.
 */
export async function bootstrapAdmin(endpoint: string): Promise<KeyPair> {
  const iam = new IAMClient({ endpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    const name = `rotor-sandbox-admin-${randomBytes(3).toString('hex')}`;
    await iam.send(new CreateUserCommand({ UserName: name }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: name,
        PolicyName: 'admin',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    );
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey;
    noteCredential(key!.SecretAccessKey);
    return { accessKeyId: key!.AccessKeyId!, secretAccessKey: key!.SecretAccessKey! };
  } finally {
    iam.destroy();
  }
}

/** Whom STS says a key signs in as (the user name), or "refused (<error>)". */
export async function stsAnswer(endpoint: string, key: KeyPair): Promise<{ ok: boolean; text: string }> {
  const sts = new STSClient({ endpoint, region, credentials: key, maxAttempts: 1 });
  try {
    const arn = (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? '(no arn)';
    return { ok: true, text: `signs in as ${arn.split('/').at(-1)}` };
  } catch (err) {
    return { ok: false, text: `refused (${(err as Error).name})` };
  } finally {
    sts.destroy();
  }
}

/** An access-key-id-shaped string made at run time (no credential-shaped literal is committed). */
export function fakeAccessKeyId(): string {
  return `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
}
