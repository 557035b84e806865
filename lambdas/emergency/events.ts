import { z } from 'zod';
import { InvalidEventError } from '../core/errors';

/**
 * The events of emergency rotation. Inputs: AWS Health credential-exposure events, GuardDuty
 * findings of IAM credential misuse, and Rotor's own "Secret Leak Detected" (sent by secret
 * scanners, webhook bridges and `rotor leak` / `rotor rotate --leaked`). Outputs: "Secret
 * Rotated" and "Secret Revoked", which carry ids and reasons, never a value.
 */
export const emergencyDefaults = {
  /** `source` of Rotor's own events (configurable in the stack and the CLI). */
  source: 'rotor',
  /** Event bus the CLI sends to and the handler emits on. */
  eventBusName: 'default',
} as const;

export const DetailTypes = {
  LEAK: 'Secret Leak Detected',
  ROTATED: 'Secret Rotated',
  REVOKED: 'Secret Revoked',
  HEALTH: 'AWS Health Event',
  GUARDDUTY: 'GuardDuty Finding',
} as const;

/** AWS Health event type codes that mean an access key is exposed or compromised. */
export const HEALTH_EXPOSURE_CODES = [
  'AWS_RISK_CREDENTIALS_EXPOSED',
  'AWS_RISK_CREDENTIALS_COMPROMISED',
  'AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED',
  'AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED',
] as const;

/** GuardDuty finding types (prefixes) that name misuse of an IAM user's credentials. */
export const GUARDDUTY_CREDENTIAL_FINDING_PREFIXES = [
  'CredentialAccess:IAMUser/',
  'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration',
  'UnauthorizedAccess:IAMUser/ConsoleLoginSuccess',
  'UnauthorizedAccess:IAMUser/MaliciousIPCaller',
  'UnauthorizedAccess:IAMUser/TorIPCaller',
] as const;

/** The detail of Rotor's "Secret Leak Detected" event: exactly one way to name what leaked. */
export const leakDetailSchema = z
  .object({
    /** Secret name or ARN. */
    secretId: z.string().min(1).max(2048).optional(),
    /** An IAM access key id (AKIA… / ASIA…). */
    accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, 'must be an access key id').optional(),
    /** `fingerprint()` of the leaked value's identity (a token): 32 hex digits. */
    fingerprint: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits').optional(),
    /** Why: the scanner's finding, a ticket, an operator's words. */
    reason: z.string().max(1024).default('no reason given'),
    /** Who reported it (scanner, person). */
    reporter: z.string().max(256).optional(),
  })
  .refine((d) => [d.secretId, d.accessKeyId, d.fingerprint].filter(Boolean).length === 1, {
    message: 'name exactly one of secretId, accessKeyId, fingerprint',
  });
export type LeakDetail = z.output<typeof leakDetailSchema>;

/** What any input event says leaked, and why. */
export interface LeakReport {
  readonly via: 'rotor' | 'aws.health' | 'aws.guardduty';
  readonly secretId?: string;
  readonly accessKeyId?: string;
  readonly fingerprint?: string;
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

/** Turns an input event into leak reports (a Health event may name several keys). */
export function parseLeakEvent(event: EventBridgeEvent, rotorSource: string = emergencyDefaults.source): LeakReport[] {
  const detailType = event['detail-type'];
  const base = { eventId: event.id };
  if (event.source === rotorSource && detailType === DetailTypes.LEAK) {
    const parsed = leakDetailSchema.safeParse(event.detail);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidEventError(
        `leak event: ${issue.path.length ? `field '${issue.path.join('.')}' ` : ''}${issue.message}`,
      );
    }
    const d = parsed.data;
    return [{ ...base, via: 'rotor', secretId: d.secretId, accessKeyId: d.accessKeyId, fingerprint: d.fingerprint, reason: d.reason }];
  }
  if (event.source === 'aws.health' && detailType === DetailTypes.HEALTH) {
    const detail = (event.detail ?? {}) as { eventTypeCode?: string; affectedEntities?: Array<{ entityValue?: string }> };
    if (!HEALTH_EXPOSURE_CODES.includes(detail.eventTypeCode as (typeof HEALTH_EXPOSURE_CODES)[number])) {
      throw new InvalidEventError(`health event: type '${String(detail.eventTypeCode).slice(0, 80)}' is not a credential exposure`);
    }
    const keys = (detail.affectedEntities ?? [])
      .map((e) => e.entityValue)
      .filter((v): v is string => typeof v === 'string' && /^[A-Z0-9]{16,128}$/.test(v));
    if (keys.length === 0) throw new InvalidEventError('health event: no access key id in detail.affectedEntities');
    return keys.map((accessKeyId) => ({ ...base, via: 'aws.health' as const, accessKeyId, reason: `AWS Health ${detail.eventTypeCode}` }));
  }
  if (event.source === 'aws.guardduty' && detailType === DetailTypes.GUARDDUTY) {
    const detail = (event.detail ?? {}) as {
      type?: string;
      resource?: { accessKeyDetails?: { accessKeyId?: string } };
    };
    const type = String(detail.type ?? '');
    if (!GUARDDUTY_CREDENTIAL_FINDING_PREFIXES.some((p) => type.startsWith(p))) {
      throw new InvalidEventError(`guardduty finding: type '${type.slice(0, 80)}' is not IAM credential misuse`);
    }
    const accessKeyId = detail.resource?.accessKeyDetails?.accessKeyId;
    if (!accessKeyId || !/^[A-Z0-9]{16,128}$/.test(accessKeyId)) {
      throw new InvalidEventError('guardduty finding: no access key id in detail.resource.accessKeyDetails');
    }
    return [{ ...base, via: 'aws.guardduty', accessKeyId, reason: `GuardDuty ${type}` }];
  }
  throw new InvalidEventError(
    `unsupported event: source '${String(event.source).slice(0, 40)}', detail-type '${String(detailType).slice(0, 60)}'`,
  );
}
