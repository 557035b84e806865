import type { SecretListEntry, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ReplicaStatuses, RotorTags } from '../../lambdas/contract/index.js';
import { SecretsApi } from '../../lambdas/core/secretsApi.js';
import { Stages } from '../../lambdas/core/types.js';
import type { CommandContext } from './commands.js';
import { forEachAccount, type AccountSelection } from './accounts.js';
import { explainAwsError, functionNameOf } from './aws.js';
import { CliError, ExitCodes, type ExitCode } from './errors.js';
import { formatDuration, formatTime, shortId, table } from './output.js';
import { nextRotation, type NextRotation } from './schedule.js';
import { tagMap, versionHolding } from '../../lambdas/core/labels.js';
import { replicasOf, type ReplicaState } from '../../lambdas/core/replication.js';

import { statusDefaults, type FailOnCondition } from './defaults.js';

export { statusDefaults };

export interface StatusOptions {
  readonly secrets: SecretsManagerClient;
  /** The time overdue, stuck and grace are judged at. */
  readonly now: Date;
  /** @default statusDefaults.stuckAfterMinutes */
  readonly stuckAfterMinutes?: number;
}

export type PreviousState = 'none' | 'in-grace' | 'due-for-retirement' | 'retired';

/** What `rotor status` reports for one secret: ids, dates and tags, never a value. */
export interface SecretStatus {
  readonly name: string;
  readonly arn: string;
  readonly kind: string;
  /** The `rotor:strategy` tag; undefined means the kind's default strategy. */
  readonly strategy?: string;
  readonly rotationEnabled: boolean;
  /** Name of the rotation function, when one is configured. */
  readonly rotationFunction?: string;
  readonly lastRotated?: string;
  /** Undefined when rotation is off. */
  readonly nextRotation?: { readonly at?: string; readonly basis: NextRotation['basis']; readonly text: string };
  readonly overdue: boolean;
  /** An AWSPENDING version that is not AWSCURRENT: a rotation in progress, or stuck. */
  readonly pending?: {
    readonly versionId: string;
    readonly createdAt?: string;
    readonly ageMinutes?: number;
    readonly stuck: boolean;
  };
  /** Dual-active kinds only: the AWSPREVIOUS value and its grace window. */
  readonly previous?: {
    readonly state: PreviousState;
    readonly versionId?: string;
    readonly graceEndsAt?: string;
    readonly graceHours?: number;
    /** Where the grace hours came from; a `graceperiod` field in the value (not read here) takes precedence for the retire handler. */
    readonly graceHoursFrom?: 'tag' | 'default';
  };
  /**
   * A primary with replicas: each replica's region and state, as DescribeSecret reports them
   * (InSync, InProgress, Failed, with the service's message). Absent for a secret without replicas.
   */
  readonly replicas?: readonly ReplicaState[];
  /** This entry is a replica (listed in its own region): the region of its primary, where it rotates. */
  readonly replicaOf?: string;
  /** Anything that needs a person: overdue, stuck pending, no AWSCURRENT, a bad tag, a Failed replica. */
  readonly problems: readonly string[];
}


/** Every secret with a `rotor:kind` tag, page by page (the filter matches key prefixes: callers check the exact key). */
async function listTagged(secrets: SecretsApi): Promise<SecretListEntry[]> {
  const out: SecretListEntry[] = [];
  for await (const entry of secrets.listSecrets([{ Key: 'tag-key', Values: [RotorTags.KIND] }])) out.push(entry);
  return out;
}

/** When each version was created, as ListSecretVersionIds lists them (labelled ones and recent others). */
async function versionDates(secrets: SecretsApi, arn: string): Promise<Map<string, Date | undefined>> {
  const versions = await secrets.listVersions(arn, { includeDeprecated: false });
  return new Map(versions.map((v) => [v.versionId, v.created]));
}

function graceHoursOf(tags: Map<string, string>, problems: string[]): { hours: number; from: 'tag' | 'default' } {
  const tag = tags.get(RotorTags.GRACE_HOURS);
  if (tag === undefined || tag === '') return { hours: statusDefaults.graceHours, from: 'default' };
  if (!/^\d+(\.\d+)?$/.test(tag)) {
    problems.push(`tag ${RotorTags.GRACE_HOURS} '${tag.slice(0, 20)}' is not a number of hours`);
    return { hours: statusDefaults.graceHours, from: 'default' };
  }
  return { hours: Number(tag), from: 'tag' };
}

