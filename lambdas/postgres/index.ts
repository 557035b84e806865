import { createRotationHandler } from '../core/handler.js';
import { postgresKind } from './postgresKind.js';

/** The PostgreSQL rotation function (ROTATION_STRATEGY, PASSWORD_LENGTH, EXCLUDE_CHARACTERS). */
export const handler = createRotationHandler(postgresKind);
export { postgresKind };
