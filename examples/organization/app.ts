import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OrganizationShape } from 'rotor';
import { member, organization } from './organization.config.js';

/**
 * The example Organizations app: the central account's stacks (asset bucket, central bus with the
 * routing and the StackSet, the Health routers) and, inside the central stack, the member stack the
 * StackSet deploys to every account. `npm run synth:org` synthesizes it offline, with cdk-nag.
 */
export function buildApp(app = new App()): App {
  new OrganizationShape(app, { organization, member });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

buildApp().synth();