/** The status of one Rotor-managed secret; undefined for a secret whose tag only starts with `rotor:kind`. */
async function statusOf(entry: SecretListEntry, options: StatusOptions, secrets: SecretsApi): Promise<SecretStatus | undefined> {
  const tags = tagMap(entry.Tags);
  const kind = tags.get(RotorTags.KIND);
  if (kind === undefined) return undefined;
  const arn = entry.ARN ?? entry.Name ?? '(unknown)';
  const now = options.now.getTime();
  const problems: string[] = [];
  const stagesById = (entry.SecretVersionsToStages ?? {}) as Record<string, string[]>;
  const currentId = versionHolding(stagesById, Stages.CURRENT);
  if (!currentId) problems.push('no version is staged AWSCURRENT');

  const rotationEnabled = entry.RotationEnabled === true;
  const next = nextRotation({
    rotationEnabled,
    nextRotationDate: entry.NextRotationDate,
    lastRotatedDate: entry.LastRotatedDate,
    rules: entry.RotationRules,
  });
  const overdue = next?.at !== undefined && now > next.at.getTime();
  if (overdue) problems.push(`rotation overdue since ${formatTime(next.at)}`);

  const pendingId = versionHolding(stagesById, Stages.PENDING, undefined);
  const pendingOpen = pendingId !== undefined && !stagesById[pendingId]!.includes(Stages.CURRENT) ? pendingId : undefined;
  const dualActive = statusDefaults.dualActiveKinds.includes(kind);
  const previousId = versionHolding(stagesById, Stages.PREVIOUS);
  const retired = previousId !== undefined && tags.get(RotorTags.RETIRED_VERSION) === previousId;
  // Dates of versions come only from ListSecretVersionIds: ask only when something needs one.
  const needVersions = pendingOpen !== undefined || (dualActive && previousId !== undefined && !retired);
  const versions = needVersions ? await versionDates(secrets, arn) : new Map<string, Date | undefined>();

  let pending: SecretStatus['pending'];
  if (pendingOpen) {
    const created = versions.get(pendingOpen);
    const age = created ? now - created.getTime() : undefined;
    const stuck = age !== undefined && age > (options.stuckAfterMinutes ?? statusDefaults.stuckAfterMinutes) * 60_000;
    if (stuck) problems.push(`AWSPENDING version ${pendingOpen} stuck for ${formatDuration(age)}`);
    pending = {
      versionId: pendingOpen,
      createdAt: created?.toISOString(),
      ageMinutes: age === undefined ? undefined : Math.floor(age / 60_000),
      stuck,
    };
  }

  let previous: SecretStatus['previous'];
  if (dualActive) {
    if (!previousId) previous = { state: 'none' };
    else if (retired) previous = { state: 'retired', versionId: previousId };
    else {
      const grace = graceHoursOf(tags, problems);
      // As the retire handler measures it: from the later of the last rotation and the current version's creation.
      const since = Math.max(
        entry.LastRotatedDate?.getTime() ?? 0,
        (currentId ? versions.get(currentId)?.getTime() : undefined) ?? 0,
      );
      const ends = since > 0 ? new Date(since + grace.hours * 3_600_000) : undefined;
      const state: PreviousState = ends && now < ends.getTime() ? 'in-grace' : 'due-for-retirement';
      previous = {
        state,
        versionId: previousId,
        graceEndsAt: ends?.toISOString(),
        graceHours: grace.hours,
        graceHoursFrom: grace.from,
      };
    }
  }

  // Replicas: ListSecrets names a replica's primary region, but not a primary's replicas; DescribeSecret
  // (metadata only) does. A replica itself is not asked: its primary rotates and reports.
  const ownRegion = /^arn:[^:]+:secretsmanager:([^:]+):/.exec(arn)?.[1];
  const replicaOf = entry.PrimaryRegion && entry.PrimaryRegion !== ownRegion ? entry.PrimaryRegion : undefined;
  const replicas = replicaOf ? [] : replicasOf(await secrets.describeSecret(arn));
  for (const r of replicas) {
    if (r.status === ReplicaStatuses.FAILED) problems.push(`replica in ${r.region} Failed${r.statusMessage ? `: ${r.statusMessage}` : ''}`);
  }

  return {
    name: entry.Name ?? arn,
    arn,
    kind,
    strategy: tags.get(RotorTags.STRATEGY) || undefined,
    rotationEnabled,
    rotationFunction: entry.RotationLambdaARN ? functionNameOf(entry.RotationLambdaARN) : undefined,
    lastRotated: entry.LastRotatedDate?.toISOString(),
    nextRotation: next ? { at: next.at?.toISOString(), basis: next.basis, text: next.text } : undefined,
    overdue,
    pending,
    previous,
    ...(replicas.length > 0 ? { replicas } : {}),
    ...(replicaOf ? { replicaOf } : {}),
    problems,
  };
}

