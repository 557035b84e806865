import { describe, expect, it } from 'vitest';
import { fakeAccessKeyId } from '../bin/local/awsAdmin.js';
import { parseLeakEvent } from '../lambdas/emergency/events.js';

const [keyA, keyB, keyC] = [fakeAccessKeyId(), fakeAccessKeyId(), fakeAccessKeyId()];

describe('leak event parsing', () => {
  it('reads AWS Health exposure events with several keys, and GuardDuty IAM findings', () => {
    const health = parseLeakEvent({
      id: 'h1', source: 'aws.health', 'detail-type': 'AWS Health Event',
      detail: { eventTypeCode: 'AWS_RISK_CREDENTIALS_EXPOSED', affectedEntities: [{ entityValue: keyA }, { entityValue: keyB }] },
    });
    expect(health.map((r) => r.accessKeyId)).toEqual([keyA, keyB]);
    const gd = parseLeakEvent({
      id: 'g1', source: 'aws.guardduty', 'detail-type': 'GuardDuty Finding',
      detail: { type: 'CredentialAccess:IAMUser/AnomalousBehavior', resource: { accessKeyDetails: { accessKeyId: keyC } } },
    });
    expect(gd).toEqual([expect.objectContaining({ via: 'aws.guardduty', accessKeyId: keyC })]);
    expect(() => parseLeakEvent({ source: 'aws.health', 'detail-type': 'AWS Health Event', detail: { eventTypeCode: 'AWS_EC2_MAINTENANCE' } })).toThrow(/not a credential exposure/);
    expect(() => parseLeakEvent({ source: 'aws.s3', 'detail-type': 'Object Created' })).toThrow(/unsupported event/);
  });
});
