/** What the package exports for CDK apps: the constructs, RotorStack and its config, and the contract words they take. */
export { Kinds, KIND_TRAITS, resolveStrategy, RotorTags, Strategies, type KindName, type Strategy } from '../lambdas/contract/index.js';
import { Strategies, type Strategy } from '../lambdas/contract/index.js';

export * from './api-token-rotation.js';
export * from './audit-schedule.js';
export * from './database-rotation.js';
export * from './emergency-rotation.js';
export * from './fingerprint-key.js';
export * from './grace-period.js';
export * from './health-event-forwarder.js';
export * from './iam-access-key-rotation.js';
export * from './imported-secret-tags.js';
export * from './kind-registry.js';
export * from './lambda-assets.js';
export * from './package-root.js';
export * from './mysql-rotation.js';
export * from './pending-store-alarm.js';
export * from './postgres-rotation.js';
export * from './retire-schedule.js';
export * from './rotation-alarms.js';
export * from './rotation-function-base.js';
export * from './rotation-schedule.js';
export * from './rotation-shortcuts.js';
export * from './rotor-config.js';
export * from './rotor-dashboard.js';
export * from './rotor-function.js';
export * from './rotor-stack.js';
export * from './secret-access.js';

/** The strategies a rotation construct takes: the contract's Strategies, under the name lib/ exported before. */
export const RotationStrategy = Strategies;
export type RotationStrategy = Strategy;

// The Organizations deployment shape (README, "Many accounts").
export * from './organization/asset-digest.js';
export * from './organization/central-stack.js';
export * from './organization/member-stack.js';
export * from './organization/member-synthesizer.js';
export * from './organization/organization-config.js';
