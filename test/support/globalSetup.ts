import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startPostgresCluster, type PostgresCluster } from '../../bin/local/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { host: string; port: number; superuser: { username: string; password: string } };
  }
}

let cluster: PostgresCluster | undefined;

/** One throwaway PostgreSQL cluster with password authentication for the whole run. */
export async function setup(project: TestProject): Promise<void> {
  cluster = await startPostgresCluster();
  project.provide('postgres', { host: cluster.host, port: cluster.port, superuser: cluster.superuser });
}

export async function teardown(): Promise<void> {
  cluster?.stop();
}
