/**
 * Rotor as an infra team gets it: `npm pack`, the tarball installed into a fresh CDK app that has
 * no esbuild, no tsx and no Docker, the app's TypeScript compiled as `cdk init` sets it up
 * (module NodeNext; package.json without "type", so CommonJS; and an ES module file beside it),
 * synthesized offline with a PostgresRotation and an IamAccessKeyRotation under a permissions
 * boundary and cdk-nag, and the installed `rotor --help` run with plain node.
 *
 * The package's dist/ is built by the suite's global setup (scripts/build.ts); the tarball is
 * packed from it with --ignore-scripts so the build is not run twice. npm installs from its
 * cache (--prefer-offline): the registry is reached only for what the cache lacks.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, execOk } from './support/exec.js';

const repo = join(__dirname, '..');
const own = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; version: string };
const installed = (name: string) => (JSON.parse(readFileSync(join(repo, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const tsc = createRequire(join(repo, 'package.json')).resolve('typescript/bin/tsc');

/** The consumer's stack: what an infra team writes, once per module format. */
const consumerStack = (importLine: string) => `${importLine}

const app = new App({ outdir: process.argv[2] });
const stack = new Stack(app, 'Consumer', { env: { account: '123456789012', region: 'eu-west-1' } });

const orders = new secretsmanager.Secret(stack, 'OrdersDb', { description: 'orders app login' });
const master = new secretsmanager.Secret(stack, 'OrdersMaster', { description: 'orders master login' });
Validations.of(master).acknowledge({ id: 'AwsSolutions-SMG4', reason: 'rotated by the database team, outside this app' });
const postgres: PostgresRotation = new PostgresRotation(stack, 'OrdersDbRotation', { secret: orders, masterSecret: master });

const deployer = new iam.User(stack, 'Deployer');
const deployerKey = new secretsmanager.Secret(stack, 'DeployerKey', { description: 'deployer access key' });
const keys: IamAccessKeyRotation = new IamAccessKeyRotation(stack, 'DeployerKeyRotation', { secret: deployerKey, user: deployer });

// The organization's boundary, applied the CDK way: it must reach every role Rotor makes.
const boundary = new iam.ManagedPolicy(stack, 'Boundary', {
  statements: [new iam.PolicyStatement({ actions: ['secretsmanager:*', 'logs:*', 'iam:*AccessKey*', 'kms:Decrypt'], resources: ['*'] })],
});
for (const finding of ['Action::secretsmanager:*', 'Action::logs:*', 'Action::iam:*AccessKey*', 'Resource::*']) {
  Validations.of(boundary).acknowledge({ id: \`AwsSolutions-IAM5[\${finding}]\`, reason: 'a permissions boundary caps what a role may do, it grants nothing' });
}
iam.PermissionsBoundary.of(app).apply(boundary);

// Each construct exposes its function's role.
const roles: iam.Role[] = [postgres.role, keys.role];
console.log('roles:', roles.map((r) => r.node.path).join(', '));

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
console.log('synthesized:', readdirSync(process.argv[2]!).filter((f) => f.endsWith('.template.json')).join(', '));
`;

const cjsImports = `import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readdirSync } from 'node:fs';
import { IamAccessKeyRotation, PostgresRotation } from 'rotor';
import { getSecret } from 'rotor/client';
console.log('client getSecret:', typeof getSecret);`;

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

let dir = '';
let app = '';
const log: string[] = [];
async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, echo = true): Promise<string> {
  const started = performance.now();
  const result = await exec(cmd, args, {
    cwd,
    timeoutMs: 240_000,
    // Nothing of this repo leaks in: no tsx loader, no repo node_modules on a path.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_cache: process.env.npm_config_cache, ...env },
  });
  const line = `$ ${[cmd, ...args].map((a) => a.replace(dir, '<tmp>')).join(' ')}  (${((performance.now() - started) / 1000).toFixed(1)} s, exit ${result.status})`;
  log.push(line, ...`${echo ? result.stdout : ''}${result.stderr}`.trim().split('\n').filter(Boolean).slice(0, 12).map((l) => `  ${l.replace(dir, "<tmp>").slice(0, 240)}`));
  if (result.status !== 0) throw new Error(`${line}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-consumer-'));
  app = join(dir, 'app');
  mkdirSync(app);
  const packed = JSON.parse(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repo, {}, false)) as Array<{ filename: string }>;
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'consumer-app', version: '1.0.0', private: true }, null, 2)}\n`);
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      join(dir, packed[0]!.filename),
      `aws-cdk-lib@${installed('aws-cdk-lib')}`,
      `constructs@${installed('constructs')}`,
      `cdk-nag@${installed('cdk-nag')}`,
      `@types/node@${installed('@types/node')}`,
    ],
    app,
  );
}, 300_000);

