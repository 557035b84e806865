import { createRotationHandler } from '../core/handler';
import { apiTokenKind, apiTokenGraceHours, createApiTokenKind } from './apiTokenKind';

/** The API token rotation function (providers: datadog, cloudflare, http). */
export const handler = createRotationHandler(apiTokenKind);
export { apiTokenKind, apiTokenGraceHours, createApiTokenKind };
export { providers } from './providers';
export type { TokenProvider } from './provider';
export type { ApiTokenSecret } from './secret';