/** Every Rotor-managed secret of the account and region, sorted by name. Reads no secret value. */
export async function collectStatus(options: StatusOptions): Promise<SecretStatus[]> {
  const secrets = new SecretsApi(options.secrets);
  const entries = await listTagged(secrets);
  const results: Array<SecretStatus | undefined> = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const i = next++;
      results[i] = await statusOf(entries[i]!, options, secrets);
    }
  };
  await Promise.all(Array.from({ length: Math.min(statusDefaults.concurrency, entries.length) }, worker));
  return results.filter((s): s is SecretStatus => s !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}

function pendingText(s: SecretStatus): string {
  if (!s.pending) return '-';
  const age = s.pending.ageMinutes === undefined ? 'age unknown' : formatDuration(s.pending.ageMinutes * 60_000);
  return `${s.pending.stuck ? 'STUCK' : 'in progress'} ${age} (${shortId(s.pending.versionId)})`;
}

function previousText(s: SecretStatus): string {
  const p = s.previous;
  if (!p) return '-';
  switch (p.state) {
    case 'none':
      return 'none';
    case 'retired':
      return `retired (${shortId(p.versionId)})`;
    case 'in-grace':
      return `in grace until ${formatTime(p.graceEndsAt ? new Date(p.graceEndsAt) : undefined)}`;
    case 'due-for-retirement':
      return `due for retirement (${shortId(p.versionId)})`;
  }
}

function replicasText(s: SecretStatus): string {
  if (s.replicaOf) return `replica of ${s.replicaOf}`;
  if (!s.replicas) return '-';
  return s.replicas.map((r) => `${r.region} ${r.status}`).join(', ');
}

function nextText(s: SecretStatus): string {
  if (!s.nextRotation) return '-';
  const base = s.nextRotation.at ? formatTime(new Date(s.nextRotation.at)) : s.nextRotation.text;
  return s.overdue ? `${base} OVERDUE` : base;
}

