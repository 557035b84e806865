import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A quota-model stand-in for Secrets Manager in front of moto (moto has no rate limits): every
 * request is forwarded unchanged (headers as signed, so moto's signature checks still pass),
 * except that Secrets Manager operations first take a token from their quota's bucket, and are
 * answered `ThrottlingException` ("Rate exceeded", HTTP 400, as the service answers) when the
 * bucket is empty. With limiting off it only counts, which is how the rotation bench uses it.
 *
 * Every call through it is counted by service and operation (Secrets Manager and EventBridge by
 * their X-Amz-Target, IAM and STS by their Action, anything else by the service of its SigV4
 * credential scope), so a benchmark counts the calls of code it does not instrument (a kind's
 * own SDK clients) the same way as its own.
 */

/** A rate quota shared by a group of operations (the published quotas are "combined rate of ..."). */
export interface Quota {
  readonly name: string;
  readonly operations: readonly string[];
  /** Requests per second, per account and region. */
  readonly perSecond: number;
}

/**
 * Secrets Manager's published request-rate quotas, per account and Region, none adjustable:
 * AWS Secrets Manager User Guide, "AWS Secrets Manager quotas",
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html
 * - RotateSecret and CancelRotateSecret, combined: 50 per second.
 * - PutSecretValue, RemoveRegionsFromReplication, ReplicateSecretToRegion,
 *   StopReplicationToReplica, UpdateSecret and UpdateSecretVersionStage, combined: 50 per second.
 * - TagResource and UntagResource, combined: 50 per second.
 * - ListSecrets: 100 per second (raised to 100 in November 2022, "AWS Secrets Manager increases
 *   API requests per second limits", aws.amazon.com/about-aws/whats-new/2022/11/).
 * - GetSecretValue: 10,000 per second; DescribeSecret: 40,000 per second (March 2025, "AWS
 *   Secrets Manager increases API requests per second", aws.amazon.com/about-aws/whats-new/2025/03/).
 * Operations not listed here (GetRandomPassword, ListSecretVersionIds, CreateSecret, ...) are
 * not limited by this model.
 */
export const SECRETS_MANAGER_QUOTAS: readonly Quota[] = [
  { name: 'RotateSecret', operations: ['RotateSecret', 'CancelRotateSecret'], perSecond: 50 },
  {
    name: 'PutSecretValue+UpdateSecretVersionStage',
    operations: [
      'PutSecretValue',
      'UpdateSecretVersionStage',
      'UpdateSecret',
      'RemoveRegionsFromReplication',
      'ReplicateSecretToRegion',
      'StopReplicationToReplica',
    ],
    perSecond: 50,
  },
  { name: 'TagResource', operations: ['TagResource', 'UntagResource'], perSecond: 50 },
  { name: 'ListSecrets', operations: ['ListSecrets'], perSecond: 100 },
  { name: 'GetSecretValue', operations: ['GetSecretValue'], perSecond: 10_000 },
  { name: 'DescribeSecret', operations: ['DescribeSecret'], perSecond: 40_000 },
];

/**
 * A token bucket: `perSecond` tokens a second, refilled continuously, holding at most `capacity`.
 * Written here rather than taken from a library because the model needs exactly this and
 * nothing else (no queueing, no waiting: a request either gets a token now or is throttled, as
 * the service answers), and the project adds no dependency for a bench stand-in. AWS does not
 * publish its burst size: the model allows one second's worth.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  public constructor(
    public readonly perSecond: number,
    public readonly capacity: number = perSecond,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Takes one token if there is one. */
  public take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Back to full, as after a quiet period. */
  public refill(): void {
    this.tokens = this.capacity;
    this.last = this.now();
  }
}

export interface QuotaProxyOptions {
  /** @default SECRETS_MANAGER_QUOTAS */
  readonly quotas?: readonly Quota[];
  /** Multiplies every quota's rate (and burst). @default 1 */
  readonly scale?: number;
  /** Start with throttling on. @default false (count only) */
  readonly limiting?: boolean;
  /** Width of a timeline bucket. @default 1000 */
  readonly timelineMs?: number;
}

/** What one forwarded call looked like, for a caller that plays the service's part (invoking a rotation function after RotateSecret). */
export interface Answer {
  readonly service: string;
  readonly operation: string;
  readonly status: number;
  readonly request: Record<string, unknown>;
  readonly response: Record<string, unknown>;
}

/** Counts since the last `mark()`: `service:operation` → calls. */
export interface ProxyCounts {
  /** Requests received (throttled ones included). */
  readonly calls: Record<string, number>;
  /** Requests answered ThrottlingException by the model. */
  readonly throttled: Record<string, number>;
  /** Admitted requests per quota group. */
  readonly admitted: Record<string, number>;
}

