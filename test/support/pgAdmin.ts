import type pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { adminClient, type PostgresCluster } from '../../bin/local/postgres.js';

/**
 * The run's throwaway PostgreSQL cluster (started by the global setup) and a superuser
 * connection to it for the calling file or describe block: opened before its cases, closed
 * after. `admin` forwards to that connection, so it reads like the client it is.
 */
export function usePostgresAdmin(): { readonly cluster: PostgresCluster; readonly admin: pg.Client } {
  const cluster = inject('postgres') as unknown as PostgresCluster;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    client = await adminClient(cluster);
  });
  afterAll(async () => {
    await client?.end();
  });
  const admin = new Proxy({} as pg.Client, {
    get(_target, property) {
      if (!client) throw new Error('the admin connection opens in beforeAll: use it inside a case or hook');
      const value = Reflect.get(client, property, client) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(client) : value;
    },
  });
  return { cluster, admin };
}
