import { createRotationHandler } from '../core/handler.js';
import { createMysqlKind, mysqlKind } from './mysqlKind.js';
import { withMysqlPreflight } from './preflight.js';

/**
 * The MySQL/MariaDB rotation function. Environment: ROTATION_STRATEGY, PASSWORD_LENGTH,
 * EXCLUDE_CHARACTERS (the engine's), MAX_USERNAME_LENGTH and DUAL_PASSWORD (see `mysqlDefaults`).
 */
export const handler = createRotationHandler(withMysqlPreflight(mysqlKind));
export { createMysqlKind, mysqlKind };
export { mysqlDefaults, readMysqlOptions, type MysqlOptions } from './options.js';
export { parseMysqlSecret, type MysqlSecret } from './secret.js';
