import * as z from 'zod/mini';
import '../contract/zodMessages.js';
import { AwsEvents, FINGERPRINT_PATTERN, Fingerprints, RotorEvents } from '../contract/index.js';
import { InvalidEventError } from '../core/errors.js';

/**
 * The events of emergency rotation. Inputs: AWS Health credential-exposure events, GuardDuty
 * findings of IAM credential misuse, and Rotor's own "Secret Leak Detected" (sent by secret
 * scanners, webhook bridges and `rotor leak` / `rotor rotate --leaked`). Outputs: "Secret
 * Rotated" and "Secret Revoked", which carry ids and reasons, never a value.
 */
export const emergencyDefaults = {
  /** `source` of Rotor's own events (configurable in the stack and the CLI). */
  source: RotorEvents.SOURCE,
  /** Event bus the CLI sends to and the handler emits on. */
  eventBusName: RotorEvents.BUS,
} as const;

/** Detail-types of the events the handler reads and writes (Rotor's own are the contract's RotorEvents). */
export const DetailTypes = {
  LEAK: RotorEvents.LEAK_DETECTED,
  ROTATED: RotorEvents.ROTATED,
  REVOKED: RotorEvents.REVOKED,
  HEALTH: AwsEvents.HEALTH_DETAIL_TYPE,
  GUARDDUTY: AwsEvents.GUARDDUTY_DETAIL_TYPE,
} as const;

/** AWS Health event type codes that mean an access key is exposed or compromised (the contract's AwsEvents). */
export const HEALTH_EXPOSURE_CODES = AwsEvents.HEALTH_EXPOSURE_CODES;

/** GuardDuty finding types (prefixes) that name misuse of an IAM user's credentials (the contract's AwsEvents). */
export const GUARDDUTY_CREDENTIAL_FINDING_PREFIXES = AwsEvents.GUARDDUTY_CREDENTIAL_FINDING_PREFIXES;

/** An IAM access key id as AWS prints it (AKIA… / ASIA…). */
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

export const leakDetailLimits = {
  /** Longest secret name or ARN Secrets Manager accepts. */
  secretId: 2048,
  reason: 1024,
  reporter: 256,
} as const;

/** The ways a leak event may name what leaked: exactly one of them. */
const LEAK_TARGETS = ['secretId', 'accessKeyId', 'fingerprint'] as const;

/** The detail of Rotor's "Secret Leak Detected" event: exactly one way to name what leaked. */
export const leakDetailSchema = z
  .object({
    /** Secret name or ARN. */
    secretId: z.optional(z.string().check(z.minLength(1), z.maxLength(leakDetailLimits.secretId))),
    /** An IAM access key id (AKIA… / ASIA…). */
    accessKeyId: z.optional(z.string().check(z.regex(ACCESS_KEY_ID, 'must be an access key id'))),
    /**
     * The fingerprint of the leaked value's identity (a token, a password; see core/fingerprint.ts):
     * keyed, `k1:` + 32 lowercase hex digits (what `rotor leak --from` computes with Rotor's key),
     * or a legacy plain one, 32 lowercase hex digits.
     */
    fingerprint: z.optional(
      z.string().check(z.regex(
          FINGERPRINT_PATTERN,
          `must be ${Fingerprints.HEX_DIGITS} lowercase hex digits, keyed with the prefix ${Fingerprints.KEYED_PREFIX} (as Rotor writes them) or legacy without`,
        )),
    ),
    /** Why: the scanner's finding, a ticket, an operator's words. Masked before Rotor echoes it. */
    reason: z._default(z.string().check(z.maxLength(leakDetailLimits.reason)), 'no reason given'),
    /** Who reported it (scanner, person). */
    reporter: z.optional(z.string().check(z.maxLength(leakDetailLimits.reporter))),
  })
  .check(
    z.refine((d) => LEAK_TARGETS.filter((k) => d[k] !== undefined).length === 1, {
      message: `name exactly one of ${LEAK_TARGETS.join(', ')}`,
    }),
  );
export type LeakDetail = z.output<typeof leakDetailSchema>;

/** What any input event says leaked, and why. */
export interface LeakReport {
  readonly via: 'rotor' | 'aws.health' | 'aws.guardduty';
  readonly secretId?: string;
  readonly accessKeyId?: string;
  readonly fingerprint?: string;
  /** Free text from the event (or Rotor's own words): mask it before echoing it anywhere. */
  readonly reason: string;
  /** The input event's id, for the audit trail. */
  readonly eventId?: string;
}

