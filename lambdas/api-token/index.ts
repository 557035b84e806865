import { createRotationHandler } from '../core/handler';
import { apiTokenKind, createApiTokenKind } from './apiTokenKind';

/** The API token rotation function (providers: datadog, cloudflare, http). */
export const handler = createRotationHandler(apiTokenKind);
export { apiTokenKind, createApiTokenKind };
export { providers } from './providers';
export type { TokenProvider } from './provider';
export type { ApiTokenSecret } from './secret';
