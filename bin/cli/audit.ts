/**
 * `rotor audit`: the audit (lambdas/audit/audit.ts, shared with the scheduled audit function)
 * printed for people or as JSON, with --fail-on for CI; with --accounts/--org, in every account
 * through its read role (./accounts.ts). No secret value is read.
 */
import { collectAudit, type AccessKeyAudit, type AuditClients, type AuditReport, type SecretAudit } from '../../lambdas/audit/audit.js';
import { auditSdkClients } from '../../lambdas/audit/clients.js';
import type { AwsCredentialIdentity } from '@smithy/types';
import { forEachAccount, type AccountSelection } from './accounts.js';
import { AUDIT_CONDITIONS, type AuditCondition } from './defaults.js';
import { explainAwsError } from './aws.js';
import { CliError, ExitCodes, type ExitCode } from './errors.js';
import { table, type Output } from './output.js';

export {
  collectAudit,
  isRotorFunction,
  type AccessKeyAudit,
  type AuditClients,
  type AuditOptions,
  type AuditReport,
  type FunctionKind,
  type SecretAudit,
} from '../../lambdas/audit/audit.js';

/** The report for people: secrets with findings, old keys, then the counts. */
export function renderAudit(report: AuditReport): string {
  const lines: string[] = [];
  const flagged = report.secrets.filter((s) => s.findings.length > 0);
  lines.push(`Audited ${report.checked.secrets} secret(s) in ${report.regions.join(', ')} and ${report.checked.accessKeys} IAM access key(s); no secret value was read.`);
  if (flagged.length) {
    lines.push('');
    lines.push(
      table(
        ['region', 'secret', 'rotor', 'findings'],
        flagged.map((s) => [s.region, s.name, s.kind ?? '-', s.findings.map((f) => f.detail).join('; ')]),
      ),
    );
  }
  if (report.accessKeys.length) {
    lines.push('');
    lines.push(table(['user', 'access key', 'age', 'finding'], report.accessKeys.map((k) => [k.userName, k.accessKeyId, `${k.ageDays} d`, k.detail])));
  }
  lines.push('');
  lines.push(
    Object.entries(report.counts)
      .map(([c, n]) => `${c}: ${n}`)
      .join(', '),
  );
  return lines.join('\n');
}

export interface AuditCommandOptions {
  readonly json: boolean;
  readonly allRegions: boolean;
  readonly regions?: readonly string[];
  readonly at?: Date;
  readonly stuckAfterMinutes?: number;
  readonly keyMaxAgeDays?: number;
  readonly iam: boolean;
  readonly failOn?: readonly AuditCondition[];
  /** Progress lines on stderr (a terminal, not JSON). */
  readonly progress: boolean;
  readonly profile?: string;
  /**
   * Audit these accounts (or the Organization's) through their read role instead of the CLI's own.
   * @default - the account of the CLI's credentials only
   */
  readonly accounts?: AccountSelection;
}

/**
 * The SDK clients of an audit: the audit's own (per region, lambdas/audit/clients.ts) with the
 * command's profile or an assumed role's credentials, and EC2 for --all-regions; the SDK loads on use.
 */
export async function sdkAuditClients(
  defaultRegion: string,
  profile: string | undefined,
  credentials?: AwsCredentialIdentity,
): Promise<AuditClients & { regions(): Promise<string[]>; destroy(): void }> {
  const clients = await auditSdkClients({ region: defaultRegion, profile, credentials });
  let ec2: import('@aws-sdk/client-ec2').EC2Client | undefined;
  return {
    ...clients,
    /** The account's enabled regions (EC2 DescribeRegions lists only those by default). */
    async regions() {
      const { EC2Client, DescribeRegionsCommand } = await import('@aws-sdk/client-ec2');
      ec2 ??= new EC2Client({ region: defaultRegion, ...(profile ? { profile } : {}), ...(credentials ? { credentials } : {}) });
      const out = await ec2.send(new DescribeRegionsCommand({}));
      return (out.Regions ?? []).map((r) => r.RegionName!).filter(Boolean).sort();
    },
    destroy() {
      clients.destroy();
      ec2?.destroy();
    },
  };
}

