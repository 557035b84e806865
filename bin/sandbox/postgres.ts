import pg from 'pg';
import { postgresKind } from '../../lambdas/postgres/postgresKind';
import { pgLogin, startPostgresCluster, testPassword, uniqueName } from '../../test/support/postgres';
import { mark, printLabels, quietHandler, short, type SandboxContext } from './common';

/** Rotates a sample PostgreSQL secret with each strategy against a throwaway scram-auth cluster. */
export async function postgresSandbox(ctx: SandboxContext): Promise<void> {
  ctx.print('PostgreSQL (throwaway cluster, scram-sha-256 password authentication)');
  const cluster = await startPostgresCluster();
  const admin = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.superuser.username,
    password: cluster.superuser.password,
    database: 'postgres',
  });
  try {
    await admin.connect();
    const master = await ctx.player.createSecret('sandbox/postgres/master', {
      engine: 'postgres',
      host: cluster.host,
      port: cluster.port,
      username: cluster.superuser.username,
      password: cluster.superuser.password,
    });
    for (const strategy of ['single-user', 'alternating-users'] as const) {
      const username = uniqueName('app');
      const password = testPassword();
      await admin.query(
        `CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`,
      );
      const arn = await ctx.player.createSecret(`sandbox/postgres/${strategy}`, {
        engine: 'postgres',
        host: cluster.host,
        port: cluster.port,
        username,
        password,
        dbname: 'postgres',
        ...(strategy === 'alternating-users' ? { masterarn: master } : {}),
      });
      const handler = quietHandler(postgresKind, ctx, { ROTATION_STRATEGY: strategy });
      ctx.print(`  ${strategy}: secret ${arn.split(':').at(-1)} for role ${username}`);
      const seen: Array<{ username: string; password: string }> = [{ username, password }];
      for (let round = 1; round <= 3; round++) {
        const started = Date.now();
        const { token, outcomes } = await ctx.player.rotate(handler, arn);
        const ms = Date.now() - started;
        const current = await ctx.player.value<{ username: string; password: string }>(arn);
        const calls = outcomes.reduce((n, o) => n + o.secretsManagerCalls, 0);
        const logins = outcomes.reduce((n, o) => n + o.logins, 0);
        ctx.print(
          `    rotation ${round}: token ${short(token)} -> AWSCURRENT as ${current.username}; ` +
            `${ms} ms, ${calls} Secrets Manager calls, ${logins} database logins`,
        );
        const checks = [`new ${mark(await pgLogin(cluster, current.username, current.password))}`];
        const previous = seen.at(-1)!;
        checks.push(`previous (${previous.username}) ${mark(await pgLogin(cluster, previous.username, previous.password))}`);
        if (seen.length > 1) {
          const older = seen.at(-2)!;
          checks.push(`the one before (${older.username}) ${mark(await pgLogin(cluster, older.username, older.password))}`);
        }
        ctx.print(`    ${checks.join('; ')}`);
        await printLabels(ctx, arn);
        seen.push(current);
      }
    }
  } finally {
    await admin.end().catch(() => undefined);
    cluster.stop();
  }
}
