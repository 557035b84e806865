import { Duration, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { RotorTags } from '../lambdas/core/types';
import type { RetireSchedule } from './retire-schedule';
import {
  lambdaEntry,
  RotationFunctionBase,
  rotationDefaults,
  RotationStrategy,
  type RotationConstructProps,
} from './rotation-function';

/** Defaults of the IAM access key rotation, in one place. */
export const iamRotationDefaults = {
  gracePeriod: Duration.hours(24),
  /** How long testSecret waits for STS to accept a new key (IAM is eventually consistent). */
  stsTestTimeout: Duration.seconds(60),
  /** Longer than stsTestTimeout plus the other calls of a step. */
  timeout: Duration.minutes(2),
  /** The longest grace window the handler accepts. */
  maxGracePeriod: Duration.days(365),
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
    validate(id, { grace, stsTimeout, timeout, automaticallyAfter: props.schedule ? undefined : (props.automaticallyAfter ?? rotationDefaults.automaticallyAfter) });
    super(
      scope,
      id,
      { ...props, timeout },
      {
        kind: 'iam',
        entry: lambdaEntry('iam'),
        strategy: RotationStrategy.SINGLE_USER,
        environment: { IAM_TEST_TIMEOUT_MS: String(stsTimeout.toMilliseconds()) },
        tags: { [RotorTags.GRACE_HOURS]: String(grace.toHours({ integral: false })) },
        randomPasswords: false,
        fingerprintTags: true,
        issuesCredentials: true,
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
        conditions: { 'ForAllValues:StringLike': { 'aws:TagKeys': ['AKIA*'] } },
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
        conditions: { 'ForAllValues:StringLike': { 'aws:TagKeys': ['AKIA*'] } },
      }),
    );
  }
}

function validate(
  id: string,
  p: { grace: Duration; stsTimeout: Duration; timeout: Duration; automaticallyAfter?: Duration },
): void {
  for (const [name, d] of [['gracePeriod', p.grace], ['stsTestTimeout', p.stsTimeout], ['timeout', p.timeout]] as const) {
    if (Token.isUnresolved(d.toMilliseconds())) throw new Error(`${id}: ${name} must be a concrete duration, not a token`);
  }
  if (p.grace.toMilliseconds() > iamRotationDefaults.maxGracePeriod.toMilliseconds()) {
    throw new Error(`${id}: gracePeriod must be at most 365 days, got ${p.grace.toHumanString()}`);
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
  if (p.automaticallyAfter && p.grace.toMilliseconds() >= p.automaticallyAfter.toMilliseconds()) {
    throw new Error(
      `${id}: gracePeriod must be shorter than automaticallyAfter (the next rotation would cut it short), ` +
        `got gracePeriod ${p.grace.toHumanString()} and automaticallyAfter ${p.automaticallyAfter.toHumanString()}`,
    );
  }
}
