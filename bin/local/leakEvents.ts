import { randomUUID } from 'node:crypto';

/** Sample input events of the emergency handler, as their senders shape them (no vitest: the sandbox uses them too). */

/** Rotor's own "Secret Leak Detected" event (what a scanner, a webhook bridge or the CLI sends). */
export function leakEvent(detail: Record<string, unknown>, id: string = randomUUID()) {
  return { id, source: 'rotor', 'detail-type': 'Secret Leak Detected', detail };
}

/** An AWS Health credential-exposure event naming access keys (as AWS sends it on a public leak). */
export function healthEvent(accessKeyIds: string[], id: string = randomUUID()) {
  return {
    id,
    version: '0',
    source: 'aws.health',
    'detail-type': 'AWS Health Event',
    account: '123456789012',
    region: 'us-east-1',
    time: new Date().toISOString(),
    resources: [],
    detail: {
      eventArn: `arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_${id}`,
      service: 'RISK',
      eventTypeCode: 'AWS_RISK_CREDENTIALS_EXPOSED',
      eventTypeCategory: 'issue',
      startTime: new Date().toUTCString(),
      eventDescription: [{ language: 'en_US', latestDescription: 'Your AWS Access Key has been found publicly.' }],
      affectedEntities: accessKeyIds.map((entityValue) => ({ entityValue })),
    },
  };
}

/** A GuardDuty finding of IAM credential misuse naming the access key used. */
export function guardDutyEvent(accessKeyId: string, username: string, id: string = randomUUID()) {
  return {
    id,
    version: '0',
    source: 'aws.guardduty',
    'detail-type': 'GuardDuty Finding',
    account: '123456789012',
    region: 'us-east-1',
    time: new Date().toISOString(),
    resources: [],
    detail: {
      schemaVersion: '2.0',
      accountId: '123456789012',
      region: 'us-east-1',
      id: randomUUID().replaceAll('-', ''),
      type: 'CredentialAccess:IAMUser/AnomalousBehavior',
      severity: 5,
      resource: {
        resourceType: 'AccessKey',
        accessKeyDetails: { accessKeyId, principalId: 'AIDAEXAMPLE', userName: username, userType: 'IAMUser' },
      },
    },
  };
}
