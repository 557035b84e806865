import { IAMClient } from '@aws-sdk/client-iam';
import { finding } from '../contract/index.js';
import type { PreflightContext, PreflightFinding, RotationKind } from '../core/types.js';
import { AccessKeys, KeyStatus } from './accessKeys.js';
import { callerIdentity, defaultStsClientFactory, KeyNotAcceptedError, userNameOfArn, type StsClientFactory } from './callerIdentity.js';
import { planRoom, type RoomPlan } from './iamKind.js';
import type { IamSecret } from './secret.js';

const { ok, problem } = finding;

export const IamChecks = {
  USER_KEYS: 'iam-user-keys',
  CURRENT_KEY: 'current-key',
  KEY_ROOM: 'key-room',
} as const;

/** One STS attempt: a preflight asks about a key that exists already, IAM's eventual consistency is not waited for. */
const ONE_ATTEMPT = { timeoutMs: 0, firstDelayMs: 1, maxDelayMs: 1 } as const;

/**
 * The IAM kind with its preflight (`rotor preflight`), as the rotation function's entry deploys
 * it (attached there: the emergency and retire functions never preflight and do not carry it).
 * `clients` as the kind's own options: the IAM client (or a factory, called on first use) and the
 * STS client factory that signs with a key.
 * @default - new IAMClient({}) and new STSClient({ credentials }), as the kind's defaults
 */
export function withIamPreflight(
  kind: RotationKind<IamSecret>,
  clients: { readonly iam?: IAMClient | (() => IAMClient); readonly stsClient?: StsClientFactory } = {},
): RotationKind<IamSecret> {
  let client: IAMClient | undefined;
  const iam = () => (client ??= typeof clients.iam === 'function' ? clients.iam() : (clients.iam ?? new IAMClient({})));
  return {
    ...kind,
    preflight: (current, ctx) => iamPreflight(current, ctx, { iam: iam(), stsClient: clients.stsClient ?? defaultStsClientFactory }),
  };
}

/**
 * The IAM kind's preflight. Read-only: ListAccessKeys and, only when the user holds a key no
 * version names, ListUserTags (what createSecret reads, through the same planRoom); one STS
 * GetCallerIdentity signed with the AWSCURRENT key. No key is created, deactivated or deleted.
 */
export async function iamPreflight(
  current: IamSecret,
  ctx: PreflightContext<IamSecret>,
  clients: { iam: IAMClient; stsClient: StsClientFactory },
): Promise<PreflightFinding[]> {
  const found: PreflightFinding[] = [];
  const keys = new AccessKeys(clients.iam, current.username);
  const user = JSON.stringify(current.username);
  let plan: RoomPlan;
  try {
    plan = await planRoom(current, keys, ctx);
  } catch (err) {
    const e = err as Error;
    found.push(
      problem(
        IamChecks.USER_KEYS,
        `listing the access keys of IAM user ${user} failed: ${e.message}`,
        /does not exist/.test(e.message)
          ? "correct the secret's username, or create the user"
          : "allow iam:ListAccessKeys and iam:ListUserTags on the user to this function's role (the construct grants them)",
      ),
    );
    return found;
  }
  found.push(ok(IamChecks.USER_KEYS, `IAM user ${user} holds ${plan.held.length} access key(s)`));

  // The AWSCURRENT key: consumers use it; the rotation does not need it (it acts with the function's role).
  ctx.recordLogin();
  const onUser = plan.held.find((k) => k.accessKeyId === current.accessKeyId);
  try {
    const identity = await callerIdentity(current, ONE_ATTEMPT, { stsClient: clients.stsClient });
    if (userNameOfArn(identity.arn) !== current.username) {
      found.push(
        problem(
          IamChecks.CURRENT_KEY,
          `the AWSCURRENT key ${current.accessKeyId} signs in as ${identity.arn}, not as IAM user ${user}`,
          "correct the secret: its username and key must be the same user's",
        ),
      );
    } else if (!onUser || onUser.status !== KeyStatus.ACTIVE) {
      found.push(
        problem(
          IamChecks.CURRENT_KEY,
          `the AWSCURRENT key ${current.accessKeyId} is ${onUser ? onUser.status : 'not on the user'}: consumers reading the secret cannot use it`,
          'rotate now (the rotation replaces it), or reactivate the key if it was deactivated by mistake',
        ),
      );
    } else {
      found.push(ok(IamChecks.CURRENT_KEY, `the AWSCURRENT key ${current.accessKeyId} is Active and signs in as IAM user ${user}`));
    }
  } catch (err) {
    const reason = err instanceof KeyNotAcceptedError ? ((err.cause as Error | undefined)?.name ?? err.message) : (err as Error).name;
    found.push(
      problem(
        IamChecks.CURRENT_KEY,
        `STS refuses the AWSCURRENT key ${current.accessKeyId} (${reason}): consumers reading the secret cannot use it`,
        'rotate now: createSecret makes a new key with the function\'s own permissions and does not need the current one',
      ),
    );
  }

  if (plan.blockedBy) {
    const key = plan.blockedBy.key;
    found.push(
      problem(
        IamChecks.KEY_ROOM,
        `IAM user ${user} already holds ${plan.blockedBy.held} access keys and key ${key?.accessKeyId ?? '(unknown)'} is in no version of the ` +
          'secret and was not created by Rotor for it: createSecret would refuse (Rotor never deletes a key it does not know)',
        `delete that key (aws iam delete-access-key --user-name ${current.username} --access-key-id ${key?.accessKeyId ?? '<id>'}) or make it the secret's AWSPREVIOUS`,
      ),
    );
    return found;
  }
  const parts: string[] = [];
  if (plan.orphans.length > 0) parts.push(`${plan.orphans.length} key(s) Rotor created for this secret and never stored would be deleted`);
  if (plan.deletePrevious) {
    parts.push(
      `the AWSPREVIOUS key ${plan.deletePrevious.accessKeyId} (${plan.deletePrevious.status}) would be deleted to make room` +
        (plan.deletePrevious.status === KeyStatus.ACTIVE ? ', cutting its grace window short' : ''),
    );
  } else {
    parts.push('the user has room for a second key');
  }
  found.push(ok(IamChecks.KEY_ROOM, parts.join('; ')));
  return found;
}
