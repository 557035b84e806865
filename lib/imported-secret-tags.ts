import { Resource, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { secretArnPattern } from './secret-access.js';

export interface ImportedSecretTagsProps {
  /** The imported secret to tag. */
  readonly secret: secretsmanager.ISecret;
  /** The tags to put on it. */
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Tags a secret this app does not own (imported by ARN) at deploy time, with one
 * `secretsmanager:TagResource` call on that secret only, on create and on update.
 */
export class ImportedSecretTags extends cr.AwsCustomResource {
  public constructor(scope: Construct, id: string, props: ImportedSecretTagsProps) {
    const { secret, tags } = props;
    const call: cr.AwsSdkCall = {
      service: 'SecretsManager',
      action: 'tagResource',
      parameters: { SecretId: secret.secretArn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      physicalResourceId: cr.PhysicalResourceId.of(`rotor-tags-${secret.secretArn}`),
    };
    super(scope, id, {
      onCreate: call,
      onUpdate: call,
      installLatestAwsSdk: false,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['secretsmanager:TagResource'], resources: [secretArnPattern(secret)] }),
      ]),
    });
    // The SDK-call provider is a singleton aws-cdk-lib creates with the basic execution role.
    const provider = Stack.of(this).node.tryFindChild(
      cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '').replace(/^/, 'AWS'),
    );
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "aws-cdk-lib's AwsCustomResource provider (it tags imported secrets once per deploy) uses the basic execution role for its logs only",
      });
    }
  }
}

/**
 * Marks a secret as Rotor-managed (the retire handler, the emergency handler and `rotor status`
 * find secrets by these tags). A secret defined in this app is tagged in its template; an
 * imported one through an `ImportedSecretTags` (id `TagSecret` in `scope`) at deploy time.
 */
export function tagRotorSecret(scope: Construct, secret: secretsmanager.ISecret, tags: Readonly<Record<string, string>>): void {
  if (Resource.isOwnedResource(secret)) {
    for (const [key, value] of Object.entries(tags)) Tags.of(secret).add(key, value);
    return;
  }
  new ImportedSecretTags(scope, 'TagSecret', { secret, tags });
}
