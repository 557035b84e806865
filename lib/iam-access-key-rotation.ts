import { Duration, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { IAM_KEY_MARKER_TAG_PATTERN, Kinds, settings } from '../lambdas/contract/index.js';
import { writeSetting } from './function-settings.js';
import { gracePeriodDefaults, validateConsumerCacheTtl } from './grace-period.js';
import type { KindConstruct } from './kind-registry.js';
import type { RetireSchedule } from './retire-schedule.js';
import { RotationFunctionBase, type RotationConstructProps } from './rotation-function-base.js';
import type { DualActiveSecretConfig } from './rotor-config.js';

/** Defaults of the IAM access key rotation, in one place. */
export const iamRotationDefaults = {
  gracePeriod: gracePeriodDefaults.gracePeriod,
  /** How long testSecret waits for STS to accept a new key (IAM is eventually consistent). */
  stsTestTimeout: Duration.seconds(60),
  /** Longer than stsTestTimeout plus the other calls of a step. */
  timeout: Duration.minutes(2),
  /** The longest grace window the handler accepts. */
  maxGracePeriod: gracePeriodDefaults.maxGracePeriod,
} as const;

/** Time a step needs besides waiting for STS (IAM and Secrets Manager calls). */
const STEP_MARGIN = Duration.seconds(30);

/** Options of an IAM access key rotation (as passed to a shortcut). */
export interface IamAccessKeyRotationOptions {
  /**
   * How long the previous key stays active after a rotation; the retire schedule deactivates it
   * then, and the next rotation deletes it. Written to the secret's `rotor:grace-hours` tag; a
   * `graceperiod` field in the secret's value takes precedence.
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
   * How long testSecret retries STS GetCallerIdentity with the new key before failing.
   * @default Duration.seconds(60)
   */
  readonly stsTestTimeout?: Duration;
  /**
   * The retire schedule that deactivates the previous key after `gracePeriod`; this secret and
   * user are added to it.
   * @default - none: previous keys stay active until the next rotation deletes them
   */
  readonly retireSchedule?: RetireSchedule;
}

export interface IamAccessKeyRotationProps extends RotationConstructProps, IamAccessKeyRotationOptions {
  /** The IAM user whose access keys the secret holds (its `username`); the only user the function may touch. */
  readonly user: iam.IUser;
}

/**
 * Rotates an IAM user's access key (secret JSON `username`, `accessKeyId`, `secretAccessKey`):
 * each rotation creates a new key and keeps the previous one active for a grace window, so
 * clients holding it never fail. The function may manage the keys of `user` only.
 */
export class IamAccessKeyRotation extends RotationFunctionBase {
  public readonly user: iam.IUser;

  public constructor(scope: Construct, id: string, props: IamAccessKeyRotationProps) {
    const grace = props.gracePeriod ?? iamRotationDefaults.gracePeriod;
    const stsTimeout = props.stsTestTimeout ?? iamRotationDefaults.stsTestTimeout;
    const timeout = props.timeout ?? iamRotationDefaults.timeout;
    validate(id, { stsTimeout, timeout });
    validateConsumerCacheTtl(id, grace, props.consumerCacheTtl);
    super(
      scope,
      id,
      { ...props, timeout },
      {
        kind: Kinds.IAM,
        environment: writeSetting(settings.iamTestTimeoutMs, stsTimeout.toMilliseconds()),
        gracePeriod: grace,
        fingerprintTags: true,
      },
    );
    this.user = props.user;
    const userArn = props.user.userArn;
    this.rotationFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:ListAccessKeys', 'iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey', 'iam:ListUserTags'],
        resources: [userArn],
      }),
    );
    // Rotor marks the keys it creates with a user tag keyed by the access key id (the key's
    // description in the console), so a retry can tell its own orphan from somebody's key.
    // Only such tags: the function cannot set tags that attribute-based policies might read.
    this.rotationFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:TagUser', 'iam:UntagUser'],
        resources: [userArn],
        conditions: { 'ForAllValues:StringLike': { 'aws:TagKeys': [IAM_KEY_MARKER_TAG_PATTERN] } },
      }),
    );
    props.retireSchedule?.addIamAccessKey(props.secret, props.user);
  }

  /** Revoking a leaked key: deactivate, delete and untag it, on this user only. */
  public override grantRevoke(grantee: iam.IGrantable): void {
    super.grantRevoke(grantee);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:ListAccessKeys', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey'],
        resources: [this.user.userArn],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:UntagUser'],
        resources: [this.user.userArn],
        conditions: { 'ForAllValues:StringLike': { 'aws:TagKeys': [IAM_KEY_MARKER_TAG_PATTERN] } },
      }),
    );
  }
}

function validate(id: string, p: { stsTimeout: Duration; timeout: Duration }): void {
  for (const [name, d] of [['stsTestTimeout', p.stsTimeout], ['timeout', p.timeout]] as const) {
    if (Token.isUnresolved(d.toMilliseconds())) throw new Error(`${id}: ${name} must be a concrete duration, not a token`);
  }
  if (p.stsTimeout.toMilliseconds() < 1000) {
    throw new Error(`${id}: stsTestTimeout must be at least 1 second, got ${p.stsTimeout.toHumanString()}`);
  }
  if (p.stsTimeout.toMilliseconds() + STEP_MARGIN.toMilliseconds() > p.timeout.toMilliseconds()) {
    throw new Error(
      `${id}: timeout must exceed stsTestTimeout by at least 30 seconds, got timeout ${p.timeout.toHumanString()} ` +
        `and stsTestTimeout ${p.stsTimeout.toHumanString()}`,
    );
  }
}

/** An IAM access key secret in the RotorStack config. */
export interface IamSecretConfig extends DualActiveSecretConfig {
  readonly kind: typeof Kinds.IAM;
  /** The IAM user(s) whose keys this secret holds (exactly one today). */
  readonly userNames: readonly string[];
}

/** RotorStack's registry entry for IAM access keys. */
export const iamAccessKeyKind: KindConstruct<IamSecretConfig> = {
  fromConfig: (scope, config, context) => {
    if (config.userNames.length !== 1) {
      throw new Error(`secrets[${config.id}].userNames must name exactly one IAM user, got ${config.userNames.length}`);
    }
    return new IamAccessKeyRotation(scope, config.id, {
      ...context.common,
      user: iam.User.fromUserName(scope, `${config.id}User`, config.userNames[0]!),
      gracePeriod: config.graceHours !== undefined ? Duration.hours(config.graceHours) : undefined,
      consumerCacheTtl: config.consumerCacheTtlSeconds !== undefined ? Duration.seconds(config.consumerCacheTtlSeconds) : undefined,
      retireSchedule: context.retireSchedule,
    });
  },
};
