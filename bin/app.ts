#!/usr/bin/env -S npx tsx
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RotorStack } from '../lib/rotor-stack.js';
import { config } from './rotor.config.js';

/** The CDK app: `npm run synth` synthesizes the example config offline; cdk-nag runs on every synth. */
export function buildApp(app = new App()): App {
  new RotorStack(app, config.stackName ?? 'Rotor', { config, env: config.env });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

buildApp().synth();
