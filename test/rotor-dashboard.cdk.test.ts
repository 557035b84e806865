/**
 * The dashboard shows what the handlers emit: every metric a widget reads (namespace, name and
 * dimension set) is one a real rotation function published in this test (EMF records captured
 * from its output: a PostgreSQL rotation that finishes, and a step that fails), or, for the
 * emergency and retire handlers, one their contract names say they publish.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, inject, it } from 'vitest';
import { config as exampleConfig } from '../examples/app/rotor.config.js';
import { MetricDimensions, RotorMetrics, ServiceNames } from '../lambdas/contract/index.js';
import { postgresKind } from '../lambdas/postgres/postgresKind.js';
import { RotorStack } from '../lib/rotor-stack.js';
import { freePort } from '../bin/local/ports.js';
import { testPassword, uniqueName, type PostgresCluster } from '../bin/local/postgres.js';
import { useRotationSuite } from './support/rotationSuite.js';
import { usePostgresAdmin } from './support/pgAdmin.js';

const cluster = inject('postgres') as unknown as PostgresCluster;
const suite = useRotationSuite();
const { admin } = usePostgresAdmin();

interface MetricRef {
  readonly name: string;
  /** Sorted dimension names. */
  readonly dimensions: string;
  /** Dimension values a widget fixes (service), when it fixes them. */
  readonly values?: Record<string, string>;
}

/** Every metric the dashboard body reads: SEARCH expressions and plain metric arrays. */
function widgetMetrics(body: string): MetricRef[] {
  const dashboard = JSON.parse(body) as { widgets: Array<{ properties: { metrics?: unknown[][] } }> };
  const refs: MetricRef[] = [];
  for (const widget of dashboard.widgets) {
    for (const row of widget.properties.metrics ?? []) {
      const options = row.find((x): x is { expression: string } => typeof x === 'object' && x !== null && 'expression' in x);
      if (options) {
        const m = /^SEARCH\('\{([^}]*)\} MetricName="([^"]+)"'/.exec(options.expression);
        expect(m, options.expression).not.toBeNull();
        const [namespace, ...dims] = m![1]!.split(',');
        expect(namespace).toBe(RotorMetrics.NAMESPACE);
        refs.push({ name: m![2]!, dimensions: [...dims].sort().join(',') });
        continue;
      }
      const strings = row.filter((x): x is string => typeof x === 'string');
      const [namespace, name, ...pairs] = strings;
      expect(namespace).toBe(RotorMetrics.NAMESPACE);
      const values: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) values[pairs[i]!] = pairs[i + 1]!;
      refs.push({ name: name!, dimensions: Object.keys(values).sort().join(','), values });
    }
  }
  return refs;
}

/** The dashboard body of a stack, with CloudFormation's joins and references flattened. */
function bodyOf(stack: Stack): string {
  const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]!.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
  if (typeof body === 'string') return body;
  return body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'eu-west-1')).join('');
}

/** EMF records in what a handler printed: each metric with its namespace and dimension set. */
function emitted(records: Array<Record<string, unknown>>): Array<MetricRef & { namespace: string }> {
  const out: Array<MetricRef & { namespace: string }> = [];
  for (const record of records) {
    const aws = record._aws as { CloudWatchMetrics?: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> } | undefined;
    for (const directive of aws?.CloudWatchMetrics ?? []) {
      for (const dims of directive.Dimensions) {
        const values = Object.fromEntries(dims.map((d) => [d, String(record[d])]));
        for (const metric of directive.Metrics) out.push({ namespace: directive.Namespace, name: metric.Name, dimensions: [...dims].sort().join(','), values });
      }
    }
  }
  return out;
}

describe('RotorDashboard', () => {
  it("reads exactly the metrics the handlers emit: names and dimension sets of a real rotation's EMF output", async () => {
    // A rotation that finishes, and one whose setSecret fails (the secret points at a closed port).
    const username = uniqueName('dash');
    const password = testPassword();
    await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
    const good = await suite.secret(uniqueName('dash/ok'), { engine: 'postgres', host: cluster.host, port: cluster.port, username, password, dbname: 'postgres' });
    const bad = await suite.secret(uniqueName('dash/bad'), { engine: 'postgres', host: '127.0.0.1', port: await freePort(), username, password: testPassword() });
    const handler = suite.handler(postgresKind, { ROTATION_STRATEGY: 'single-user' });
    await suite.player.rotate(handler, good);
    const token = await suite.player.startRotation(bad);
    await handler(suite.player.event(bad, token, 'createSecret'), {} as never);
    await expect(handler(suite.player.event(bad, token, 'setSecret'), {} as never)).rejects.toThrow();
    const fromHandler = emitted(suite.logs.records());
    expect(fromHandler.length).toBeGreaterThan(0);
    for (const m of fromHandler) expect(m.namespace).toBe(RotorMetrics.NAMESPACE);

    const stack = new RotorStack(new App(), 'Rotor', { config: exampleConfig, env: { account: '123456789012', region: 'eu-west-1' } });
    const widgets = widgetMetrics(bodyOf(stack));
    // Metrics of the rotation functions: each must have been emitted with the same dimension set.
    const rotationMetrics = widgets.filter((w) => !w.values?.service || w.values.service === ServiceNames.ROTATION);
    const seen = new Set(fromHandler.map((m) => `${m.name}|${m.dimensions}`));
    const emittedHere = [RotorMetrics.ROTATION_FINISHED, RotorMetrics.ROTATION_STEP_FAILED, RotorMetrics.STEP_FAILED, RotorMetrics.STEP_DURATION, RotorMetrics.SECRETS_MANAGER_CALLS, RotorMetrics.OLD_LOGIN_SESSIONS] as string[];
    for (const w of rotationMetrics.filter((r) => emittedHere.includes(r.name))) {
      expect(seen, `${w.name} with dimensions ${w.dimensions}`).toContain(`${w.name}|${w.dimensions}`);
    }
    expect(rotationMetrics.filter((r) => emittedHere.includes(r.name)).map((r) => r.name).sort()).toEqual([...emittedHere].sort());
    // The per-secret series name the secret as people know it (its name, not an ARN).
    const finished = fromHandler.find((m) => m.name === RotorMetrics.ROTATION_FINISHED);
    expect(finished?.values?.secret).toMatch(/^dash\/ok/);
    // The emergency and retire graphs: their run-level metrics, dimension `service` = the function's service name.
    for (const w of widgets.filter((r) => r.values?.service === ServiceNames.EMERGENCY || r.values?.service === ServiceNames.RETIRE)) {
      expect(w.dimensions).toBe(MetricDimensions.SERVICE.join(','));
      expect(Object.values(RotorMetrics)).toContain(w.name);
    }
    // The retire run's in-use count is per kind.
    expect(widgets).toContainEqual({ name: RotorMetrics.PREVIOUS_CREDENTIAL_IN_USE, dimensions: MetricDimensions.KIND.join(',') });
  });
});
