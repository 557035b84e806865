import { App, Stack } from 'aws-cdk-lib';

/** A fresh stack whose NodejsFunctions are not bundled (Template tests need no code). */
export function testStack(id = 'TestStack'): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, id, { env: { account: '123456789012', region: 'eu-west-1' } });
}
