import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KindName } from '../lambdas/contract/index.js';

const lambdas = join(dirname(fileURLToPath(import.meta.url)), '..', 'lambdas');

/**
 * The Lambda entry files the constructs bundle. A kind's rotation entry is its folder's
 * index.ts (the folder is named after the kind), so a new kind needs no line here.
 */
export const LambdaEntries = {
  /** The rotation function of a kind: lambdas/<kind>/index.ts. */
  rotation: (kind: KindName): string => join(lambdas, kind, 'index.ts'),
  /** The EventBridge-driven "rotate now and revoke" handler. */
  emergency: join(lambdas, 'emergency', 'index.ts'),
  /** The hourly retire handler of dual-active kinds. */
  retire: join(lambdas, 'retire', 'index.ts'),
} as const;
