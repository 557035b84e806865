import { createRotationHandler } from '../core/handler';
import { postgresKind } from './postgresKind';

/** The PostgreSQL rotation function (ROTATION_STRATEGY, PASSWORD_LENGTH, EXCLUDE_CHARACTERS). */
export const handler = createRotationHandler(postgresKind);
export { postgresKind };
