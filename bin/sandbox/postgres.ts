import { postgresKind } from '../../lambdas/postgres/postgresKind.js';
import { adminClient, pgLogin, testPassword, uniqueName } from '../local/postgres.js';
import { nameOf, quietHandler, rotateThreeTimes, type SandboxContext } from './common.js';

/** Rotates a sample PostgreSQL secret with each strategy against a throwaway scram-auth cluster. */
export async function postgresSandbox(ctx: SandboxContext): Promise<void> {
  const cluster = await ctx.postgres();
  const admin = await adminClient(cluster);
  ctx.defer('the PostgreSQL admin session', () => admin.end());
  const version = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
  ctx.print(`postgres: PostgreSQL ${version}, throwaway cluster on port ${cluster.port}, scram-sha-256 password authentication`);
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
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
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
    ctx.print(
      `  ${strategy}: secret ${nameOf(arn)} for role ${username}` +
        (strategy === 'alternating-users' ? ` (master secret: superuser ${cluster.superuser.username})` : ''),
    );
    await rotateThreeTimes(ctx, handler, arn, { username, password }, (l) => pgLogin(cluster, l.username, l.password));
  }
}
