import { settings } from '../contract/index.js';
import { readSetting } from '../core/settings.js';

/**
 * Defaults of the MySQL kind's own settings. Each can be overridden by the environment
 * variable named beside it; the engine's ROTATION_STRATEGY, PASSWORD_LENGTH and
 * EXCLUDE_CHARACTERS apply as for every kind.
 */
export const mysqlDefaults = {
  /**
   * MAX_USERNAME_LENGTH: the longest user name the server accepts, checked for `<user>_clone`
   * before anything is created. MySQL 5.7 and 8: 32; MySQL 5.6 and older: 16; MariaDB 10.11: 128.
   */
  maxUsernameLength: settings.maxUsernameLength.default ?? 32,
  /**
   * DUAL_PASSWORD: with the single-user strategy on MySQL 8.0.14+, set the new password with
   * `RETAIN CURRENT PASSWORD`, so the old one keeps working until the next rotation (or until
   * the retire hook runs `DISCARD OLD PASSWORD`). Refused on MariaDB and older MySQL.
   */
  dualPassword: settings.dualPassword.default ?? false,
  /** A host that does not answer fails the step in this time, well inside the Lambda's timeout. */
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 10_000,
} as const;

export interface MysqlOptions {
  readonly maxUsernameLength: number;
  readonly dualPassword: boolean;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
}

/** Reads MAX_USERNAME_LENGTH and DUAL_PASSWORD (the contract's settings); anything else than a valid value is refused. */
export function readMysqlOptions(env: Readonly<Record<string, string | undefined>>): MysqlOptions {
  const what = 'mysql rotation';
  return {
    ...mysqlDefaults,
    maxUsernameLength: readSetting(settings.maxUsernameLength, env, what) ?? mysqlDefaults.maxUsernameLength,
    dualPassword: readSetting(settings.dualPassword, env, what) ?? mysqlDefaults.dualPassword,
  };
}
