import { createRotationHandler } from '../core/handler.js';
import { apiTokenKind, createApiTokenKind } from './apiTokenKind.js';
import { withApiTokenPreflight } from './preflight.js';

/** The API token rotation function (providers: datadog, cloudflare, http). */
export const handler = createRotationHandler(withApiTokenPreflight(apiTokenKind));
export { apiTokenKind, createApiTokenKind };
export { providers } from './providers/index.js';
export type { TokenProvider } from './provider.js';
export type { ApiTokenSecret } from './secret.js';
