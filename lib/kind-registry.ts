import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { KindName } from '../lambdas/contract/index.js';
import { apiTokenKind } from './api-token-rotation.js';
import { iamAccessKeyKind } from './iam-access-key-rotation.js';
import { mysqlKind } from './mysql-rotation.js';
import { postgresKind } from './postgres-rotation.js';
import type { RetireSchedule } from './retire-schedule.js';
import type { RotationConstructProps, RotationFunctionBase } from './rotation-function-base.js';
import type { SecretConfigBase } from './rotor-config.js';

/** What RotorStack gives every kind when it builds the kind's rotation from a config entry. */
export interface KindContext {
  /** The props every rotation takes: the secret, the schedule and window, the alarm topic. */
  readonly common: RotationConstructProps;
  /** The VPC of `config.network`, when there is one. */
  readonly vpc?: ec2.IVpc;
  /** The retire schedule (present when any configured kind is dual-active). */
  readonly retireSchedule?: RetireSchedule;
  /** Imports a secret of this entry by complete ARN (id `<entry id><name>`); undefined without an ARN. */
  imported(name: string, arn: string | undefined): secretsmanager.ISecret | undefined;
}

/** How RotorStack builds one kind's rotation from its config entry. */
export interface KindConstruct<C extends SecretConfigBase> {
  /** The rotation construct of `config`, in `scope`, with the id `config.id`. */
  fromConfig(scope: Construct, config: C, context: KindContext): RotationFunctionBase;
}

/**
 * The one registry of kinds on the deploy side: a kind of the contract (Kinds, KIND_TRAITS)
 * without a construct here is a compile error. Adding a kind: its lambdas/<kind>/ folder, its
 * construct file (props, construct, config entry, `fromConfig`), and one line here.
 */
export const KIND_CONSTRUCTS = {
  postgres: postgresKind,
  mysql: mysqlKind,
  iam: iamAccessKeyKind,
  'api-token': apiTokenKind,
} as const satisfies KindRegistry;

/** One construct per kind, each taking the config entry of that kind. */
export type KindRegistry = { readonly [K in KindName]: KindConstruct<SecretConfigBase & { readonly kind: K }> };

type ConfigOf<T> = T extends KindConstruct<infer C> ? C : never;

/** A secret of the config: the entry of one kind (see each kind's `XxxSecretConfig`). */
export type RotorSecretConfig = { [K in KindName]: ConfigOf<(typeof KIND_CONSTRUCTS)[K]> }[KindName];

/** Builds the rotation of one config entry with its kind's construct. */
export function rotationFromConfig(scope: Construct, config: RotorSecretConfig, context: KindContext): RotationFunctionBase {
  // The registry is keyed by kind, so the entry and the construct agree; TypeScript cannot
  // correlate the two unions by itself.
  const kind = KIND_CONSTRUCTS[config.kind] as KindConstruct<RotorSecretConfig>;
  return kind.fromConfig(scope, config, context);
}