export interface EventBridgeEvent {
  readonly id?: string;
  readonly source?: string;
  readonly 'detail-type'?: string;
  readonly detail?: unknown;
}

/** The event id becomes a tag value and a rotation token's seed: what EventBridge sends (a UUID) and little else. */
const EVENT_ID = /^[A-Za-z0-9_.:/=+@-]{1,128}$/;

/** At most this many problems are listed in one error. */
const MAX_PROBLEMS = 5;

/**
 * Turns an input event into leak reports (a Health event may name several keys). A malformed
 * event is refused whole, before anything is read or changed, with an InvalidEventError naming
 * every problem by its field path and the kind of value found (`a number`, `null`), never the
 * value itself: a leak event may well carry the credential in the wrong field.
 */
export function parseLeakEvent(event: unknown, rotorSource: string = emergencyDefaults.source): LeakReport[] {
  if (!isRecord(event)) throw invalid('event', [`must be an object, got ${kindOf(event)}`]);
  const problems: string[] = [];
  for (const field of ['source', 'detail-type'] as const) {
    if (event[field] === undefined) problems.push(`field '${field}' is missing`);
    else if (typeof event[field] !== 'string') problems.push(`field '${field}' must be a string, got ${kindOf(event[field])}`);
  }
  if (event.id !== undefined && (typeof event.id !== 'string' || !EVENT_ID.test(event.id))) {
    problems.push(
      typeof event.id === 'string'
        ? `field 'id' must be 1 to 128 characters of letters, digits and _.:/=+@-`
        : `field 'id' must be a string, got ${kindOf(event.id)}`,
    );
  }
  if (problems.length > 0) throw invalid('event', problems);
  const source = event.source as string;
  const detailType = event['detail-type'] as string;
  const base = { eventId: event.id as string | undefined };
  if (source === rotorSource && detailType === DetailTypes.LEAK) {
    const d = parseRotorLeak(event.detail);
    return [{ ...base, via: 'rotor', secretId: d.secretId, accessKeyId: d.accessKeyId, fingerprint: d.fingerprint, reason: d.reason }];
  }
  if (source === AwsEvents.HEALTH_SOURCE && detailType === DetailTypes.HEALTH) {
    const { code, keys } = parseHealth(event.detail);
    return keys.map((accessKeyId) => ({ ...base, via: 'aws.health' as const, accessKeyId, reason: `AWS Health ${code}` }));
  }
  if (source === AwsEvents.GUARDDUTY_SOURCE && detailType === DetailTypes.GUARDDUTY) {
    const { type, accessKeyId } = parseGuardDuty(event.detail);
    return [{ ...base, via: 'aws.guardduty', accessKeyId, reason: `GuardDuty ${type}` }];
  }
  throw new InvalidEventError(
    `unsupported event: fields 'source' and 'detail-type' name none of ` +
      `'${rotorSource}' / '${DetailTypes.LEAK}', '${AwsEvents.HEALTH_SOURCE}' / '${DetailTypes.HEALTH}', '${AwsEvents.GUARDDUTY_SOURCE}' / '${DetailTypes.GUARDDUTY}'; nothing was changed`,
  );
}

function parseRotorLeak(detail: unknown): LeakDetail {
  if (!isRecord(detail)) throw invalid('leak event', [notAnObject('detail', detail)]);
  const parsed = leakDetailSchema.safeParse(detail);
  if (!parsed.success) throw invalid('leak event', parsed.error.issues.map((issue) => describeIssue(issue, detail)));
  return parsed.data;
}

