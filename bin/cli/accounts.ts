/**
 * Many accounts for `rotor status|audit --accounts <ids>|--org`: which accounts (the list given,
 * or the Organization's ACTIVE accounts from ListAccounts), and credentials in each (STS
 * AssumeRole of the read role the member stack creates, Organization.READ_ROLE_NAME by default).
 * The account the CLI's own credentials are in is read with them, as without the flags (a
 * management account usually has no member stack). Accounts are read a few at a time; one whose
 * role cannot be assumed, or that fails, is reported and the others go on.
 */
import type { AwsCredentialIdentity } from '@smithy/types';
import { accountsDefaults, statusDefaults } from './defaults.js';
import { explainAwsError } from './aws.js';
import { CliError } from './errors.js';

/** What the command line chose: a list of accounts, or the Organization's. */
export type AccountSelection =
  | { readonly accounts: readonly string[]; readonly org?: never; readonly roleName: string }
  | { readonly org: true; readonly accounts?: never; readonly roleName: string };

export interface AccountTarget {
  readonly accountId: string;
  /** The account's name in the Organization (--org only). */
  readonly name?: string;
}

/** One account, ready to read: credentials of the assumed role, or the CLI's own (`via: 'caller'`). */
export interface AccountAccess extends AccountTarget {
  readonly via: 'role' | 'caller';
  /** Undefined for `via: 'caller'`: the CLI's own credential chain. */
  readonly credentials?: AwsCredentialIdentity;
}

/** What one account gave: the value, or why it could not be read. */
export type AccountOutcome<T> =
  | { readonly target: AccountTarget; readonly via: AccountAccess['via']; readonly value: T; readonly error?: never }
  | { readonly target: AccountTarget; readonly via?: AccountAccess['via']; readonly error: string; readonly value?: never };

export interface AccountsContext {
  readonly region: string;
  readonly profile?: string;
  readonly endpoint?: string;
}

/** The partition of a region's ARNs. */
function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export function readRoleArn(accountId: string, roleName: string, region: string): string {
  return `arn:${partitionOf(region)}:iam::${accountId}:role/${roleName}`;
}

/**
 * Runs `read` for every account, at most `concurrency` at once (the status/audit default), in
 * the order given: assume the role, then read. A failure (the role cannot be assumed, a call is
 * refused) becomes that account's `error`, a sentence naming the account and the role; the
 * others go on. `progress` hears of each account as it starts.
 */
export async function forEachAccount<T>(
  selection: AccountSelection,
  ctx: AccountsContext,
  read: (access: AccountAccess) => Promise<T>,
  progress?: (text: string) => void,
): Promise<Array<AccountOutcome<T>>> {
  const { STSClient, AssumeRoleCommand, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({ region: ctx.region, ...(ctx.profile ? { profile: ctx.profile } : {}) });
  try {
    let caller: string | undefined;
    try {
      caller = (await sts.send(new GetCallerIdentityCommand({}))).Account;
    } catch (err) {
      throw explainAwsError(err, 'finding the account of your credentials (STS GetCallerIdentity)', ctx);
    }
    const targets: AccountTarget[] = selection.org ? await organizationAccounts(ctx) : selection.accounts.map((accountId) => ({ accountId }));
    if (targets.length === 0) throw new CliError('the Organization lists no ACTIVE account (Organizations ListAccounts)');
    const outcomes: Array<AccountOutcome<T>> = new Array(targets.length);
    let next = 0;
    const worker = async () => {
      while (next < targets.length) {
        const i = next++;
        const target = targets[i]!;
        progress?.(`account ${i + 1}/${targets.length} (${target.accountId}${target.name ? ` ${target.name}` : ''})`);
        const roleArn = readRoleArn(target.accountId, selection.roleName, ctx.region);
        let access: AccountAccess;
        if (target.accountId === caller) access = { ...target, via: 'caller' };
        else {
          try {
            const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: accountsDefaults.sessionName }));
            const c = out.Credentials;
            if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole answered no credentials');
            access = {
              ...target,
              via: 'role',
              credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration },
            };
          } catch (err) {
            const e = err as Error;
            outcomes[i] = { target, error: `cannot assume ${roleArn} (${e.name}: ${e.message.split('\n')[0]}): deploy the member stack there, or pass --role-name` };
            continue;
          }
        }
        try {
          outcomes[i] = { target, via: access.via, value: await read(access) };
        } catch (err) {
          const e = err instanceof CliError ? err : explainAwsError(err, `reading account ${target.accountId}`, ctx);
          outcomes[i] = { target, via: access.via, error: e.message };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(statusDefaults.concurrency, targets.length) }, worker));
    return outcomes;
  } finally {
    sts.destroy();
  }
}

/** The Organization's ACTIVE accounts (ListAccounts, with the SDK's paginator), as it lists them. */
export async function organizationAccounts(ctx: AccountsContext): Promise<AccountTarget[]> {
  const { OrganizationsClient, paginateListAccounts } = await import('@aws-sdk/client-organizations');
  const org = new OrganizationsClient({ region: ctx.region, ...(ctx.profile ? { profile: ctx.profile } : {}) });
  const out: AccountTarget[] = [];
  try {
    for await (const page of paginateListAccounts({ client: org }, {})) {
      for (const a of page.Accounts ?? []) {
        // `State` replaces the deprecated `Status` (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED).
        const state = a.State ?? a.Status;
        if (a.Id && state === 'ACTIVE') out.push({ accountId: a.Id, name: a.Name });
      }
    }
  } catch (err) {
    throw explainAwsError(err, "listing the Organization's accounts (Organizations ListAccounts; run from the management account or a delegated administrator)", ctx);
  } finally {
    org.destroy();
  }
  return out;
}
