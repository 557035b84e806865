import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Secrets Manager in front of moto that refuses a reused ClientRequestToken with
 * a different value, atomically, as AWS does (moto overwrites). Everything else is forwarded
 * unchanged. A test of concurrent createSecret (or of claims) points its clients at `endpoint`.
 *
 * It also lets a test answer a call itself (`intercept`), e.g. to fail a PutSecretValue.
 */
export interface RefusingProxy {
  readonly endpoint: string;
  /** PutSecretValue calls refused for a reused token with another value. */
  readonly refused: number;
  /** Calls seen, by operation (`PutSecretValue`, ...). */
  readonly calls: ReadonlyMap<string, number>;
  /**
   * Answer matching calls here instead of forwarding them: return an error name to fail the
   * call with it (HTTP 400, or 500 for `InternalServiceError`), or undefined to forward.
   */
  intercept(fn: ((operation: string, body: Record<string, unknown>) => string | undefined) | undefined): void;
  /**
   * Holds the matching calls until `count` of them have arrived (or `timeoutMs` passed), then
   * lets them all through in arrival order: makes "two instances at once" a certainty instead
   * of a matter of timing. Undefined clears it.
   */
  barrier(match: ((operation: string, body: Record<string, unknown>) => boolean) | undefined, count?: number, timeoutMs?: number): void;
  close(): Promise<void>;
}

export async function startRefusingProxy(target: string): Promise<RefusingProxy> {
  const upstream = new URL(target);
  const written = new Map<string, string>();
  const calls = new Map<string, number>();
  let refused = 0;
  let interceptor: ((operation: string, body: Record<string, unknown>) => string | undefined) | undefined;
  let gate:
    | { match: (operation: string, body: Record<string, unknown>) => boolean; count: number; timeoutMs: number; held: Array<() => void> }
    | undefined;

  const fail = (res: ServerResponse, name: string, message: string) => {
    const status = name === 'InternalServiceError' ? 500 : 400;
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': name });
    res.end(JSON.stringify({ __type: name, message }));
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        // The Host header is left as signed: moto checks SigV4 signatures when asked to.
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', (err) => fail(res, 'InternalServiceError', `stand-in: upstream failed: ${err.message}`));
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : target;
      calls.set(operation, (calls.get(operation) ?? 0) + 1);
      let parsed: Record<string, unknown> = {};
      try {
        parsed = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        parsed = {};
      }
      if (gate?.match(operation, parsed)) {
        const current = gate;
        current.held.push(() => handle(operation, parsed, req, res, body));
        if (current.held.length >= current.count) {
          for (const go of current.held.splice(0)) go();
        } else if (current.held.length === 1) {
          setTimeout(() => {
            for (const go of current.held.splice(0)) go();
          }, current.timeoutMs).unref();
        }
        return;
      }
      handle(operation, parsed, req, res, body);
    });
  });

  const handle = (operation: string, parsed: Record<string, unknown>, req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    {
      const injected = interceptor?.(operation, parsed);
      if (injected) {
        fail(res, injected, `stand-in: ${operation} failed (${injected})`);
        return;
      }
      if (operation === 'PutSecretValue' && typeof parsed.ClientRequestToken === 'string') {
        // Decided synchronously, before anything is forwarded: two concurrent calls cannot both pass.
        const token = parsed.ClientRequestToken;
        const value = createHash('sha256')
          .update(String(parsed.SecretString ?? ''))
          .update('\u0000')
          .update(String(parsed.SecretBinary ?? ''))
          .digest('hex');
        const before = written.get(token);
        if (before !== undefined && before !== value) {
          refused++;
          fail(
            res,
            'ResourceExistsException',
            'A resource with the ID you requested already exists. (stand-in: ClientRequestToken reused with a different value)',
          );
          return;
        }
        written.set(token, value);
      }
      forward(req, res, body);
    }
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get refused() {
      return refused;
    },
    calls,
    intercept(fn) {
      interceptor = fn;
    },
    barrier(match, count = 2, timeoutMs = 5_000) {
      gate = match ? { match, count, timeoutMs, held: [] } : undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
