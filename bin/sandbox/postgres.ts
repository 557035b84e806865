import { postgresKind } from '../../lambdas/postgres/postgresKind';
import { adminClient, pgLogin, testPassword, uniqueName } from '../../test/support/postgres';
import { mark, nameOf, plural, printLabels, quietHandler, short, totals, type SandboxContext } from './common';

interface Login {
  username: string;
  password: string;
}

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
    const seen: Login[] = [{ username, password }];
    for (let round = 1; round <= 3; round++) {
      const started = Date.now();
      const { token, outcomes } = await ctx.player.rotate(handler, arn);
      const ms = Date.now() - started;
      const current = await ctx.player.value<Login>(arn);
      const { calls, logins } = totals(outcomes);
      ctx.print(
        `    rotation ${round}: token ${short(token)} -> AWSCURRENT as ${current.username}; ` +
          `${ms} ms, ${plural(calls, 'Secrets Manager call')}, ${plural(logins, 'database login')}`,
      );
      const login = (l: Login) => pgLogin(cluster, l.username, l.password);
      const checks = [`new ${mark(await login(current))}`];
      const previous = seen.at(-1)!;
      checks.push(`previous (${previous.username}) ${mark(await login(previous))}`);
      if (seen.length > 1) {
        const older = seen.at(-2)!;
        checks.push(`the one before (${older.username}) ${mark(await login(older))}`);
      }
      ctx.print(`      ${checks.join('; ')}`);
      await printLabels(ctx, arn, '      ');
      seen.push(current);
    }
  }
}
