import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startPostgresCluster, type PostgresCluster } from '../../bin/local/postgres.js';
import { buildPackage } from '../../scripts/build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { host: string; port: number; superuser: { username: string; password: string } };
  }
}

let cluster: PostgresCluster | undefined;

/**
 * The package as `npm pack` would ship it (the constructs deploy its pre-built Lambda bundles,
 * the example app and the install test use dist/), and one throwaway PostgreSQL cluster with
 * password authentication for the whole run.
 */
export async function setup(project: TestProject): Promise<void> {
  const [started] = await Promise.all([startPostgresCluster(), buildPackage()]);
  cluster = started;
  project.provide('postgres', { host: cluster.host, port: cluster.port, superuser: cluster.superuser });
}

export async function teardown(): Promise<void> {
  cluster?.stop();
}