afterAll(() => {
  console.log(`install-and-synth:\n${log.join('\n')}`);
  if (!process.env.KEEP_CONSUMER_APP) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package, installed into a fresh CDK app', () => {
  it('ships the built package only: no sources, tests, bench, CI or local services', async () => {
    const listed = (await execOk('tar', ['-tzf', join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!)], { timeoutMs: 60_000 }))
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    expect(listed).toContain('dist/bin/rotor.js');
    for (const name of ['postgres', 'mysql', 'iam', 'api-token', 'emergency', 'retire']) expect(listed).toContain(`dist/lambdas/${name}/index.js`);
    const outside = listed.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md'].includes(f));
    expect(outside).toEqual([]);
    expect(listed.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('needs no esbuild and no tsx in the app', () => {
    const resolveFromApp = (name: string) => () => createRequire(join(app, 'package.json')).resolve(name);
    expect(resolveFromApp('esbuild')).toThrow(/Cannot find module/);
    expect(resolveFromApp('tsx')).toThrow(/Cannot find module/);
    expect(existsSync(join(app, 'node_modules', 'rotor', 'dist', 'index.cjs'))).toBe(true);
  });

  it('type-checks and synthesizes a CommonJS app and an ES module app offline, under a boundary and cdk-nag', async () => {
    writeFileSync(join(app, 'app.ts'), consumerStack(cjsImports));
    writeFileSync(join(app, 'app.mts'), consumerStack(cjsImports));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        // As `cdk init app --language typescript` writes it.
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['es2022'], strict: true, skipLibCheck: true, types: ['node'] },
        files: ['app.ts', 'app.mts'],
      }),
    );
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    expect(readFileSync(join(app, 'app.js'), 'utf8')).toMatch(/require\("rotor"\)/);
    expect(readFileSync(join(app, 'app.mjs'), 'utf8')).toMatch(/from 'rotor'/);

    for (const [file, out] of [['app.js', 'cdk.out.cjs'], ['app.mjs', 'cdk.out.esm']] as const) {
      const stdout = await run(process.execPath, [file, join(app, out)], app, { CDK_DOCKER: 'docker-must-not-be-used' });
      expect(stdout).toContain('client getSecret: function');
      expect(stdout).toContain('synthesized: Consumer.template.json');
      const template = JSON.parse(readFileSync(join(app, out, 'Consumer.template.json'), 'utf8')) as Template;
      const resources = Object.values(template.Resources);
      const functions = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties.Description ?? '').startsWith('Rotor'));
      expect(functions.map((fn) => fn.Properties.Description).sort()).toEqual(['Rotor iam rotation', 'Rotor postgres rotation']);
      for (const fn of functions) {
        expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
        // The code is one of the package's pre-built bundles, copied as an asset.
        const assetPath = readdirSync(join(app, out)).filter((f) => f.startsWith('asset.'));
        expect(assetPath.length).toBeGreaterThan(0);
      }
      const roles = resources.filter((r) => r.Type === 'AWS::IAM::Role');
      expect(roles.length).toBeGreaterThanOrEqual(functions.length);
      for (const role of roles) expect(role.Properties.PermissionsBoundary).toEqual({ Ref: expect.stringMatching(/^Boundary/) });
      // Every asset the template names is a bundle that loads with plain node and exports the handler.
      for (const asset of readdirSync(join(app, out)).filter((f) => f.startsWith('asset.') && existsSync(join(app, out, f, 'index.js')))) {
        const loaded = await run(process.execPath, ['-e', `process.stdout.write(typeof require(${JSON.stringify(join(app, out, asset, 'index.js'))}).handler)`], app, {
          AWS_REGION: 'eu-west-1',
        });
        expect(loaded).toBe('function');
      }
    }
  }, 300_000);

  it("runs the installed `rotor --help` and `--version` with plain node (the bin's own shebang)", async () => {
    const bin = join(app, 'node_modules', '.bin', 'rotor');
    expect(readFileSync(bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const help = await run(bin, ['--help'], app);
    expect(help).toContain('Usage: rotor');
    for (const command of ['status', 'rotate', 'leak']) expect(help).toContain(command);
    expect((await run(bin, ['--version'], app)).trim()).toBe(own.version);
    const statusHelp = await run(process.execPath, [join(app, 'node_modules', 'rotor', 'dist', 'bin', 'rotor.js'), 'status', '--help'], app);
    expect(statusHelp).toMatch(/--region/);
    expect(statusHelp).toMatch(/--profile/);
  }, 120_000);
});