/** The table `rotor status` prints, with a summary line. */
export function renderStatus(
  statuses: ReadonlyArray<SecretStatus & { readonly account?: string }>,
  context: {
    region: string;
    now: Date;
    at: boolean;
    /** --accounts/--org: the accounts read (or not, with the reason); the table gains an ACCOUNT column. */
    accounts?: ReadonlyArray<{ account: string; name?: string; error?: string }>;
  },
): string {
  const when = `${formatTime(context.now)}${context.at ? ' (--at)' : ''}`;
  const accounts = context.accounts;
  const unreadable = (accounts ?? []).filter((a) => a.error !== undefined);
  const where = accounts ? `${context.region}, ${accounts.length - unreadable.length} of ${accounts.length} account(s)` : context.region;
  const notRead = unreadable.map((a) => `  ! account ${a.account}${a.name ? ` (${a.name})` : ''} not read: ${a.error}`);
  if (statuses.length === 0) {
    return [`No Rotor-managed secrets (tagged ${RotorTags.KIND}) in ${where} as of ${when}.`, ...notRead].join('\n');
  }
  const rows = statuses.map((s) => [
    ...(accounts ? [s.account ?? '-'] : []),
    s.name,
    s.kind,
    s.strategy ?? 'default',
    s.rotationEnabled ? `on${s.rotationFunction ? ` (${s.rotationFunction})` : ''}` : 'off',
    formatTime(s.lastRotated ? new Date(s.lastRotated) : undefined),
    nextText(s),
    pendingText(s),
    previousText(s),
    replicasText(s),
  ]);
  const lines = [
    table([...(accounts ? ['ACCOUNT'] : []), 'NAME', 'KIND', 'STRATEGY', 'ROTATION', 'LAST ROTATED', 'NEXT ROTATION', 'PENDING', 'PREVIOUS (DUAL-ACTIVE)', 'REPLICAS'], rows),
    '',
  ];
  const count = (f: (s: SecretStatus) => boolean) => statuses.filter(f).length;
  const overdue = count((s) => s.overdue);
  const stuck = count((s) => s.pending?.stuck === true);
  const due = count((s) => s.previous?.state === 'due-for-retirement');
  const off = count((s) => !s.rotationEnabled);
  lines.push(
    `${statuses.length} Rotor-managed secret${statuses.length === 1 ? '' : 's'} in ${where} as of ${when}: ` +
      `${overdue} overdue, ${stuck} with a stuck AWSPENDING, ${due} due for retirement, ${off} with rotation off.`,
  );
  if (statuses.some((s) => s.previous?.graceHours !== undefined)) {
    lines.push(
      `Grace windows use the ${RotorTags.GRACE_HOURS} tag or ${statusDefaults.graceHours} h; ` +
        "a 'graceperiod' field in the secret value, which status does not read, takes precedence.",
    );
  }
  for (const s of statuses) for (const p of s.problems) lines.push(`  ! ${accounts ? `${s.account ?? '-'}:` : ''}${s.name}: ${p}`);
  lines.push(...notRead);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// rotor status --accounts|--org

/** A secret's status in the many-account report: which account it is in. */
export type AccountSecretStatus = SecretStatus & { readonly account: string };

export interface StatusAccountsOptions {
  readonly at?: Date;
  readonly stuckAfterMinutes?: number;
  readonly failOn?: readonly FailOnCondition[];
  readonly accounts: AccountSelection;
  readonly profile?: string;
  /** Progress lines on stderr (a terminal, not JSON). */
  readonly progress: boolean;
}

/**
 * `rotor status --accounts|--org`: the status of every Rotor-managed secret in each account (its
 * read role assumed, a few accounts at a time), each secret marked with its account. An account
 * that cannot be read is reported and counts as a problem for --fail-on; when none can be, the
 * command fails.
 */
export async function statusAccountsCommand(options: StatusAccountsOptions, ctx: CommandContext): Promise<ExitCode> {
  const now = options.at ?? new Date(ctx.now());
  const stuckAfterMinutes = options.stuckAfterMinutes ?? statusDefaults.stuckAfterMinutes;
  const { region, endpoint } = ctx.clients;
  const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const outcomes = await forEachAccount(
    options.accounts,
    { region, profile: options.profile, endpoint },
    async (access) => {
      if (!access.credentials) return collectStatus({ secrets: ctx.clients.secrets, now, stuckAfterMinutes });
      const secrets = new SecretsManagerClient({ region, credentials: access.credentials });
      try {
        return await collectStatus({ secrets, now, stuckAfterMinutes });
      } catch (err) {
        throw explainAwsError(err, `listing Rotor-managed secrets in account ${access.accountId} (ListSecrets)`, ctx.clients);
      } finally {
        secrets.destroy();
      }
    },
    options.progress ? (text) => ctx.out.note(`rotor status: ${text}`) : undefined,
  );
  const unreadable = outcomes.filter((o) => o.error !== undefined);
  if (unreadable.length === outcomes.length) {
    throw new CliError(`no account could be read: ${unreadable.map((o) => `${o.target.accountId}: ${o.error}`).join('; ')}`);
  }
  const statuses: AccountSecretStatus[] = outcomes.flatMap((o) => (o.value ?? []).map((s) => ({ account: o.target.accountId, ...s })));
  const failOn = options.failOn ?? [];
  const matched: Record<string, string[]> = {};
  for (const condition of failOn) {
    const names = statuses.filter((s) => (condition === 'overdue' ? s.overdue : s.pending?.stuck === true)).map((s) => `${s.account}:${s.name}`);
    if (names.length) matched[condition] = names;
  }
  if (failOn.length && unreadable.length) matched['account-unreadable'] = unreadable.map((o) => o.target.accountId);
  const attention = Object.keys(matched).length > 0;
  ctx.out.result({
    region,
    at: now.toISOString(),
    stuckAfterMinutes,
    roleName: options.accounts.roleName,
    accounts: outcomes.map((o) => ({
      account: o.target.accountId,
      ...(o.target.name !== undefined ? { name: o.target.name } : {}),
      ...(o.via ? { via: o.via } : {}),
      ...(o.value ? { secrets: o.value.length } : { error: o.error }),
    })),
    secrets: statuses,
    ...(failOn.length ? { failOn: { conditions: failOn, matched, exitCode: attention ? ExitCodes.ATTENTION : ExitCodes.OK } } : {}),
  });
  ctx.out.line(
    renderStatus(statuses, {
      region,
      now,
      at: options.at !== undefined,
      accounts: outcomes.map((o) => ({ account: o.target.accountId, name: o.target.name, error: o.error })),
    }),
  );
  if (!attention) return ExitCodes.OK;
  ctx.out.note(failOnNote(failOn, matched));
  return ExitCodes.ATTENTION;
}

/** What `status --fail-on` says on stderr when conditions matched: each with its count and secrets. */
export function failOnNote(failOn: readonly string[], matched: Record<string, readonly string[]>): string {
  return `rotor: --fail-on ${failOn.join(',')}: ${Object.entries(matched)
    .map(([c, names]) => `${names.length} ${c} (${names.join(', ')})`)
    .join('; ')}`;
}
