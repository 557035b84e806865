import { kindsWhere } from '../kinds.js';
import { createRetireHandler, type RetireKinds } from './retire.js';

/** The dual-active kinds of the registry (lambdas/kinds.ts, KIND_TRAITS.dualActive), by their `rotor:kind` tag. */
export const retireKinds: RetireKinds = kindsWhere((traits) => traits.dualActive) as RetireKinds;

/** The scheduled retire function (an EventBridge schedule invokes it, hourly by default). */
export const handler = createRetireHandler(retireKinds);
