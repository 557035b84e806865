import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RotorStack } from 'rotor';
import { config } from './rotor.config.js';

/**
 * The example CDK app, written as an infra team writes theirs: it imports the installed package
 * (`rotor`, here the package itself by name, resolved through its `exports` to the built dist/),
 * deploys one RotorStack from a typed config, and runs cdk-nag on every synth.
 * `npm run synth` builds the package and synthesizes this app offline.
 */
export function buildApp(app = new App()): App {
  new RotorStack(app, config.stackName ?? 'Rotor', { config, env: config.env });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

buildApp().synth();
