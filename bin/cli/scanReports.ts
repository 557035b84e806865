/**
 * Secret scanners' reports, as `rotor leak --from <scanner> <report-file>` reads them. Only the
 * fields below are used; a found value stays in this process (its fingerprint is computed
 * here, the value is never printed or sent).
 *
 *   gitleaks    `gitleaks detect --report-format json`: a JSON array of findings;
 *               Secret (the value), Match (the rule's whole match), RuleID, File, StartLine,
 *               Commit.
 *   trufflehog  `trufflehog ... --json`: one JSON object per line; Raw (the value) and RawV2
 *               (the value with its pair, e.g. an AWS key id and secret), DetectorName,
 *               SourceMetadata.Data.<source>.{file, line, commit} (Git, Github, Filesystem).
 *   github      the secret-scanning alerts as the REST API lists them
 *               (GET /repos/{owner}/{repo}/secret-scanning/alerts): a JSON array; secret,
 *               secret_type, number, html_url, state.
 */
import { UsageError } from './errors.js';

export const SCANNERS = ['gitleaks', 'trufflehog', 'github'] as const;
export type Scanner = (typeof SCANNERS)[number];

export interface Finding {
  /** Where the scanner found it: file:line@commit, or the alert's URL. Never the value. */
  readonly where: string;
  /** The scanner's rule or detector (aws-access-token, AWS, github_personal_access_token). */
  readonly rule: string;
  /** The found strings (the value, and for a pair its parts): fingerprinted, never shown. */
  readonly values: readonly string[];
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Database connection strings: URLs of these schemes carry a password in their user-info
 * (`postgres://app:pa%40ss@db:5432/app`) or, JDBC style, in a `password` query parameter
 * (`jdbc:postgresql://db:5432/app?user=app&password=...`, `jdbc:mysql://...`).
 */
const CONNECTION_URL = /\b(?:jdbc:)?(?:postgres|postgresql|mysql|mariadb)(?:\+[a-z0-9]+)?:\/\/[^\s"'`<>]+/gi;

/** A URL-encoded part decoded; a malformed escape leaves it as found. */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * The passwords inside the connection strings of a found string. The URL is split by hand, not
 * with WHATWG's URL (which refuses the unbracketed host lists and JDBC forms scanners report and
 * would normalise the very password to be matched).
 */
export function connectionStringPasswords(text: string): string[] {
  const out: string[] = [];
  for (const [url] of text.matchAll(CONNECTION_URL)) {
    const rest = url.slice(url.indexOf('://') + 3);
    const authorityEnd = rest.search(/[/?#]/);
    const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
    const at = authority.lastIndexOf('@');
    if (at !== -1) {
      const userInfo = authority.slice(0, at);
      const colon = userInfo.indexOf(':');
      if (colon !== -1 && colon < userInfo.length - 1) out.push(decoded(userInfo.slice(colon + 1)));
    }
    const query = url.indexOf('?') === -1 ? '' : url.slice(url.indexOf('?') + 1).split('#')[0]!;
    for (const pair of query.split(/[&;]/)) {
      const eq = pair.indexOf('=');
      if (eq > 0 && /^password$/i.test(pair.slice(0, eq)) && eq < pair.length - 1) out.push(decoded(pair.slice(eq + 1)));
    }
  }
  return out;
}

/**
 * The identities inside the found strings, each fingerprinted: the strings themselves, the AWS
 * access key ids in them (a key pair), and the passwords of the connection strings in them.
 */
function withAccessKeyIds(values: Array<string | undefined>): string[] {
  const out = new Set<string>();
  for (const v of values) {
    if (!v) continue;
    out.add(v);
    for (const m of v.matchAll(/\b((?:AKIA|ASIA)[A-Z0-9]{16})\b/g)) out.add(m[1]!);
    for (const password of connectionStringPasswords(v)) out.add(password);
  }
  return [...out];
}

function parseJson(text: string, scanner: Scanner): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--from ${scanner}: the report is not JSON (${(err as Error).message.split('\n')[0]})`);
  }
}

function gitleaks(text: string): Finding[] {
  const report = parseJson(text, 'gitleaks');
  if (!Array.isArray(report)) throw new UsageError('--from gitleaks: expected a JSON array of findings (gitleaks --report-format json)');
  return report.map((raw, i) => {
    const f = obj(raw);
    const where = `${str(f.File) ?? '?'}:${typeof f.StartLine === 'number' ? f.StartLine : '?'}${str(f.Commit) ? `@${String(f.Commit).slice(0, 12)}` : ''}`;
    // Match (the rule's whole match) holds the connection string when Secret is only a part of it.
    const values = withAccessKeyIds([str(f.Secret), str(f.Match)]);
    if (values.length === 0) throw new UsageError(`--from gitleaks: finding ${i + 1} (${where}) has no Secret field`);
    return { where, rule: str(f.RuleID) ?? 'unknown rule', values };
  });
}

function trufflehog(text: string): Finding[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.map((line, i) => {
    let f: Record<string, unknown>;
    try {
      f = obj(JSON.parse(line));
    } catch {
      throw new UsageError(`--from trufflehog: line ${i + 1} is not JSON (trufflehog --json writes one object per line)`);
    }
    const data = obj(obj(f.SourceMetadata).Data);
    const source = obj(Object.values(data)[0]);
    const where =
      `${str(source.file) ?? str(source.link) ?? '?'}:${typeof source.line === 'number' ? source.line : '?'}` +
      `${str(source.commit) ? `@${String(source.commit).slice(0, 12)}` : ''}`;
    const values = withAccessKeyIds([str(f.Raw), str(f.RawV2)]);
    if (values.length === 0) throw new UsageError(`--from trufflehog: line ${i + 1} (${where}) has no Raw field`);
    return { where, rule: str(f.DetectorName) ?? 'unknown detector', values };
  });
}

function github(text: string): Finding[] {
  const alerts = parseJson(text, 'github');
  if (!Array.isArray(alerts)) throw new UsageError('--from github: expected a JSON array of secret-scanning alerts (the REST API list)');
  return alerts.map((raw, i) => {
    const a = obj(raw);
    const where = str(a.html_url) ?? `alert ${typeof a.number === 'number' ? a.number : i + 1}`;
    const values = withAccessKeyIds([str(a.secret)]);
    if (values.length === 0) throw new UsageError(`--from github: alert ${i + 1} (${where}) has no secret field (the token needs the secret-scanning read scope)`);
    return { where, rule: str(a.secret_type) ?? 'unknown type', values };
  });
}

/** The findings of a report, or a usage error naming the scanner, the finding and the field. */
export function parseScanReport(scanner: Scanner, text: string): Finding[] {
  switch (scanner) {
    case 'gitleaks':
      return gitleaks(text);
    case 'trufflehog':
      return trufflehog(text);
    case 'github':
      return github(text);
  }
}