export interface QuotaProxy {
  readonly endpoint: string;
  readonly quotas: readonly Quota[];
  /** Turns throttling on or off (buckets start full when turned on). */
  setLimiting(on: boolean): void;
  /** Resets the counters, the timeline and the upstream latencies: the start of a measurement. */
  mark(): void;
  counts(): ProxyCounts;
  /** Admitted requests of a quota group per timeline bucket since `mark()`. */
  timeline(quota: string): number[];
  /** How long moto took to answer forwarded calls since `mark()` (ms), and the most calls in flight at once. */
  upstream(): { count: number; p50: number; p95: number; maxInFlight: number };
  /** Called after each answered Secrets Manager call (throttled ones excluded). */
  onAnswer(fn: ((answer: Answer) => void) | undefined): void;
  close(): Promise<void>;
}

/** Service and operation of a request: X-Amz-Target (JSON protocols), Action (query protocols), else the SigV4 scope. */
function identify(req: IncomingMessage, body: Buffer): { service: string; operation: string } {
  const target = String(req.headers['x-amz-target'] ?? '');
  if (target.includes('.')) {
    const [prefix, op] = [target.slice(0, target.lastIndexOf('.')), target.slice(target.lastIndexOf('.') + 1)];
    return { service: prefix === 'secretsmanager' ? 'secretsmanager' : prefix.toLowerCase(), operation: op };
  }
  const scope = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? 'unknown';
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('x-www-form-urlencoded')) {
    const action = new URLSearchParams(body.toString('utf8')).get('Action');
    if (action) return { service: scope, operation: action };
  }
  return { service: scope, operation: `${req.method} ${(req.url ?? '').split('?')[0]}` };
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function startQuotaProxy(target: string, options: QuotaProxyOptions = {}): Promise<QuotaProxy> {
  const upstreamUrl = new URL(target);
  const scale = options.scale ?? 1;
  const quotas = (options.quotas ?? SECRETS_MANAGER_QUOTAS).map((q) => ({ ...q, perSecond: q.perSecond * scale }));
  const buckets = new Map(quotas.map((q) => [q.name, new TokenBucket(q.perSecond)]));
  const groupOf = new Map<string, string>();
  for (const q of quotas) for (const op of q.operations) groupOf.set(op, q.name);
  const timelineMs = options.timelineMs ?? 1000;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });

  let limiting = options.limiting ?? false;
  let calls = new Map<string, number>();
  let throttled = new Map<string, number>();
  let admitted = new Map<string, number>();
  let timelines = new Map<string, number[]>();
  let latencies: number[] = [];
  let markedAt = performance.now();
  let inFlight = 0;
  let maxInFlight = 0;
  let listener: ((answer: Answer) => void) | undefined;
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  const throttle = (res: ServerResponse) => {
    // As Secrets Manager answers a request over its quota (the SDKs retry it as a throttling error).
    const body = JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' });
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, service: string, operation: string) => {
    const started = performance.now();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      latencies.push(performance.now() - started);
    };
    const out = httpRequest(
      { host: upstreamUrl.hostname, port: upstreamUrl.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          finish();
          const payload = Buffer.concat(chunks);
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          headers['content-length'] = String(payload.length);
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(payload);
          if (listener && service === 'secretsmanager') {
            const parse = (b: Buffer) => {
              try {
                return b.length > 0 ? (JSON.parse(b.toString('utf8')) as Record<string, unknown>) : {};
              } catch {
                return {};
              }
            };
            listener({ service, operation, status: answer.statusCode ?? 0, request: parse(body), response: parse(payload) });
          }
        });
        answer.on('error', () => {
          finish();
          res.destroy();
        });
      },
    );
    out.on('error', (err) => {
      finish();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const text = JSON.stringify({ __type: 'InternalServiceError', message: `quota stand-in: upstream failed: ${err.message}` });
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'InternalServiceError' });
      res.end(text);
    });
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { service, operation } = identify(req, body);
      const key = `${service}:${operation}`;
      bump(calls, key);
      const group = service === 'secretsmanager' ? groupOf.get(operation) : undefined;
      if (group) {
        if (limiting && !buckets.get(group)!.take()) {
          bump(throttled, key);
          throttle(res);
          return;
        }
        bump(admitted, group);
        const slot = Math.floor((performance.now() - markedAt) / timelineMs);
        const line = timelines.get(group) ?? [];
        while (line.length <= slot) line.push(0);
        line[slot]!++;
        timelines.set(group, line);
      }
      forward(req, res, body, service, operation);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const record = (m: Map<string, number>) => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    quotas,
    setLimiting(on) {
      if (on && !limiting) for (const b of buckets.values()) b.refill();
      limiting = on;
    },
    mark() {
      calls = new Map();
      throttled = new Map();
      admitted = new Map();
      timelines = new Map();
      latencies = [];
      maxInFlight = inFlight;
      markedAt = performance.now();
    },
    counts: () => ({ calls: record(calls), throttled: record(throttled), admitted: record(admitted) }),
    timeline: (quota) => [...(timelines.get(quota) ?? [])],
    upstream() {
      const sorted = [...latencies].sort((a, b) => a - b);
      return { count: sorted.length, p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), maxInFlight };
    },
    onAnswer(fn) {
      listener = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