interface AuditContext {
  readonly region: string;
  readonly profile?: string;
  readonly out: Output;
  readonly now: () => number;
  readonly endpoint?: string;
}

/** One account's audit (the CLI's own credentials, or an assumed role's): its regions, then the report. */
async function auditOneAccount(options: AuditCommandOptions, ctx: AuditContext, now: Date, credentials?: AwsCredentialIdentity, label = ''): Promise<AuditReport> {
  const clients = await sdkAuditClients(ctx.region, options.profile ?? ctx.profile, credentials);
  const where = { region: ctx.region, endpoint: ctx.endpoint };
  try {
    let regions: readonly string[];
    try {
      regions = options.allRegions ? await clients.regions() : (options.regions ?? [ctx.region]);
    } catch (err) {
      throw explainAwsError(err, `listing the enabled regions${label} (EC2 DescribeRegions)`, where);
    }
    try {
      return await collectAudit(
        { ...clients, accessKeys: options.iam ? clients.accessKeys : undefined },
        {
          regions,
          now,
          stuckAfterMinutes: options.stuckAfterMinutes,
          keyMaxAgeDays: options.keyMaxAgeDays,
          progress: options.progress ? (text) => ctx.out.note(`rotor audit:${label} ${text}`) : undefined,
        },
      );
    } catch (err) {
      throw explainAwsError(err, `auditing secrets${label} (ListSecrets, DescribeSecret, IAM ListAccessKeys)`, where);
    }
  } finally {
    clients.destroy();
  }
}

/** `rotor audit`: the report (table or JSON), exit ATTENTION when --fail-on matched. */
export async function auditCommand(options: AuditCommandOptions, ctx: AuditContext): Promise<ExitCode> {
  const now = options.at ?? new Date(ctx.now());
  if (options.accounts) return auditAccountsCommand(options, options.accounts, ctx, now);
  const report = await auditOneAccount(options, ctx, now);
  const failOn = options.failOn ?? [];
  const matched = Object.fromEntries(failOn.filter((c) => report.counts[c] > 0).map((c) => [c, report.counts[c]]));
  return printWithFailOn(ctx, now, report, renderAudit(report), failOn, matched);
}

/** Prints the report (the JSON result, or the table) and applies --fail-on: exit 4 naming what matched. */
function printWithFailOn(
  ctx: AuditContext,
  now: Date,
  report: object,
  rendered: string,
  failOn: readonly AuditCondition[],
  matched: Record<string, number>,
): ExitCode {
  const attention = Object.keys(matched).length > 0;
  ctx.out.result({
    at: now.toISOString(),
    ...report,
    ...(failOn.length ? { failOn: { conditions: failOn, matched, exitCode: attention ? ExitCodes.ATTENTION : ExitCodes.OK } } : {}),
  });
  ctx.out.line(rendered);
  if (!attention) return ExitCodes.OK;
  ctx.out.note(`rotor: --fail-on ${failOn.join(',')}: ${Object.entries(matched).map(([c, n]) => `${n} ${c}`).join(', ')}`);
  return ExitCodes.ATTENTION;
}

/** One account in the many-account report: how it was read, and its counts, or why it could not be. */
export interface AccountAuditSummary {
  readonly account: string;
  readonly name?: string;
  readonly via?: 'role' | 'caller';
  readonly regions?: readonly string[];
  readonly checked?: AuditReport['checked'];
  readonly counts?: AuditReport['counts'];
  /** Why the account could not be audited (its role cannot be assumed, a call was refused). */
  readonly error?: string;
}

/** The many-account audit: every account's findings, each marked with its account. */
export interface AccountsAuditReport {
  readonly roleName: string;
  readonly accounts: readonly AccountAuditSummary[];
  readonly secrets: ReadonlyArray<SecretAudit & { readonly account: string }>;
  readonly accessKeys: ReadonlyArray<AccessKeyAudit & { readonly account: string }>;
  /** Over every account audited. */
  readonly counts: Readonly<Record<AuditCondition, number>>;
  readonly checked: { readonly accounts: number; readonly unreadable: number; readonly secrets: number; readonly accessKeys: number };
}

/**
 * `rotor audit --accounts|--org`: the same audit in every account (a few at a time); an account
 * that cannot be read is reported and counts as a problem for --fail-on, whatever it names.
 */
