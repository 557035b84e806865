import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for STS in front of moto that refuses AssumeRole of a role that does not exist, or
 * whose trust policy does not name the caller's account, as AWS does (AccessDenied, HTTP 403).
 * moto's AssumeRole answers credentials for any role ARN, existing or not ("the role does not
 * need to exist"), which is what lets a test act in another account, but which cannot show a CLI
 * meeting an account without Rotor's role. Everything else, and every AssumeRole it lets
 * through, is forwarded to moto unchanged; whether the role exists is asked of moto itself (its
 * IAM in the role's account). Point only STS at it: `AWS_ENDPOINT_URL_STS`.
 */
export interface AssumeRoleCheck {
  readonly endpoint: string;
  /** AssumeRole calls refused, by role ARN. */
  readonly refused: readonly string[];
  close(): Promise<void>;
}

/** The account whose principals call through it (moto's default account). */
const DEFAULT_CALLER = '123456789012';

export async function startAssumeRoleCheck(motoEndpoint: string, options: { callerAccount?: string } = {}): Promise<AssumeRoleCheck> {
  const upstream = new URL(motoEndpoint);
  const caller = options.callerAccount ?? DEFAULT_CALLER;
  const refused: string[] = [];

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', (err) => {
      res.writeHead(502);
      res.end(`stand-in: upstream failed: ${err.message}`);
    });
    out.end(body);
  };

  const deny = (res: ServerResponse, roleArn: string) => {
    refused.push(roleArn);
    res.writeHead(403, { 'content-type': 'text/xml' });
    res.end(
      '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>' +
        `<Message>User: arn:aws:iam::${caller}:user/moto is not authorized to perform: sts:AssumeRole on resource: ${roleArn}</Message>` +
        '</Error><RequestId>stand-in</RequestId></ErrorResponse>',
    );
  };

  /** Does the role exist in its account, trusting the caller's? Asked of moto, acting in that account. */
  const trusted = async (roleArn: string): Promise<boolean> => {
    const m = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
    if (!m) return false;
    const [{ STSClient, AssumeRoleCommand }, { IAMClient, GetRoleCommand }] = await Promise.all([import('@aws-sdk/client-sts'), import('@aws-sdk/client-iam')]);
    const base = { endpoint: motoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 };
    const sts = new STSClient(base);
    try {
      const c = (await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'assume-role-check' }))).Credentials!;
      const iam = new IAMClient({ ...base, credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken } });
      try {
        const role = (await iam.send(new GetRoleCommand({ RoleName: m[2] }))).Role;
        const document = decodeURIComponent(role?.AssumeRolePolicyDocument ?? '');
        const policy = JSON.parse(document || '{}') as { Statement?: Array<{ Effect?: string; Action?: string | string[]; Principal?: { AWS?: string | string[] } }> };
        return (policy.Statement ?? []).some((s) => {
          const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
          const principals = Array.isArray(s.Principal?.AWS) ? s.Principal!.AWS : [s.Principal?.AWS];
          return s.Effect === 'Allow' && actions.includes('sts:AssumeRole') && principals.some((p) => p === caller || p === `arn:aws:iam::${caller}:root`);
        });
      } catch (err) {
        if ((err as Error).name === 'NoSuchEntityException' || (err as Error).name === 'NoSuchEntity') return false;
        throw err;
      } finally {
        iam.destroy();
      }
    } finally {
      sts.destroy();
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(body.toString('utf8'));
      if (form.get('Action') !== 'AssumeRole') return forward(req, res, body);
      const roleArn = form.get('RoleArn') ?? '';
      trusted(roleArn).then(
        (ok) => (ok ? forward(req, res, body) : deny(res, roleArn)),
        (err: Error) => {
          res.writeHead(500);
          res.end(`stand-in: ${err.message}`);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    refused,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
