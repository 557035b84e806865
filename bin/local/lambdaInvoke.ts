import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { lambdaContext } from './harness.js';

/** A function the stand-in runs: the real handler, called in this process. */
export type InvokedHandler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * A stand-in for Lambda's Invoke API only (moto cannot run functions here: no Docker), on
 * 127.0.0.1: `POST /2015-03-31/functions/{name}/invocations` runs the handler registered for
 * that function name (or ARN) in this process and answers as Lambda does: 200 with the JSON the
 * handler returned; 200 with `X-Amz-Function-Error: Unhandled` and `{errorType, errorMessage}`
 * when it threw; 404 ResourceNotFoundException for an unknown function; 403
 * AccessDeniedException for a function the caller may not invoke (`deny`). Point the SDK at it
 * with AWS_ENDPOINT_URL_LAMBDA. Signatures are not checked.
 */
export class LambdaInvokeStandIn {
  private readonly functions = new Map<string, InvokedHandler>();
  private readonly denied = new Set<string>();
  /** Every invocation: the function name and the status answered. */
  public readonly invocations: Array<{ name: string; status: number }> = [];

  private constructor(
    private readonly server: Server,
    public readonly url: string,
  ) {}

  public static async start(): Promise<LambdaInvokeStandIn> {
    let instance: LambdaInvokeStandIn | undefined;
    const server = createServer((req, res) => {
      void instance!.handle(req).then(
        ({ status, headers, body }) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(body);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'ServiceException' });
          res.end(JSON.stringify({ Message: `stand-in error: ${err.name}` }));
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    instance = new LambdaInvokeStandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return instance;
  }

  /** Runs `handler` for invocations of the function named `functionArn` (by ARN or by its name). */
  public register(functionArn: string, handler: InvokedHandler): void {
    this.functions.set(functionArn, handler);
    this.functions.set(nameOf(functionArn), handler);
  }

  /** Invocations of this function are refused as Lambda refuses a caller without lambda:InvokeFunction. */
  public deny(functionArn: string): void {
    this.denied.add(nameOf(functionArn));
  }

  public async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? '/', this.url).pathname;
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path);
    if (req.method !== 'POST' || !m) {
      return { status: 404, headers: { 'x-amzn-errortype': 'UnknownOperationException' }, body: JSON.stringify({ Message: 'only Invoke is emulated' }) };
    }
    const requested = decodeURIComponent(m[1]!);
    const name = nameOf(requested);
    const answer = (status: number, headers: Record<string, string>, body: unknown) => {
      this.invocations.push({ name, status });
      return { status, headers, body: JSON.stringify(body) };
    };
    if (this.denied.has(name)) {
      return answer(403, { 'x-amzn-errortype': 'AccessDeniedException' }, {
        Message: `User is not authorized to perform: lambda:InvokeFunction on resource: ${requested}`,
      });
    }
    const handler = this.functions.get(requested) ?? this.functions.get(name);
    if (!handler) return answer(404, { 'x-amzn-errortype': 'ResourceNotFoundException' }, { Message: `Function not found: ${requested}` });
    const event = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : {};
    try {
      const result = await handler(event, lambdaContext(name));
      return answer(200, { 'x-amz-executed-version': '$LATEST' }, result ?? null);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      return answer(200, { 'x-amz-function-error': 'Unhandled' }, { errorType: e.name, errorMessage: e.message });
    }
  }
}

/** `name` of `arn:aws:lambda:<region>:<account>:function:name[:qualifier]`, or the name as given. */
function nameOf(functionArnOrName: string): string {
  const parts = functionArnOrName.split(':');
  return parts[5] === 'function' && parts[6] ? parts[6] : functionArnOrName;
}
