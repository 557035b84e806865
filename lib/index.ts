/** What the package exports for CDK apps: the constructs, RotorStack and its config, and the contract words they take. */
export { Kinds, KIND_TRAITS, resolveStrategy, RotorTags, Strategies, type KindName, type Strategy } from '../lambdas/contract';
import { Strategies, type Strategy } from '../lambdas/contract';

export * from './api-token-rotation';
export * from './database-rotation';
export * from './emergency-rotation';
export * from './grace-period';
export * from './health-event-forwarder';
export * from './iam-access-key-rotation';
export * from './imported-secret-tags';
export * from './kind-registry';
export * from './lambda-entries';
export * from './mysql-rotation';
export * from './pending-store-alarm';
export * from './postgres-rotation';
export * from './retire-schedule';
export * from './rotation-alarms';
export * from './rotation-function-base';
export * from './rotation-schedule';
export * from './rotation-shortcuts';
export * from './rotor-config';
export * from './rotor-function';
export * from './rotor-stack';
export * from './secret-access';

/** The strategies a rotation construct takes: the contract's Strategies, under the name lib/ exported before. */
export const RotationStrategy = Strategies;
export type RotationStrategy = Strategy;