function parseHealth(detail: unknown): { code: string; keys: string[] } {
  if (!isRecord(detail)) throw invalid('health event', [notAnObject('detail', detail)]);
  const code = detail.eventTypeCode;
  if (!HEALTH_EXPOSURE_CODES.includes(code as (typeof HEALTH_EXPOSURE_CODES)[number])) {
    throw invalid('health event', [
      code === undefined
        ? `field 'detail.eventTypeCode' is missing`
        : `field 'detail.eventTypeCode' is not a credential exposure (${HEALTH_EXPOSURE_CODES.join(', ')})`,
    ]);
  }
  const entities = detail.affectedEntities;
  if (!Array.isArray(entities) || entities.length === 0) {
    throw invalid('health event', [
      entities === undefined
        ? `field 'detail.affectedEntities' is missing`
        : `field 'detail.affectedEntities' must be a non-empty array, got ${Array.isArray(entities) ? 'an empty array' : kindOf(entities)}`,
    ]);
  }
  const problems: string[] = [];
  const keys: string[] = [];
  entities.forEach((entity: unknown, i) => {
    const path = `detail.affectedEntities[${i}]`;
    if (!isRecord(entity)) problems.push(notAnObject(path, entity));
    else if (entity.entityValue === undefined) problems.push(`field '${path}.entityValue' is missing`);
    else if (typeof entity.entityValue !== 'string') problems.push(`field '${path}.entityValue' must be a string, got ${kindOf(entity.entityValue)}`);
    // A string that is no access key id may be another entity Health lists (an account): skipped.
    else if (ACCESS_KEY_ID.test(entity.entityValue) && !keys.includes(entity.entityValue)) keys.push(entity.entityValue);
  });
  // One malformed entry refuses the whole event: acting on part of it would hide what was not understood.
  if (problems.length > 0) throw invalid('health event', problems);
  if (keys.length === 0) throw invalid('health event', [`field 'detail.affectedEntities' names no access key id`]);
  return { code: code as string, keys };
}

function parseGuardDuty(detail: unknown): { type: string; accessKeyId: string } {
  if (!isRecord(detail)) throw invalid('guardduty finding', [notAnObject('detail', detail)]);
  const type = detail.type;
  if (typeof type !== 'string') {
    throw invalid('guardduty finding', [
      type === undefined ? `field 'detail.type' is missing` : `field 'detail.type' must be a string, got ${kindOf(type)}`,
    ]);
  }
  if (!GUARDDUTY_CREDENTIAL_FINDING_PREFIXES.some((p) => type.startsWith(p)) || !/^[A-Za-z0-9:/_.!-]{1,256}$/.test(type)) {
    throw invalid('guardduty finding', [`field 'detail.type' is not a finding of IAM credential misuse`]);
  }
  let node: unknown = detail;
  let path = 'detail';
  for (const key of ['resource', 'accessKeyDetails', 'accessKeyId']) {
    const parent = node;
    if (!isRecord(parent)) throw invalid('guardduty finding', [notAnObject(path, parent)]);
    path = `${path}.${key}`;
    node = parent[key];
    if (node === undefined) throw invalid('guardduty finding', [`field '${path}' is missing`]);
  }
  if (typeof node !== 'string') throw invalid('guardduty finding', [`field '${path}' must be a string, got ${kindOf(node)}`]);
  if (!ACCESS_KEY_ID.test(node)) throw invalid('guardduty finding', [`field '${path}' is not an access key id`]);
  return { type, accessKeyId: node };
}

/** One zod issue as words: the field path and what is wrong, never the value (zod's own messages are not used). */
function describeIssue(issue: z.core.$ZodIssue, detail: Record<string, unknown>): string {
  const field = `detail${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
  const value = issue.path.length === 1 ? detail[issue.path[0] as string] : undefined;
  switch (issue.code) {
    case 'invalid_type':
      return value === undefined ? `field '${field}' is missing` : `field '${field}' must be a ${issue.expected}, got ${kindOf(value)}`;
    case 'too_big':
      return `field '${field}' is longer than ${String(issue.maximum)} characters`;
    case 'too_small':
      return `field '${field}' is empty`;
    case 'invalid_format':
      return `field '${field}' ${issue.message}`;
    case 'custom': {
      const named = LEAK_TARGETS.filter((k) => detail[k] !== undefined);
      return named.length === 0
        ? `field 'detail' names none of ${LEAK_TARGETS.join(', ')}: name exactly one of ${LEAK_TARGETS.join(', ')}`
        : `field 'detail' names ${named.join(' and ')}, which is ambiguous: name exactly one of ${LEAK_TARGETS.join(', ')}`;
    }
    default:
      return `field '${field}' is invalid`;
  }
}

function invalid(what: string, problems: string[]): InvalidEventError {
  const listed = problems.slice(0, MAX_PROBLEMS);
  const more = problems.length > MAX_PROBLEMS ? `; and ${problems.length - MAX_PROBLEMS} more` : '';
  return new InvalidEventError(`${what}: ${listed.join('; ')}${more}; nothing was changed`);
}

function notAnObject(path: string, v: unknown): string {
  return v === undefined ? `field '${path}' is missing` : `field '${path}' must be an object, got ${kindOf(v)}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** What kind of value was found, in words (never the value). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : t === 'undefined' ? 'nothing' : `a ${t}`;
}
