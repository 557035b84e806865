import { spawn, type ChildProcess } from 'node:child_process';
import { HYGIENE_DIR_ENV, noteCredential } from './hygiene.js';
import { freePort, waitFor } from './ports.js';

export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  /** Clears all emulated state (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /** Calls allowed before IAM/STS start checking signatures (INITIAL_NO_AUTH_ACTION_COUNT). */
  initialNoAuthActionCount?: number;
}

/**
 * Starts moto's server (Secrets Manager, IAM, STS, EventBridge emulation) on a free loopback
 * port. Fails if `moto_server` is missing or does not answer.
 */
export async function startMoto(options: MotoOptions = {}): Promise<MotoServer> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (options.initialNoAuthActionCount !== undefined) {
    env.INITIAL_NO_AUTH_ACTION_COUNT = String(options.initialNoAuthActionCount);
  }
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`moto_server exited (${code}): ${stderr}`)));
    child.once('error', (err) => reject(new Error(`cannot start moto_server: ${err.message}`)));
  });
  exited.catch(() => undefined);
  const endpoint = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitFor(async () => (await fetch(`${endpoint}/moto-api/`)).ok, `moto_server on port ${port}`),
    exited,
  ]);
  return {
    endpoint,
    port,
    async reset() {
      await sweepCredentials(endpoint);
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
    },
    async stop() {
      if (child.exitCode !== null) return;
      await sweepCredentials(endpoint);
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Before moto forgets its secrets (reset, stop), the suite's hygiene ledger records the
 * credentials of every version of every secret: whatever a test or Rotor stored is looked for
 * in every output of the run. Nothing happens outside the test suite, nor when moto refuses
 * (a file whose moto checks signatures).
 */
async function sweepCredentials(endpoint: string): Promise<void> {
  if (!process.env[HYGIENE_DIR_ENV]) return;
  try {
    const { SecretsManagerClient, paginateListSecrets } = await import('@aws-sdk/client-secrets-manager');
    const { allSecretStrings, sensitiveValues } = await import('./harness.js');
    const client = new SecretsManagerClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
    const ids: string[] = [];
    for await (const page of paginateListSecrets({ client }, { IncludePlannedDeletion: true })) for (const s of page.SecretList ?? []) if (s.ARN) ids.push(s.ARN);
    noteCredential(...sensitiveValues(await allSecretStrings(client, ids)));
    client.destroy();
  } catch {
    // moto refusing unsigned calls, or gone: the suites' own per-case records remain
  }
}

/** Environment that points the AWS SDK at a moto server with dummy credentials. */
export function awsEnvFor(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  };
}

/**
 * Creates a Lambda function in moto (with Docker off, so invocations are no-ops) for
 * RotateSecret to name: RotateSecret then succeeds and stages an empty AWSPENDING version, as
 * the service does before it calls createSecret. The test then plays the function's part.
 */
export async function createRotationFunction(
  endpoint: string,
  name = 'rotor-rotation',
  credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' },
): Promise<string> {
  const { LambdaClient, CreateFunctionCommand, GetFunctionCommand } = await import('@aws-sdk/client-lambda');
  const { IAMClient, CreateRoleCommand, GetRoleCommand } = await import('@aws-sdk/client-iam');
  const config = { endpoint, region: 'us-east-1', credentials };
  await fetch(`${endpoint}/moto-api/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lambda: { use_docker: false } }),
  });
  const lambda = new LambdaClient(config);
  const existing = await lambda.send(new GetFunctionCommand({ FunctionName: name })).catch(() => undefined);
  if (existing?.Configuration?.FunctionArn) return existing.Configuration.FunctionArn;
  const iam = new IAMClient(config);
  const roleName = `${name}-role`;
  const role =
    (await iam.send(new GetRoleCommand({ RoleName: roleName })).catch(() => undefined))?.Role ??
    (
      await iam.send(
        new CreateRoleCommand({
          RoleName: roleName,
          AssumeRolePolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          }),
        }),
      )
    ).Role;
  const fn = await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs20.x',
      Role: role!.Arn!,
      Handler: 'index.handler',
      // An empty zip archive: moto never runs it.
      Code: { ZipFile: Buffer.from('UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', 'base64') },
    }),
  );
  return fn.FunctionArn!;
}
