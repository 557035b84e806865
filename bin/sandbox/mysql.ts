import type mysql from 'mysql2/promise';
import { createMysqlKind } from '../../lambdas/mysql/mysqlKind.js';
import { account, ident, mysqlLogin, mysqlServer, MysqlFixtures, rootConnection } from '../local/mysql.js';
import { testPassword, uniqueName } from '../local/postgres.js';
import { nameOf, quietHandler, rotateThreeTimes, type SandboxContext } from './common.js';

interface Login {
  username: string;
  password: string;
  dbname: string;
}

/**
 * Rotates a sample MySQL-kind secret with each strategy against the machine's MariaDB (or
 * MySQL) server: its accounts and databases get unique names and are dropped at the end.
 */
export async function mysqlSandbox(ctx: SandboxContext): Promise<void> {
  let root: mysql.Connection;
  try {
    root = await rootConnection();
  } catch (err) {
    throw new Error(
      `cannot reach the MySQL/MariaDB server at ${mysqlServer.host}:${mysqlServer.port} as ${mysqlServer.root.username} ` +
        `(MYSQL_HOST, MYSQL_PORT, MYSQL_ROOT_USER, MYSQL_ROOT_PASSWORD): ${(err as Error).message}`,
    );
  }
  ctx.defer('the MySQL root session', () => root.end());
  const fixtures = new MysqlFixtures(() => root);
  ctx.defer('the MySQL accounts and databases', () => fixtures.dropAll());
  const [rows] = await root.query('SELECT VERSION() AS v');
  const version = String((rows as Array<{ v: string }>)[0]?.v);
  const engine = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  ctx.print(`mysql: ${engine === 'mariadb' ? 'MariaDB' : 'MySQL'} ${version} at ${mysqlServer.host}:${mysqlServer.port}; accounts and databases made for this run, dropped at the end`);

  const master = { username: uniqueName('rotor_sbx_master'), password: testPassword() };
  await fixtures.createUser(master.username, master.password);
  await root.query(`GRANT ALL PRIVILEGES ON *.* TO ${account(master.username)} WITH GRANT OPTION`);
  const base = { engine, host: mysqlServer.host, port: mysqlServer.port };
  const masterArn = await ctx.player.createSecret('sandbox/mysql/master', { ...base, ...master });

  for (const strategy of ['single-user', 'alternating-users'] as const) {
    const username = uniqueName('rotor_sbx');
    const password = testPassword();
    const dbname = uniqueName('rotor_sbx_db');
    await fixtures.createUser(username, password);
    await fixtures.createDatabase(dbname);
    await root.query(`GRANT SELECT, INSERT ON ${ident(dbname)}.* TO ${account(username)}`);
    const arn = await ctx.player.createSecret(`sandbox/mysql/${strategy}`, {
      ...base,
      username,
      password,
      dbname,
      ...(strategy === 'alternating-users' ? { masterarn: masterArn } : {}),
    });
    const handler = quietHandler(createMysqlKind(), ctx, { ROTATION_STRATEGY: strategy });
    ctx.print(
      `  ${strategy}: secret ${nameOf(arn)} for ${username}@'${mysqlServer.userHost}' (SELECT, INSERT on ${dbname})` +
        (strategy === 'alternating-users' ? `; master ${master.username} creates ${username}_clone` : ''),
    );
    const login = async (l: Login) => (await mysqlLogin(l.username, l.password, { dbname: l.dbname })) !== undefined;
    await rotateThreeTimes(ctx, handler, arn, { username, password, dbname }, login, async (round, current) => {
      if (strategy !== 'alternating-users' || round !== 1) return [];
      const same = (await grantsOf(root, username)).join('\n') === (await grantsOf(root, current.username)).join('\n');
      return [`clone's grants ${same ? 'match' : 'DIFFER FROM'} the user's`];
    });
    if (strategy === 'single-user' && engine === 'mariadb') {
      ctx.print('    (MariaDB keeps one password per account: the old one dies at setSecret; DUAL_PASSWORD is for MySQL 8.0.14+)');
    }
  }
}

/** SHOW GRANTS without the grantee and the password hash, to compare two accounts. */
async function grantsOf(root: mysql.Connection, username: string): Promise<string[]> {
  const [rows] = await root.query(`SHOW GRANTS FOR ${account(username)}`);
  return (rows as Array<Record<string, string>>)
    .map((r) => String(Object.values(r)[0]))
    .map((line) => line.replace(/ TO `[^`]*(``[^`]*)*`@`[^`]*`/, ' TO <grantee>').replace(/ IDENTIFIED BY PASSWORD '[^']*'/, ''))
    .sort();
}
