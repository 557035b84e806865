/**
 * `rotor status` and replica secrets (issue 16): each replica's region and state, in the table
 * (REPLICAS) and the JSON (`replicas`, `replicaOf`). moto reports every replica InSync (see
 * test/replica.test.ts's header); a Failed one comes from the stand-in in front of moto that
 * rewrites only DescribeSecret's ReplicationStatus (bin/local/replicaStatusProxy.ts).
 */
import { ReplicateSecretToRegionsCommand, SecretsManagerClient, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStatus, renderStatus } from '../bin/cli/status.js';
import { testPassword, uniqueName } from '../bin/local/postgres.js';
import { startReplicaStatusProxy, type ReplicaStatusProxy } from '../bin/local/replicaStatusProxy.js';
import { useRotationSuite } from './support/rotationSuite.js';

const suite = useRotationSuite();
let proxy: ReplicaStatusProxy;
beforeAll(async () => {
  proxy = await startReplicaStatusProxy(suite.moto.endpoint);
});
afterAll(async () => {
  await proxy?.close();
});

function clientOf(endpoint: string, region = 'us-east-1'): SecretsManagerClient {
  return new SecretsManagerClient({ endpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}

async function managed(name: string, replicas: string[]): Promise<string> {
  const arn = await suite.secret(name, { username: 'app', password: testPassword() });
  await suite.player.client.send(new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'rotor:kind', Value: 'postgres' }] }));
  if (replicas.length) {
    await suite.player.client.send(new ReplicateSecretToRegionsCommand({ SecretId: arn, AddReplicaRegions: replicas.map((Region) => ({ Region })) }));
  }
  return arn;
}

describe('rotor status: replicas', () => {
  it('lists each replica\'s region and state for a primary, none for a secret without replicas, and a Failed replica as a problem', async () => {
    // Prepare
    const p = uniqueName('rs');
    await managed(`${p}-a-replicated`, ['eu-west-1', 'ap-south-1']);
    await managed(`${p}-b-plain`, []);
    const now = new Date();
    // Act: as moto reports them, then with ap-south-1 Failed.
    const synced = await collectStatus({ secrets: clientOf(suite.moto.endpoint), now });
    proxy.rule((q) => (q.region === 'ap-south-1' ? { Status: 'Failed', StatusMessage: 'the KMS key does not exist in ap-south-1' } : undefined));
    const failing = await collectStatus({ secrets: clientOf(proxy.endpoint), now }).finally(() => proxy.rule(undefined));
    // Assess
    const byName = (list: typeof synced) => Object.fromEntries(list.map((s) => [s.name.slice(p.length + 1), s]));
    const s = byName(synced);
    expect(s['a-replicated']!.replicas).toEqual([
      { region: 'eu-west-1', status: 'InSync', statusMessage: 'Replication succeeded' },
      { region: 'ap-south-1', status: 'InSync', statusMessage: 'Replication succeeded' },
    ]);
    expect(s['a-replicated']!.problems).toEqual([]);
    expect(s['b-plain']!.replicas).toBeUndefined();
    expect(JSON.parse(JSON.stringify(s['b-plain']))).not.toHaveProperty('replicas');
    const f = byName(failing);
    expect(f['a-replicated']!.replicas).toContainEqual({ region: 'ap-south-1', status: 'Failed', statusMessage: 'the KMS key does not exist in ap-south-1' });
    expect(f['a-replicated']!.problems).toEqual(['replica in ap-south-1 Failed: the KMS key does not exist in ap-south-1']);

    const table = renderStatus(failing, { region: 'us-east-1', now, at: false });
    const rows = table.split('\n');
    expect(rows[0]).toMatch(/PREVIOUS \(DUAL-ACTIVE\)\s+REPLICAS$/);
    expect(rows.find((r) => r.startsWith(`${p}-a-replicated `))).toMatch(/eu-west-1 InSync, ap-south-1 Failed$/);
    expect(rows.find((r) => r.startsWith(`${p}-b-plain `))).toMatch(/\s-$/);
    expect(table).toContain(`  ! ${p}-a-replicated: replica in ap-south-1 Failed: the KMS key does not exist in ap-south-1`);
  });

  it('in the replica\'s region, marks the replica with its primary\'s region', async () => {
    const p = uniqueName('rs');
    await managed(`${p}-a-replicated`, ['eu-west-1']);
    const statuses = await collectStatus({ secrets: clientOf(suite.moto.endpoint, 'eu-west-1'), now: new Date() });
    const mine = statuses.filter((st) => st.name.startsWith(p));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ replicaOf: 'us-east-1', kind: 'postgres' });
    expect(mine[0]!.arn).toContain(':eu-west-1:');
    expect(mine[0]!.replicas).toBeUndefined();
    const table = renderStatus(mine, { region: 'eu-west-1', now: new Date(), at: false });
    expect(table.split('\n').find((r) => r.startsWith(`${p}-a-replicated `))).toMatch(/replica of us-east-1$/);
  });
});
