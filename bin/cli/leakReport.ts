/**
 * `rotor leak --from gitleaks|trufflehog|github <report-file>`: the scanner hand-off. Each found
 * value's fingerprints are computed here (lambdas/core/fingerprint.ts, as finishSecret tags the
 * secrets: keyed with Rotor's fingerprint key, and the legacy plain one for secrets tagged
 * before keyed fingerprints), matched against the `rotor:fp-current` / `rotor:fp-previous` tags
 * of the account's secrets (ListSecrets; no rotated secret's value is read), and one leak event
 * per matched value is sent with the fingerprint, never the value. What did not match is listed
 * with the reason.
 *
 * Rotor's fingerprint key: the secret `--fingerprint-key-secret` names, or every secret tagged
 * `rotor:fingerprint-key` (each Rotor stack has one; all are tried). Reading it needs
 * secretsmanager:GetSecretValue on it (and kms:Decrypt with a customer managed key).
 */
import { readFileSync } from 'node:fs';
import { Fingerprints, RotorTags } from '../../lambdas/contract/index.js';
import { FingerprintKeyError } from '../../lambdas/core/errors.js';
import { candidateFingerprints, readFingerprintKey, type FingerprintKey } from '../../lambdas/core/fingerprint.js';
import { heldFingerprints, tagMap } from '../../lambdas/core/labels.js';
import { SecretsApi } from '../../lambdas/core/secretsApi.js';
import { explainAwsError } from './aws.js';
import { confirmDestructive, type CommandContext } from './commands.js';
import { CliError, ExitCodes, UsageError, type ExitCode } from './errors.js';
import { leakDetail, sendLeakEvent } from './leak.js';
import { table } from './output.js';
import { parseScanReport, type Finding, type Scanner } from './scanReports.js';

export interface LeakReportOptions {
  readonly scanner: Scanner;
  readonly file: string;
  readonly reason?: string;
  readonly source?: string;
  readonly eventBus?: string;
  readonly yes?: boolean;
  /** Rotor's fingerprint key secret (name or ARN). @default - every secret tagged rotor:fingerprint-key */
  readonly fingerprintKeySecret?: string;
}

interface Holder {
  readonly secretArn: string;
  readonly secretName: string;
  readonly which: 'current' | 'previous';
}

export interface ReportMatch {
  readonly where: string;
  readonly rule: string;
  readonly fingerprint?: string;
  readonly secret?: string;
  readonly which?: 'current' | 'previous';
  /** Why nothing was sent for it. */
  readonly reason?: string;
  readonly eventId?: string;
}

/** Every fingerprint the account's secrets are tagged with, and which secret and value holds it. */
async function fingerprintHolders(ctx: CommandContext): Promise<Map<string, Holder>> {
  const api = new SecretsApi(ctx.clients.secrets);
  const holders = new Map<string, Holder>();
  try {
    for await (const entry of api.listSecrets([{ Key: 'tag-key', Values: [RotorTags.FINGERPRINT_CURRENT, RotorTags.FINGERPRINT_PREVIOUS] }])) {
      for (const { fingerprint: fp, which } of heldFingerprints(tagMap(entry.Tags))) {
        holders.set(fp, { secretArn: entry.ARN ?? entry.Name ?? '?', secretName: entry.Name ?? entry.ARN ?? '?', which });
      }
    }
  } catch (err) {
    throw explainAwsError(err, 'listing the fingerprint-tagged secrets (ListSecrets)', ctx.clients);
  }
  return holders;
}

/**
 * Rotor's fingerprint keys: the one secret named, or every secret tagged Fingerprints.KEY_TAG.
 * A key that cannot be read is an error naming the secret and the permission: matching without
 * it would miss every value tagged since keyed fingerprints, silently.
 */
