import type pg from 'pg';
import { RotorMetrics } from '../contract/index.js';
import type { KindContext } from '../core/types.js';
import { ROTOR_APPLICATION_NAME } from './connection.js';

/**
 * Sessions open on `login` (pg_stat_activity.usename is the session user, so a clone's sessions
 * count as the clone even though they run as the user's role), except the asking session and
 * Rotor's own (application_name `rotor`). Every role may read usename and application_name of
 * every session, so this needs no pg_read_all_stats. Costs one query on a session the step
 * already holds, no login.
 */
export async function countSessions(client: pg.Client, login: string): Promise<number> {
  const res = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
      WHERE usename = $1 AND pid <> pg_catalog.pg_backend_pid() AND application_name IS DISTINCT FROM $2`,
    [login, ROTOR_APPLICATION_NAME],
  );
  return res.rows[0]?.n ?? 0;
}

/**
 * Reports the sessions of the login whose password is about to change: the OldLoginSessions
 * metric and one log line. Alternating users: that login is the one a full rotation old, so an
 * open session is a client that did not move to the current credential (a warning). Single-user:
 * it is the only login, its sessions are every client (open sessions keep working after the change).
 */
export function reportOldLoginSessions(ctx: KindContext, login: string, sessions: number, alternate: boolean): void {
  ctx.recordMetric?.(RotorMetrics.OLD_LOGIN_SESSIONS, sessions);
  const line = { login, oldLoginSessions: sessions };
  if (alternate && sessions > 0) {
    ctx.logger.warn('sessions still open on the login about to get a new password (clients on a credential a full rotation old)', line);
  } else {
    ctx.logger.info('sessions open on the login about to get a new password', line);
  }
}
