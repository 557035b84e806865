/**
 * AuditSchedule (lib/audit-schedule.ts) and the stack's `audit` option: the schedule rule, the
 * role (metadata only: no GetSecretValue), the alarms on the metric the handler emits (the
 * namespace, name and dimensions are checked against a real run's EMF output in
 * test/audit.handler.test.ts through `auditMetricKey`), the dashboard row only with the audit on,
 * cdk-nag clean, and the props checked at synth.
 */
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { config as exampleConfig } from '../examples/app/rotor.config.js';
import { AUDIT_CONDITIONS, MetricDimensions, RotorMetrics, ServiceNames, settings } from '../lambdas/contract/index.js';
import { AuditSchedule } from '../lib/audit-schedule.js';
import { RotorStack } from '../lib/rotor-stack.js';
import { actionsOf, policyStatements, testStack } from './support/cdk.js';

const env = { account: '123456789012', region: 'eu-west-1' };

function auditStack(props: ConstructorParameters<typeof AuditSchedule>[2] = {}) {
  const stack = testStack();
  const topic = new sns.Topic(stack, 'Topic', { enforceSSL: true });
  const audit = new AuditSchedule(stack, 'Audit', { alarmTopic: topic, ...props });
  return { stack, audit, topic, template: Template.fromStack(stack) };
}

/** The dashboard body, with CloudFormation's joins flattened (the region's reference as eu-west-1). */
function dashboardBody(stack: Stack): { widgets: Array<{ type: string; properties: { title?: string; metrics?: unknown[][] } }> } {
  const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]!.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'eu-west-1')).join('');
  return JSON.parse(text);
}

describe('AuditSchedule', () => {
  it('runs the audit bundle daily by default, as the audit service, with the audit settings', () => {
    const { template } = auditStack({ keyMaxAgeDays: 30, regions: ['eu-west-1', 'us-east-1'] });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)', State: 'ENABLED' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [settings.serviceName.name]: ServiceNames.AUDIT,
          [settings.metricsNamespace.name]: RotorMetrics.NAMESPACE,
          [settings.auditKeyMaxAgeDays.name]: '30',
          [settings.auditStuckAfterMinutes.name]: '60',
          [settings.auditRegions.name]: 'eu-west-1,us-east-1',
        }),
      },
      ReservedConcurrentExecutions: 1,
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('may read metadata only: no GetSecretValue, no write, secrets and functions of its regions and account', () => {
    const { template } = auditStack({ regions: ['eu-west-1', 'us-east-1'] });
    const statements = policyStatements(template, 'AuditRole');
    const actions = statements.flatMap(actionsOf).sort();
    expect(actions).toEqual(
      [
        'iam:ListAccessKeys',
        'iam:ListUserTags',
        'iam:ListUsers',
        'lambda:GetFunctionConfiguration',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:DescribeSecret',
        'secretsmanager:ListSecretVersionIds',
        'secretsmanager:ListSecrets',
      ].sort(),
    );
    expect(actions.filter((a) => !a.startsWith('logs:') && /GetSecretValue|:(Put|Update|Tag|Untag|Delete|Create|Rotate|Restore|Attach)/.test(a))).toEqual([]);
    const resources = (action: string) => JSON.stringify(statements.filter((s) => actionsOf(s).includes(action)).map((s) => s.Resource));
    expect(resources('secretsmanager:DescribeSecret')).toContain(':secretsmanager:eu-west-1:123456789012:secret:*');
    expect(resources('secretsmanager:DescribeSecret')).toContain(':secretsmanager:us-east-1:123456789012:secret:*');
    expect(resources('lambda:GetFunctionConfiguration')).toContain(':lambda:us-east-1:123456789012:function:*');
    expect(resources('iam:ListAccessKeys')).toContain(':iam::123456789012:user/*');
    expect(resources('iam:ListUserTags')).toContain(':iam::123456789012:user/*');
    // `*` only for the two calls that have no resource type.
    const wildcard = statements.filter((s) => s.Resource === '*').flatMap(actionsOf).sort();
    expect(wildcard).toEqual(['iam:ListUsers', 'secretsmanager:ListSecrets']);
  });

  it('alarms on overdue and last-rotation-failed counts above 0, on the metric the handler emits, to the topic', () => {
    const { template, audit } = auditStack();
    const alarms = template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: RotorMetrics.AUDIT_FINDINGS } });
    const byCondition = Object.fromEntries(
      Object.values(alarms).map((a) => [
        (a.Properties.Dimensions as Array<{ Name: string; Value: string }>).find((d) => d.Name === 'condition')!.Value,
        a.Properties,
      ]),
    );
    expect(Object.keys(byCondition).sort()).toEqual(['last-rotation-failed', 'overdue']);
    for (const props of Object.values(byCondition)) {
      expect(props).toMatchObject({
        Namespace: RotorMetrics.NAMESPACE,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        Period: 86_400,
        Statistic: 'Maximum',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: expect.stringMatching(/^Topic/) }],
      });
      // The dimension set is the contract's (the handler's EMF is checked against the same set).
      expect((props.Dimensions as Array<{ Name: string }>).map((d) => d.Name).sort()).toEqual([...MetricDimensions.AUDIT].sort());
      expect((props.Dimensions as Array<{ Name: string; Value: string }>).find((d) => d.Name === 'service')?.Value).toBe(ServiceNames.AUDIT);
    }
    expect(Object.keys(audit.conditionAlarms).sort()).toEqual(['last-rotation-failed', 'overdue']);
    // And the function's own error alarm.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', AlarmActions: [{ Ref: Match.stringLikeRegexp('^Topic') }] });
  });

  it('a shorter interval: the rule and the alarms read one run per period', () => {
    const { template } = auditStack({ interval: Duration.hours(6), alarmConditions: ['stuck'] });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(6 hours)' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: RotorMetrics.AUDIT_FINDINGS,
      Period: 21_600,
      Dimensions: Match.arrayWith([{ Name: 'condition', Value: 'stuck' }]),
    });
  });

  it.each([
    [{ interval: Duration.minutes(30) }, /interval must be whole hours between 1 hour and 1 day, got 30 minutes/],
    [{ interval: Duration.days(2) }, /interval must be whole hours between 1 hour and 1 day, got 2 days/],
    [{ keyMaxAgeDays: -1 }, /keyMaxAgeDays must be a whole number of days between 0 and 36500, got -1/],
    [{ keyMaxAgeDays: 1.5 }, /keyMaxAgeDays must be a whole number of days/],
    [{ stuckAfter: Duration.seconds(90) }, /stuckAfter must be whole minutes/],
    [{ regions: [] }, /regions is empty/],
    [{ regions: ['Mars-1'] }, /AUDIT_REGIONS is invalid/],
    [{ alarmConditions: ['everything' as never] }, /alarmConditions: unknown condition 'everything'/],
  ])('refuses %o at synth with a message naming the prop', (props, message) => {
    expect(() => auditStack(props)).toThrow(message);
  });
});

