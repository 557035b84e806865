/**
 * `rotor leak --from gitleaks|trufflehog|github <report-file>`: the scanner hand-off. Each found
 * value's fingerprint is computed here (lambdas/core/fingerprint.ts, as finishSecret tags the
 * secrets), matched against the `rotor:fp-current` / `rotor:fp-previous` tags of the account's
 * secrets (ListSecrets; no value is read), and one leak event per matched secret is sent with
 * the fingerprint, never the value. What did not match is listed with the reason.
 */
import { readFileSync } from 'node:fs';
import { RotorTags } from '../../lambdas/contract/index.js';
import { fingerprint } from '../../lambdas/core/fingerprint.js';
import { heldFingerprints, tagMap } from '../../lambdas/core/labels.js';
import { SecretsApi } from '../../lambdas/core/secretsApi.js';
import { explainAwsError } from './aws.js';
import { confirmDestructive, type CommandContext } from './commands.js';
import { ExitCodes, UsageError, type ExitCode } from './errors.js';
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

function match(finding: Finding, holders: Map<string, Holder>): ReportMatch {
  for (const value of finding.values) {
    const fp = fingerprint(value);
    const holder = holders.get(fp);
    if (holder) return { where: finding.where, rule: finding.rule, fingerprint: fp, secret: holder.secretName, which: holder.which };
  }
  return {
    where: finding.where,
    rule: finding.rule,
    reason:
      'no secret is tagged with its fingerprint: not an IAM access key or API token Rotor rotates, or a value older than AWSPREVIOUS ' +
      '(database passwords carry no fingerprint yet)',
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
  const holders = await fingerprintHolders(ctx);
  const results = findings.map((f) => match(f, holders));
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
