#!/usr/bin/env -S npx tsx
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { PostgresRotation } from '../lib/postgres-rotation';

/** The example app: `npm run synth` synthesizes it offline. */
const app = new App();
const stack = new Stack(app, 'RotorExample', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT ?? '123456789012', region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' },
});
const master = new secretsmanager.Secret(stack, 'PostgresMaster', { description: 'PostgreSQL master credential' });
const appSecret = new secretsmanager.Secret(stack, 'PostgresApp', { description: 'PostgreSQL application credential' });
new PostgresRotation(stack, 'PostgresAppRotation', { secret: appSecret, masterSecret: master });
app.synth();