describe('RotorStack: the audit option', () => {
  const withAudit = (audit: NonNullable<(typeof exampleConfig)['audit']> | undefined) => {
    const app = new App();
    const stack = new RotorStack(app, 'Rotor', { config: { ...exampleConfig, audit }, env });
    return { app, stack };
  };

  it('is off by default: no audit function, no audit row on the dashboard', () => {
    const { stack } = withAudit(undefined);
    expect(stack.audit).toBeUndefined();
    const template = Template.fromStack(stack);
    expect(JSON.stringify(template.findResources('AWS::Lambda::Function'))).not.toContain('scheduled rotor audit');
    const metrics = dashboardBody(stack).widgets.flatMap((w) => w.properties.metrics ?? []);
    expect(JSON.stringify(metrics)).not.toContain(RotorMetrics.AUDIT_FINDINGS);
  });

  it('when on: the function alarms to the stack topic and the dashboard shows a series per condition, as the alarms read it', () => {
    const { stack } = withAudit({ intervalHours: 12, keyMaxAgeDays: 60 });
    expect(stack.audit).toBeDefined();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(12 hours)' });
    const topicRef = stack.resolve((stack.alarmTopic as sns.Topic).topicArn);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: RotorMetrics.AUDIT_FINDINGS,
      Dimensions: Match.arrayWith([{ Name: 'condition', Value: 'overdue' }]),
      AlarmActions: [topicRef],
    });
    const widgets = dashboardBody(stack).widgets.filter((w) => JSON.stringify(w.properties.metrics ?? []).includes(RotorMetrics.AUDIT_FINDINGS));
    expect(widgets.map((w) => w.type).sort()).toEqual(['metric', 'metric']);
    for (const w of widgets) {
      const rows = w.properties.metrics!.map((row) => row.filter((x): x is string => typeof x === 'string'));
      // [namespace, name, 'condition', <condition>, 'service', 'rotor-audit'], one row per condition.
      expect(rows.map((r) => r[3]).sort()).toEqual([...AUDIT_CONDITIONS].sort());
      for (const r of rows) {
        expect(r[0]).toBe(RotorMetrics.NAMESPACE);
        expect(r[1]).toBe(RotorMetrics.AUDIT_FINDINGS);
        const dims = Object.fromEntries([[r[2], r[3]], [r[4], r[5]]]);
        expect(Object.keys(dims).sort()).toEqual([...MetricDimensions.AUDIT].sort());
        expect(dims.service).toBe(ServiceNames.AUDIT);
      }
    }
  });

  it('enabled: false leaves it off', () => {
    expect(withAudit({ enabled: false }).stack.audit).toBeUndefined();
  });

  it('cdk-nag finds nothing unacknowledged with the audit on (the wildcards named and acknowledged), and catches a wider one', () => {
    const clean = withAudit({ regions: ['eu-west-1', 'us-east-1'] });
    Validations.of(clean.app).addPlugins(new AwsSolutionsChecks(clean.app));
    expect(() => clean.app.synth()).not.toThrow();

    const wide = withAudit({});
    wide.stack.audit!.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:Describe*'], resources: ['*'] }));
    Validations.of(wide.app).addPlugins(new AwsSolutionsChecks(wide.app));
    expect(() => wide.app.synth()).toThrow(/AwsSolutions-IAM5\[Action::secretsmanager:Describe\*\]/);
  });

  it('refuses at synth a grant that would let the audit read secret values, however it was added', () => {
    for (const action of ['secretsmanager:GetSecretValue', 'secretsmanager:*', 'secretsmanager:BatchGetSecretValue']) {
      const { app, stack } = withAudit({});
      stack.audit!.function.addToRolePolicy(new iam.PolicyStatement({ actions: [action], resources: ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-??????'] }));
      expect(() => app.synth(), action).toThrow(`the audit function must not read secret values, but its role allows ${action}`);
    }
  });
});
