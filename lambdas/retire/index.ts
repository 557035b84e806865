import { createRetireHandler, type RetireKinds } from './retire';
import { apiTokenKind } from '../api-token/apiTokenKind';
import { iamKind } from '../iam/iamKind';

/**
 * Every dual-active kind, by its `rotor:kind` tag. To add one, add its entry here
 * (e.g. `'api-token': apiTokenKind`).
 */
export const retireKinds: RetireKinds = {
  iam: iamKind,
  'api-token': apiTokenKind,
};

/** The scheduled retire function (an EventBridge schedule invokes it, hourly by default). */
export const handler = createRetireHandler(retireKinds);
