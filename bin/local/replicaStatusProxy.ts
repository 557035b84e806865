import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for one answer moto cannot give: moto (5.2.1) replicates a secret at once and always
 * reports its replicas `InSync` ("Replication succeeded"), where AWS reports `InProgress` for a
 * while after each change and `Failed` when a replica cannot be written (its KMS key missing in
 * that region, a secret of that name already there). This HTTP proxy sits in front of moto,
 * forwards every request unchanged (headers as signed) and every answer unchanged, except the
 * `ReplicationStatus` of DescribeSecret answers, whose entries the test's rule may rewrite per
 * region. So the code under test runs its real path against moto's real state; only the
 * replicas' reported status is the test's.
 *
 * Listens on 127.0.0.1, forwards to a loopback target only.
 */
export interface ReplicaStatus {
  readonly Status: 'InSync' | 'InProgress' | 'Failed';
  readonly StatusMessage?: string;
}

/** What the rule is asked about: one replica entry of one DescribeSecret answer. */
export interface ReplicaQuestion {
  /** The SecretId the caller asked DescribeSecret about. */
  readonly secretId: string;
  readonly region: string;
  /** DescribeSecret answers with replicas for this SecretId so far, this one included (1, 2, ...). */
  readonly call: number;
}

export type ReplicaRule = (q: ReplicaQuestion) => ReplicaStatus | undefined;

export interface ReplicaStatusProxy {
  readonly endpoint: string;
  /** Rewrite replica entries by this rule (undefined: moto's answer as it is). */
  rule(fn: ReplicaRule | undefined): void;
  /** Calls seen, by operation (`DescribeSecret`, ...). */
  readonly calls: ReadonlyMap<string, number>;
  /** Replica entries rewritten so far. */
  readonly rewritten: number;
  close(): Promise<void>;
}

/**
 * A rule that answers, for one region, the given statuses for the next DescribeSecret answers
 * (one each), then leaves moto's answer (InSync). Counting starts when the rule is set.
 */
export function statusSequence(region: string, statuses: ReadonlyArray<ReplicaStatus['Status'] | ReplicaStatus>): ReplicaRule {
  let used = 0;
  return (q) => {
    if (q.region !== region || used >= statuses.length) return undefined;
    const next = statuses[used++]!;
    return typeof next === 'string' ? { Status: next, StatusMessage: messageOf(next) } : next;
  };
}

function messageOf(status: ReplicaStatus['Status']): string {
  return status === 'InSync' ? 'Replication succeeded' : status === 'InProgress' ? 'Replication in progress' : 'Replication failed';
}

export async function startReplicaStatusProxy(target: string): Promise<ReplicaStatusProxy> {
  const upstream = new URL(target);
  if (!/^127\.\d+\.\d+\.\d+$/.test(upstream.hostname)) throw new Error(`replica status proxy: target ${upstream.hostname} is not a loopback address`);
  const calls = new Map<string, number>();
  const describedWithReplicas = new Map<string, number>();
  let current: ReplicaRule | undefined;
  let rewritten = 0;

  const fail = (res: ServerResponse, message: string) => {
    res.writeHead(500, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'InternalServiceError' });
    res.end(JSON.stringify({ __type: 'InternalServiceError', message }));
  };

  const rewrite = (secretId: string, raw: Buffer): Buffer => {
    let answer: { ReplicationStatus?: Array<Record<string, unknown>> };
    try {
      answer = JSON.parse(raw.toString('utf8')) as typeof answer;
    } catch {
      return raw;
    }
    const replicas = answer.ReplicationStatus;
    if (!Array.isArray(replicas) || replicas.length === 0) return raw;
    const call = (describedWithReplicas.get(secretId) ?? 0) + 1;
    describedWithReplicas.set(secretId, call);
    const rule = current;
    if (!rule) return raw;
    let changed = false;
    for (const entry of replicas) {
      const status = rule({ secretId, region: String(entry.Region ?? ''), call });
      if (!status) continue;
      entry.Status = status.Status;
      if (status.StatusMessage === undefined) delete entry.StatusMessage;
      else entry.StatusMessage = status.StatusMessage;
      changed = true;
      rewritten++;
    }
    return changed ? Buffer.from(JSON.stringify(answer), 'utf8') : raw;
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : target;
      calls.set(operation, (calls.get(operation) ?? 0) + 1);
      let secretId = '';
      if (operation === 'DescribeSecret') {
        try {
          secretId = String((JSON.parse(body.toString('utf8')) as { SecretId?: unknown }).SecretId ?? '');
        } catch {
          secretId = '';
        }
      }
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          if (operation !== 'DescribeSecret' || (answer.statusCode ?? 500) !== 200) {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            return;
          }
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const rewrittenBody = rewrite(secretId, Buffer.concat(parts));
            const headers = { ...answer.headers, 'content-length': String(rewrittenBody.length) };
            delete headers['transfer-encoding'];
            res.writeHead(200, headers);
            res.end(rewrittenBody);
          });
          answer.on('error', (err) => fail(res, `stand-in: upstream answer failed: ${err.message}`));
        },
      );
      out.on('error', (err) => fail(res, `stand-in: upstream failed: ${err.message}`));
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    rule(fn) {
      current = fn;
    },
    calls,
    get rewritten() {
      return rewritten;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
