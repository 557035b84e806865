import type { Template } from 'aws-cdk-lib/assertions';
import { App, Stack } from 'aws-cdk-lib';

/** A fresh stack in a fresh app (the functions deploy the package's pre-built bundles: no bundling at synth). */
export function testStack(id = 'TestStack'): Stack {
  const app = new App();
  return new Stack(app, id, { env: { account: '123456789012', region: 'eu-west-1' } });
}

export type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/**
 * The IAM policy statements of a template; with `rolePrefix`, only those of the policies
 * attached to the role whose logical id contains it.
 */
export function policyStatements(template: Template, rolePrefix?: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => rolePrefix === undefined || JSON.stringify(p.Properties.Roles).includes(rolePrefix))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** A statement's actions as a list. */
export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
