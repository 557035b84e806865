import { connect as tcpConnect } from 'node:net';
import { finding } from '../contract/index.js';
import { RotorError } from '../core/errors.js';
import { Strategies, type KindContext, type PreflightContext, type PreflightFinding, type RotationKind } from '../core/types.js';
import { baseUsername, CLONE_SUFFIX } from './alternatingUsers.js';
import type { AlternatePair, DatabaseEngine, DatabaseSecret } from './databaseKind.js';

const { ok, problem, skipped } = finding;

/** Names of the database kinds' preflight checks. */
export const DatabaseChecks = {
  REACHABLE: 'target-reachable',
  CURRENT_LOGIN: 'current-login',
  STRATEGY: 'strategy',
  MASTER_SECRET: 'master-secret',
  MASTER_LOGIN: 'master-login',
  MASTER_PRIVILEGES: 'master-privileges',
  CLONE_PAIRING: 'clone-pairing',
  SERVER_PASSWORD_RULES: 'server-password-rules',
} as const;

export const databasePreflightDefaults = {
  /** As the drivers' connect timeout (postgres/connection.ts, mysql/options.ts): a host that does not answer is a problem in this time. */
  connectTimeoutMs: 5_000,
} as const;

/** A database secret with its server (both engines' secrets have these). */
export type TargetSecret = DatabaseSecret & { readonly host: string; readonly port: number };

/** What an engine adds to the shared database preflight: its read-only catalog queries. */
export interface DatabasePreflight<S extends TargetSecret, P> {
  /**
   * Logs in with the master (only after the shared checks proved the current credential and that
   * the master secret is for the same server) and checks, with read-only catalog queries, what
   * alternating users needs of it, and the pairing marker of a clone that exists. Changes nothing.
   */
  masterChecks(master: S, current: S, pair: AlternatePair, proof: P, ctx: PreflightContext<S>): Promise<PreflightFinding[]>;
  /** The server's own password rules (a validation plugin) against the function's policy; read-only. */
  passwordRules?(current: S, ctx: PreflightContext<S>): Promise<PreflightFinding[]>;
}

const messageOf = (err: unknown) => (err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err));

/**
 * Whether the host answers on its port at all, before any credential is sent: a bare TCP
 * connection, closed at once (no library: one connect with a timeout is all it takes, and it
 * tells "unreachable" from "refused the password", which a driver's error does not always).
 */
export function reachable(host: string, port: number, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (result: { ok: true } | { ok: false; reason: string }) => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, reason: `no answer within ${timeoutMs} ms` }));
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }));
  });
}

/**
 * The database kinds' preflight, in the order and under the rules of their rotation flows
 * (databaseKind.ts): the target answers; the AWSCURRENT credential logs in as the account it
 * names (the engine's proveCurrent, as before any master action); for alternating users the
 * engine's own limits, the master secret readable, for the same host and port (else it is never
 * sent) and not the rotated login; then the engine's read-only master checks. Nothing is changed.
 */
export function withDatabasePreflight<S extends TargetSecret, P>(
  kind: RotationKind<S>,
  engine: DatabaseEngine<S, P>,
  checks: DatabasePreflight<S, P>,
): RotationKind<S> {
  return {
    ...kind,
    async preflight(current: S, ctx: PreflightContext<S>): Promise<PreflightFinding[]> {
      const found: PreflightFinding[] = [];
      const target = `${current.host}:${current.port}`;
      engine.checkSettings?.();
      const reach = await reachable(current.host, current.port, databasePreflightDefaults.connectTimeoutMs);
      if (!reach.ok) {
        found.push(
          problem(
            DatabaseChecks.REACHABLE,
            `${target} does not answer from this function's network (${reach.reason})`,
            "check the secret's host and port, the database's security group (it must allow this function's security group on that port), the function's subnets and routes",
          ),
        );
        for (const name of [DatabaseChecks.CURRENT_LOGIN, DatabaseChecks.STRATEGY]) found.push(skipped(name, 'not checked: the target does not answer'));
        return found;
      }
      found.push(ok(DatabaseChecks.REACHABLE, `${target} answers from this function's network`));

      ctx.recordLogin();
      let proof: P;
      try {
        const proven = await engine.proveCurrent(current, ctx);
        if (!proven.accepted) {
          found.push(
            problem(
              DatabaseChecks.CURRENT_LOGIN,
              `${target} refuses the AWSCURRENT password of ${JSON.stringify(current.username)}` +
                (ctx.strategy === Strategies.ALTERNATING_USERS ? ': alternating users acts with the master only for a working current credential' : ''),
              'store the password the database has for this login as AWSCURRENT (aws secretsmanager put-secret-value), or set the stored one on the login',
            ),
          );
          found.push(skipped(DatabaseChecks.STRATEGY, 'not checked: the current credential does not log in'));
          return found;
        }
        proof = proven.proof;
      } catch (err) {
        found.push(problem(DatabaseChecks.CURRENT_LOGIN, `logging in as ${JSON.stringify(current.username)} at ${target} failed: ${messageOf(err)}`, 'see the error: the first step of a rotation would fail the same way'));
        found.push(skipped(DatabaseChecks.STRATEGY, 'not checked: the current credential does not log in'));
        return found;
      }
      found.push(ok(DatabaseChecks.CURRENT_LOGIN, `the AWSCURRENT credential logs in as ${JSON.stringify(current.username)}`));
      if (checks.passwordRules) {
        try {
          found.push(...(await checks.passwordRules(current, ctx)));
        } catch (err) {
          found.push(problem(DatabaseChecks.SERVER_PASSWORD_RULES, `reading the server's password rules failed: ${messageOf(err)}`, 'see the error'));
        }
      }

      if (ctx.strategy !== Strategies.ALTERNATING_USERS) {
        found.push(ok(DatabaseChecks.STRATEGY, 'single-user: the login changes its own password; no master secret is used'));
        return found;
      }
      return [...found, ...(await alternating(engine, checks, current, proof, ctx))];
    },
  };
}

