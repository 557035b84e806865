import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { Kinds } from '../lambdas/contract/index.js';
import { gracePeriodDefaults, validateConsumerCacheTtl } from './grace-period.js';
import type { KindConstruct } from './kind-registry.js';
import type { RetireSchedule } from './retire-schedule.js';
import { RotationFunctionBase, type RotationConstructProps } from './rotation-function-base.js';
import type { DualActiveSecretConfig } from './rotor-config.js';
import { keyViaSecretsManager, secretArnPattern } from './secret-access.js';

/** Defaults of the API token rotation, in one place. */
export const apiTokenRotationDefaults = {
  gracePeriod: gracePeriodDefaults.gracePeriod,
  /**
   * Longer than the default 60 s: a step may wait out a provider's Retry-After (up to 30 s per
   * request) and retries requests that time out (10 s each).
   */
  timeout: Duration.minutes(2),
  maxGracePeriod: gracePeriodDefaults.maxGracePeriod,
} as const;

/** Options of an API token rotation (as passed to a shortcut). */
export interface ApiTokenRotationOptions {
  /**
   * How long the previous token of a dual-active provider (datadog, or http with dualActive)
   * keeps working after a rotation; the retire schedule revokes it then. Written to the secret's
   * `rotor:grace-hours` tag; a `graceperiod` field in the secret's value takes precedence.
   * Roll-only providers (cloudflare) invalidate the old token at once and ignore it.
   * @default Duration.hours(24)
   */
  readonly gracePeriod?: Duration;
  /**
   * The longest time a consumer of the secret keeps a value in its cache: the Secrets Manager
   * Lambda extension and Agent cache 300 s by default, the SDK caching clients 1 hour. When
   * declared, a `gracePeriod` shorter than it is refused at synth time (the previous value
   * would be retired while consumers still serve it from their caches).
   * @default - none declared: not checked
   */
  readonly consumerCacheTtl?: Duration;
  /**
   * The retire schedule that revokes previous tokens after `gracePeriod`; this secret is added
   * to it, and its function may read `managementSecret`.
   * @default - none: a previous token stays valid until the next rotation revokes it (with an
   * explicit `graceperiod` in the secret) or forever
   */
  readonly retireSchedule?: RetireSchedule;
}

/** How the function authenticates to the provider: exactly one of the two. */
export type ApiTokenAuthentication =
  | {
      /**
       * The secret holding the credential that issues and revokes tokens (the secret JSON's
       * `managementSecretArn` names it). The function may read it, never write it.
       */
      readonly managementSecret: secretsmanager.ISecret;
      readonly selfRotation?: never;
    }
  | {
      /**
       * The token rolls itself (roll-only providers whose tokens may only rotate themselves;
       * the secret JSON must say `"selfRotation": true` too). No management credential is read.
       */
      readonly selfRotation: true;
      readonly managementSecret?: never;
    };

export type ApiTokenRotationProps = RotationConstructProps & ApiTokenRotationOptions & ApiTokenAuthentication;

/**
 * Rotates an API token secret (JSON `provider`, `token`, `tokenId`, provider settings) through
 * a provider plugin: dual-active providers issue a new token and revoke the old one after the
 * grace window; roll-only providers roll the token in place. The function may read the
 * management secret and nothing else besides the secret it rotates.
 */
export class ApiTokenRotation extends RotationFunctionBase {
  /** The management credential's secret, when there is one. */
  public readonly managementSecret?: secretsmanager.ISecret;

  public constructor(scope: Construct, id: string, props: ApiTokenRotationProps) {
    const timeout = props.timeout ?? apiTokenRotationDefaults.timeout;
    validate(id, props);
    validateConsumerCacheTtl(id, props.gracePeriod ?? apiTokenRotationDefaults.gracePeriod, props.consumerCacheTtl);
    super(
      scope,
      id,
      { ...props, timeout },
      {
        kind: Kinds.API_TOKEN,
        readOnlySecrets: props.managementSecret ? [props.managementSecret] : [],
        gracePeriod: props.gracePeriod ?? apiTokenRotationDefaults.gracePeriod,
        fingerprintTags: true,
      },
    );
    this.managementSecret = props.managementSecret;

    if (props.retireSchedule) {
      props.retireSchedule.addSecret(props.secret);
      // The retire hook revokes old tokens with the management credential: read only.
      if (props.managementSecret) grantRead(props.retireSchedule.function, props.managementSecret);
    }
  }
}

/** Management secrets each retire function may already read (several rotations may share one). */
const retireReads = new WeakMap<object, Set<secretsmanager.ISecret>>();

function grantRead(fn: { addToRolePolicy(statement: iam.PolicyStatement): void }, secret: secretsmanager.ISecret): void {
  const granted = retireReads.get(fn) ?? new Set<secretsmanager.ISecret>();
  if (granted.has(secret)) return;
  granted.add(secret);
  retireReads.set(fn, granted);
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretArnPattern(secret)] }),
  );
  const key = keyViaSecretsManager(secret, secret, ['kms:Decrypt']);
  if (key) fn.addToRolePolicy(key);
}

function validate(id: string, props: ApiTokenRotationProps): void {
  const { managementSecret, selfRotation } = props as { managementSecret?: secretsmanager.ISecret; selfRotation?: boolean };
  if (managementSecret && selfRotation) {
    throw new Error(`${id}: managementSecret and selfRotation exclude each other; pass one`);
  }
  if (!managementSecret && selfRotation !== true) {
    throw new Error(`${id}: managementSecret is required (or selfRotation: true for a token that may only roll itself)`);
  }
  if (managementSecret && managementSecret === props.secret) {
    throw new Error(`${id}: managementSecret must be another secret than the rotated one (use selfRotation: true instead)`);
  }
}

/** An API token secret in the RotorStack config. */
export interface ApiTokenSecretConfig extends DualActiveSecretConfig {
  readonly kind: typeof Kinds.API_TOKEN;
  /**
   * Complete ARN of the secret holding the provider management credential.
   * @default - none: the token rotates itself (`selfRotation`)
   */
  readonly managementSecretArn?: string;
}

/** RotorStack's registry entry for API tokens. */
export const apiTokenKind: KindConstruct<ApiTokenSecretConfig> = {
  fromConfig: (scope, config, context) => {
    const managementSecret = context.imported('Management', config.managementSecretArn);
    const common = {
      ...context.common,
      gracePeriod: config.graceHours !== undefined ? Duration.hours(config.graceHours) : undefined,
      consumerCacheTtl: config.consumerCacheTtlSeconds !== undefined ? Duration.seconds(config.consumerCacheTtlSeconds) : undefined,
      retireSchedule: context.retireSchedule,
    };
    return managementSecret
      ? new ApiTokenRotation(scope, config.id, { ...common, managementSecret })
      : new ApiTokenRotation(scope, config.id, { ...common, selfRotation: true });
  },
};
