import { createRotationHandler } from '../core/handler.js';
import { iamKind } from './iamKind.js';
import { withIamPreflight } from './preflight.js';

/** The IAM access key rotation function (IAM_TEST_TIMEOUT_MS bounds testSecret's STS retries). */
export const handler = createRotationHandler(withIamPreflight(iamKind));
export { createIamKind, iamDefaults, iamKind, readIamOptions, type IamKindOptions } from './iamKind.js';
export type { IamSecret } from './secret.js';
