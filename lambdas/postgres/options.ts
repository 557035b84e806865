import { settings } from '../contract/index.js';
import { readSetting } from '../core/settings.js';

/** Defaults of the PostgreSQL kind's own settings (the contract's records). */
export const postgresDefaults = {
  /**
   * REASSIGN_CLONE_OBJECTS: alternating users only. Objects the clone owns (created through it
   * before its sessions ran as the user) are always reported; with this on, they are reassigned
   * to the user (`REASSIGN OWNED BY clone TO user`) in the master session, which then connects to
   * the rotated secret's `dbname` (REASSIGN OWNED acts on one database and the shared objects).
   */
  reassignCloneObjects: settings.reassignCloneObjects.default ?? false,
} as const;

export interface PostgresOptions {
  readonly reassignCloneObjects: boolean;
}

/** Reads REASSIGN_CLONE_OBJECTS through the contract; a bad value is a ConfigurationError. */
export function readPostgresOptions(env: Readonly<Record<string, string | undefined>>): PostgresOptions {
  return {
    reassignCloneObjects:
      readSetting(settings.reassignCloneObjects, env, 'postgres rotation') ?? postgresDefaults.reassignCloneObjects,
  };
}
