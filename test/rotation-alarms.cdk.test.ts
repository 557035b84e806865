import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { RotationFailureAlarms } from '../lib/rotation-alarms.js';
import { testStack } from './support/cdk.js';

describe('RotationFailureAlarms', () => {
  it('matches RotationFailed and RotationAbandoned in both CloudTrail detail-types and notifies the topic', () => {
    const stack = testStack();
    new RotationFailureAlarms(stack, 'Alarms');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.secretsmanager'],
        'detail-type': ['AWS Service Event via CloudTrail', 'AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationFailed', 'RotationAbandoned'],
        },
      },
    });
    const rules = template.findResources('AWS::Events::Rule');
    const target = Object.values(rules)[0]!.Properties.Targets[0];
    expect(target.Arn).toEqual({ Ref: expect.stringMatching(/AlarmsTopic/) });
    expect(target.InputTransformer.InputPathsMap).toMatchObject({ 'detail-eventName': '$.detail.eventName' });
    const policy = Object.values(template.findResources('AWS::SNS::TopicPolicy'))[0]!.Properties.PolicyDocument;
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({ Action: 'sns:Publish', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' } }),
    );
  });
});
