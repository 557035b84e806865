import { createRotationHandler } from '../core/handler.js';
import { postgresKind } from './postgresKind.js';
import { withPostgresPreflight } from './preflight.js';

/** The PostgreSQL rotation function (ROTATION_STRATEGY, PASSWORD_LENGTH, EXCLUDE_CHARACTERS). */
export const handler = createRotationHandler(withPostgresPreflight(postgresKind));
export { postgresKind };