export async function fingerprintKeys(ctx: CommandContext, named: string | undefined): Promise<FingerprintKey[]> {
  const api = new SecretsApi(ctx.clients.secrets);
  let ids: string[];
  if (named !== undefined) {
    ids = [named];
  } else {
    ids = [];
    try {
      for await (const entry of api.listSecrets([{ Key: 'tag-key', Values: [Fingerprints.KEY_TAG] }])) {
        if (tagMap(entry.Tags).has(Fingerprints.KEY_TAG) && entry.ARN) ids.push(entry.ARN);
      }
    } catch (err) {
      throw explainAwsError(err, `finding Rotor's fingerprint key (ListSecrets, tag ${Fingerprints.KEY_TAG})`, ctx.clients);
    }
    if (ids.length === 0) {
      throw new CliError(
        `no fingerprint key secret found (no secret is tagged ${Fingerprints.KEY_TAG}): name Rotor's fingerprint key secret with ` +
          '--fingerprint-key-secret (RotorStack creates it; see the README, "Fingerprints")',
      );
    }
  }
  const keys: FingerprintKey[] = [];
  for (const id of ids) {
    try {
      keys.push(await readFingerprintKey(ctx.clients.secrets, id, named !== undefined ? '--fingerprint-key-secret' : 'rotor leak'));
    } catch (err) {
      if (err instanceof FingerprintKeyError) throw new CliError(err.message, { cause: err });
      throw explainAwsError(err, `reading the fingerprint key secret ${id} (GetSecretValue)`, ctx.clients);
    }
  }
  return keys;
}

function match(finding: Finding, holders: Map<string, Holder>, keys: readonly FingerprintKey[]): ReportMatch {
  for (const value of finding.values) {
    for (const fp of candidateFingerprints(value, keys)) {
      const holder = holders.get(fp);
      if (holder) return { where: finding.where, rule: finding.rule, fingerprint: fp, secret: holder.secretName, which: holder.which };
    }
  }
  return {
    where: finding.where,
    rule: finding.rule,
    reason:
      'no secret is tagged with its fingerprint: not a database password, IAM access key or API token Rotor rotates, ' +
      'a value older than AWSPREVIOUS, or a secret not rotated by Rotor since it was deployed',
  };
}

export async function leakReportCommand(options: LeakReportOptions, ctx: CommandContext): Promise<ExitCode> {
  let text: string;
  try {
    text = readFileSync(options.file, 'utf8');
  } catch (err) {
    throw new UsageError(`${options.file}: cannot read the report (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const findings = parseScanReport(options.scanner, text);
  const keys = await fingerprintKeys(ctx, options.fingerprintKeySecret);
  const holders = await fingerprintHolders(ctx);
  const results = findings.map((f) => match(f, holders, keys));
  // One event per leaked value: several findings of one value (copies, commits) are one leak.
  const toSend = new Map<string, ReportMatch>();
  for (const r of results) if (r.fingerprint && !toSend.has(r.fingerprint)) toSend.set(r.fingerprint, r);

  if (toSend.size > 0) {
    await confirmDestructive(
      `rotor leak: ${toSend.size} value(s) in the ${options.scanner} report are held by Rotor-managed secrets ` +
        `(${[...new Set([...toSend.values()].map((r) => r.secret))].join(', ')}); report them as leaked, so the emergency handler rotates and revokes them`,
      options.yes === true,
      ctx,
    );
  }
  const sent = new Map<string, string>();
  for (const [fp, r] of toSend) {
    const reason = `${options.reason ? `${options.reason}; ` : ''}found by ${options.scanner} (${r.rule}) at ${r.where}`.slice(0, 1000);
    const detail = leakDetail({ fingerprint: fp }, reason);
    try {
      sent.set(fp, (await sendLeakEvent(ctx.clients.events, detail, { source: options.source, eventBusName: options.eventBus })).eventId);
    } catch (err) {
      throw explainAwsError(err, 'sending a leak event (EventBridge PutEvents)', ctx.clients);
    }
  }
  const report = results.map((r) => (r.fingerprint ? { ...r, eventId: sent.get(r.fingerprint) } : r));
  const matched = report.filter((r) => r.fingerprint);
  ctx.out.result({ scanner: options.scanner, findings: report.length, matched: matched.length, eventsSent: sent.size, results: report });
  ctx.out.line(`${options.scanner} report: ${report.length} finding(s), ${matched.length} held by Rotor-managed secrets, ${sent.size} leak event(s) sent (fingerprints only).`);
  if (matched.length) {
    ctx.out.line('');
    ctx.out.line(table(['found at', 'rule', 'secret', 'value', 'leak event'], matched.map((r) => [r.where, r.rule, r.secret!, r.which!, r.eventId ?? '-'])));
  }
  const unmatched = report.filter((r) => !r.fingerprint);
  if (unmatched.length) {
    ctx.out.line('');
    ctx.out.line(table(['found at', 'rule', 'not sent, because'], unmatched.map((r) => [r.where, r.rule, r.reason!])));
  }
  return ExitCodes.OK;
}