async function alternating<S extends TargetSecret, P>(
  engine: DatabaseEngine<S, P>,
  checks: DatabasePreflight<S, P>,
  current: S,
  proof: P,
  ctx: PreflightContext<S>,
): Promise<PreflightFinding[]> {
  const found: PreflightFinding[] = [];
  const masterSkipped = (because: string) =>
    [DatabaseChecks.MASTER_LOGIN, DatabaseChecks.MASTER_PRIVILEGES].map((name) => skipped(name, `not checked: ${because}`));
  try {
    engine.checkAlternating(current, ctx as KindContext);
  } catch (err) {
    if (!(err instanceof RotorError)) throw err;
    found.push(problem(DatabaseChecks.STRATEGY, err.message, 'shorten the login name or change the setting named there'));
    return found;
  }
  if (!current.masterarn) {
    found.push(
      problem(
        DatabaseChecks.MASTER_SECRET,
        "alternating users needs the master secret: the AWSCURRENT value has no field 'masterarn'",
        "add 'masterarn' (the master secret's ARN) to the secret's value, or rotate single-user",
      ),
      ...masterSkipped('no master secret'),
    );
    return found;
  }
  let master: S;
  try {
    master = await ctx.readSecret(current.masterarn);
  } catch (err) {
    found.push(
      problem(
        DatabaseChecks.MASTER_SECRET,
        `this function cannot read the master secret ${current.masterarn}: ${messageOf(err)}`,
        "give the construct the master secret (masterSecret): it grants this function secretsmanager:GetSecretValue on it (and kms:Decrypt for its key)",
      ),
      ...masterSkipped('the master secret is not readable'),
    );
    return found;
  }
  if (!engine.sameServer(master, current)) {
    found.push(
      problem(
        DatabaseChecks.MASTER_SECRET,
        `the master secret ${current.masterarn} is for a different host or port than the secret: Rotor refuses to act with it (its credential is not sent anywhere)`,
        "point 'masterarn' at the master secret of this database server",
      ),
      ...masterSkipped('the master secret is for another server'),
    );
    return found;
  }
  const base = baseUsername(current.username);
  const pair: AlternatePair = { base, clone: `${base}${CLONE_SUFFIX}`, secretArn: ctx.secretArn };
  if (master.username === pair.base || master.username === pair.clone) {
    found.push(
      problem(DatabaseChecks.MASTER_SECRET, 'the master secret names the rotated login itself: Rotor refuses to rotate the master user', "point 'masterarn' at an administrator's secret"),
      ...masterSkipped('the master is the rotated login'),
    );
    return found;
  }
  found.push(ok(DatabaseChecks.MASTER_SECRET, `master secret readable, for the same server, login ${JSON.stringify(master.username)}`));
  found.push(...(await checks.masterChecks(master, current, pair, proof, ctx)));
  return found;
}

/**
 * The master's finding when its session fails: refused (the master secret's password is not the
 * database's), or the error itself (the report is redacted as a whole).
 */
export function masterSessionFailed(err: unknown, username: string, refused: boolean): PreflightFinding[] {
  if (refused) {
    return [
      problem(
        DatabaseChecks.MASTER_LOGIN,
        `the database refuses the master secret's password for ${JSON.stringify(username)}`,
        'store the master password the database has in the master secret',
      ),
    ];
  }
  return [problem(DatabaseChecks.MASTER_LOGIN, `the master session failed: ${err instanceof Error ? err.message : String(err)}`, 'see the error: setSecret would fail the same way')];
}