async function auditAccountsCommand(options: AuditCommandOptions, selection: AccountSelection, ctx: AuditContext, now: Date): Promise<ExitCode> {
  const outcomes = await forEachAccount(
    selection,
    { region: ctx.region, profile: options.profile ?? ctx.profile, endpoint: ctx.endpoint },
    (access) => auditOneAccount(options, ctx, now, access.credentials, ` account ${access.accountId}:`),
    options.progress ? (text) => ctx.out.note(`rotor audit: ${text}`) : undefined,
  );
  const counts = Object.fromEntries(AUDIT_CONDITIONS.map((c) => [c, 0])) as Record<AuditCondition, number>;
  const report: AccountsAuditReport = {
    roleName: selection.roleName,
    accounts: outcomes.map((o) => ({
      account: o.target.accountId,
      ...(o.target.name !== undefined ? { name: o.target.name } : {}),
      ...(o.via ? { via: o.via } : {}),
      ...(o.value ? { regions: o.value.regions, checked: o.value.checked, counts: o.value.counts } : { error: o.error }),
    })),
    secrets: outcomes.flatMap((o) => (o.value?.secrets ?? []).map((s) => ({ account: o.target.accountId, ...s }))),
    accessKeys: outcomes.flatMap((o) => (o.value?.accessKeys ?? []).map((k) => ({ account: o.target.accountId, ...k }))),
    counts,
    checked: {
      accounts: outcomes.length,
      unreadable: outcomes.filter((o) => o.error !== undefined).length,
      secrets: outcomes.reduce((n, o) => n + (o.value?.checked.secrets ?? 0), 0),
      accessKeys: outcomes.reduce((n, o) => n + (o.value?.checked.accessKeys ?? 0), 0),
    },
  };
  for (const o of outcomes) for (const c of AUDIT_CONDITIONS) counts[c] += o.value?.counts[c] ?? 0;

  if (report.checked.unreadable === outcomes.length) {
    throw new CliError(`no account could be audited: ${report.accounts.map((a) => `${a.account}: ${a.error}`).join('; ')}`);
  }
  const failOn = options.failOn ?? [];
  const matched: Record<string, number> = Object.fromEntries(failOn.filter((c) => counts[c] > 0).map((c) => [c, counts[c]]));
  if (failOn.length && report.checked.unreadable > 0) matched['account-unreadable'] = report.checked.unreadable;
  return printWithFailOn(ctx, now, report, renderAccountsAudit(report), failOn, matched);
}

/** The many-account report for people: findings with their account, old keys, the accounts not read, then the counts. */
export function renderAccountsAudit(report: AccountsAuditReport): string {
  const lines: string[] = [];
  const read = report.accounts.filter((a) => a.error === undefined);
  lines.push(
    `Audited ${report.checked.secrets} secret(s) and ${report.checked.accessKeys} IAM access key(s) in ${read.length} of ${report.checked.accounts} account(s) ` +
      `(role ${report.roleName}); no secret value was read.`,
  );
  const flagged = report.secrets.filter((s) => s.findings.length > 0);
  if (flagged.length) {
    lines.push('');
    lines.push(
      table(
        ['account', 'region', 'secret', 'rotor', 'findings'],
        flagged.map((s) => [s.account, s.region, s.name, s.kind ?? '-', s.findings.map((f) => f.detail).join('; ')]),
      ),
    );
  }
  if (report.accessKeys.length) {
    lines.push('');
    lines.push(table(['account', 'user', 'access key', 'age', 'finding'], report.accessKeys.map((k) => [k.account, k.userName, k.accessKeyId, `${k.ageDays} d`, k.detail])));
  }
  const unreadable = report.accounts.filter((a) => a.error !== undefined);
  if (unreadable.length) {
    lines.push('');
    for (const a of unreadable) lines.push(`  ! account ${a.account}${a.name ? ` (${a.name})` : ''} not audited: ${a.error}`);
  }
  lines.push('');
  lines.push(
    Object.entries(report.counts)
      .map(([c, n]) => `${c}: ${n}`)
      .join(', '),
  );
  return lines.join('\n');
}
