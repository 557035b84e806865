import { randomBytes, randomUUID } from 'node:crypto';
import { noteCredential } from './hygiene.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server that implements the documented contracts of the token providers Rotor
 * supports, with its own token table, so that "the old token is refused" is a real answer:
 *
 * Datadog (under /datadog), API keys, several live at once:
 *   POST   /api/v2/api_keys            DD-API-KEY + DD-APPLICATION-KEY; body {data:{type:"api_keys",attributes:{name}}}
 *                                      → 201 {data:{type,id,attributes:{key,name,last4,created_at,modified_at}}}
 *                                      → 400 {errors:[...]} bad body, 403 {errors:["Forbidden"]} bad credentials
 *   DELETE /api/v2/api_keys/{id}       → 204; 404 {errors:["Not found"]}; 403
 *   GET    /api/v2/api_keys/{id}       DD-API-KEY + DD-APPLICATION-KEY (`api_keys_read`) → 200 {data:{type,id,attributes:{name,last4,...}}}
 *                                      (no key value); 404 {errors:["Not found"]}; 403
 *   GET    /api/v1/validate            DD-API-KEY → 200 {valid:true}; 403 {errors:["Forbidden"]}
 *   429: {errors:["Too many requests"]} with X-RateLimit-Limit/-Period/-Remaining/-Reset/-Name
 *
 * Cloudflare (under /cloudflare/client/v4), user API tokens, rolled in place:
 *   PUT    /user/tokens/{id}/value     Bearer token with "API Tokens Write"; body {}
 *                                      → 200 {success:true,errors:[],messages:[],result:"<new value>"} (old value dies)
 *   GET    /user/tokens/verify         Bearer token → 200 {success:true,result:{id,status:"active"}}
 *   DELETE /user/tokens/{id}           → 200 {success:true,result:{id}}; 404
 *   401 {success:false,errors:[{code:1000,message:"Invalid API Token"}]}; 403 code 9109;
 *   429 {success:false,errors:[{code:971,...}]} with Retry-After (seconds)
 *
 * Acme (under /acme), a made-up API for the generic HTTP provider. Its errors echo the token
 * presented, as some real APIs do, so Rotor's masking of provider text is exercised:
 *   POST   /v1/tokens                  Authorization: Bearer <admin> → 200 {token:{id,secret}}
 *   GET    /v1/whoami                  X-Acme-Token → 200 {id}; 401 {error:"token <value> is not valid"}
 *   DELETE /v1/tokens/{id}             Bearer admin → 204; 404 {error:"no such token"}
 *   POST   /v1/tokens/self/roll        X-Acme-Token (self-rotation) → 200 {secret} (old value dies)
 *   429 {error:"slow down"} with Retry-After
 */

export const Routes = {
  DATADOG_CREATE: 'datadog.create',
  DATADOG_DELETE: 'datadog.delete',
  DATADOG_GET: 'datadog.get',
  DATADOG_VALIDATE: 'datadog.validate',
  CLOUDFLARE_ROLL: 'cloudflare.roll',
  CLOUDFLARE_VERIFY: 'cloudflare.verify',
  CLOUDFLARE_DELETE: 'cloudflare.delete',
  ACME_ISSUE: 'acme.issue',
  ACME_WHOAMI: 'acme.whoami',
  ACME_REVOKE: 'acme.revoke',
  ACME_ROLL: 'acme.roll',
} as const;
export type Route = (typeof Routes)[keyof typeof Routes];

export type ProviderName = 'datadog' | 'cloudflare' | 'acme';

interface StoredToken {
  readonly provider: ProviderName;
  readonly id: string;
  value: string;
  readonly name?: string;
  /** Datadog application key / Cloudflare "API Tokens Write" / Acme admin. */
  readonly manager: boolean;
  live: boolean;
}

export interface Fault {
  readonly status: number;
  /** How many requests in a row get this answer. @default 1 */
  readonly times?: number;
  /** Seconds, sent as Retry-After (or X-RateLimit-Reset for Datadog). */
  readonly retryAfter?: number;
  readonly body?: unknown;
  /**
   * Do the route's real work first with this value as the new token (acme issue and roll,
   * cloudflare roll), then answer the fault: a provider that issued a credential and still
   * answered an error, echoing it. `{{issued}}` in the body (a string, or any string of a JSON
   * body) is replaced by the value.
   */
  readonly issued?: string;
  /** @default application/json (the body is serialised) ; text/plain sends a string body as it is */
  readonly contentType?: string;
}

export interface SeededToken {
  readonly token: string;
  readonly tokenId: string;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The provider's token table: every value it holds is a credential the suite's hygiene check looks for. */
class TokenTable<V> extends Map<string, V> {
  public override set(value: string, token: V): this {
    noteCredential(value);
    return super.set(value, token);
  }
}

export class TokenProviderServer {
  private readonly tokens = new TokenTable<StoredToken>(); // by value
  private readonly faults = new Map<Route, Fault[]>();
  /** Every request that reached a route: its name and the status answered. */
  public readonly requests: Array<{ route: Route; status: number }> = [];

  private constructor(
    private readonly server: Server,
    public readonly url: string,
  ) {}

  public static async start(): Promise<TokenProviderServer> {
    let instance: TokenProviderServer | undefined;
    const server = createServer((req, res) => {
      void instance!.handle(req, res).catch((err: Error) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ errors: [`test server error: ${err.message}`] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    instance = new TokenProviderServer(server, `http://127.0.0.1:${port}`);
    return instance;
  }

  public get datadogBaseUrl(): string {
    return `${this.url}/datadog`;
  }
  public get cloudflareBaseUrl(): string {
    return `${this.url}/cloudflare/client/v4`;
  }
  public get acmeBaseUrl(): string {
    return `${this.url}/acme`;
  }
  /** The host to list in an `allowedHosts` (any port of it). */
  public get host(): string {
    return new URL(this.url).hostname;
  }

  public async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Forget faults and the request log (tokens stay: every case makes its own). */
  public resetFaults(): void {
    this.faults.clear();
    this.requests.length = 0;
  }

  /** The next `times` requests to `route` get this answer instead of the real one. */
  public failNext(route: Route, fault: Fault): void {
    const queue = this.faults.get(route) ?? [];
    for (let i = 0; i < (fault.times ?? 1); i++) queue.push(fault);
    this.faults.set(route, queue);
  }

  /** How many requests reached a route (answered with `status`, if given). */
  public count(route: Route, status?: number): number {
    return this.requests.filter((r) => r.route === route && (status === undefined || r.status === status)).length;
  }

  /** Whether the provider accepts this token value now. */
  public accepts(token: string): boolean {
    return this.tokens.get(token)?.live === true;
  }

  /** Live tokens of a provider whose name starts with a prefix (the keys Rotor issued). */
  public liveNamed(prefix: string): number {
    return [...this.tokens.values()].filter((t) => t.live && t.name?.startsWith(prefix)).length;
  }

  // --- seeding -------------------------------------------------------------------------

  /** A Datadog API key (32 hex characters, as Datadog's). */
  public datadogApiKey(name = `seed-${hex(3)}`): SeededToken {
    return this.add({ provider: 'datadog', id: randomUUID(), value: hex(16), name, manager: false, live: true });
  }

  /** A Datadog API key + application key pair allowed to manage API keys. */
  public datadogManagement(): { apiKey: string; appKey: string } {
    const apiKey = this.datadogApiKey('management').token;
    const appKey = this.add({ provider: 'datadog', id: randomUUID(), value: hex(20), manager: true, live: true }).token;
    return { apiKey, appKey };
  }

  /** A Cloudflare user API token (40 characters); `manager` gives it "API Tokens Write". */
  public cloudflareToken(manager = false): SeededToken {
    return this.add({ provider: 'cloudflare', id: hex(16), value: cloudflareValue(), manager, live: true });
  }

  public acmeToken(manager = false): SeededToken {
    return this.add({ provider: 'acme', id: `tok_${hex(6)}`, value: `acme_${randomBytes(24).toString('base64url')}`, manager, live: true });
  }

  private add(token: StoredToken): SeededToken {
    this.tokens.set(token.value, token);
    return { token: token.value, tokenId: token.id };
  }

  private byId(provider: ProviderName, id: string): StoredToken | undefined {
    return [...this.tokens.values()].find((t) => t.provider === provider && t.id === id && t.live);
  }

  private live(provider: ProviderName, value: string | undefined, manager?: boolean): StoredToken | undefined {
    if (!value) return undefined;
    const t = this.tokens.get(value);
    if (!t || !t.live || t.provider !== provider) return undefined;
    if (manager !== undefined && t.manager !== manager) return undefined;
    return t;
  }

  // --- HTTP ----------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = new URL(req.url ?? '/', this.url).pathname;
    const method = req.method ?? 'GET';
    const answer = (route: Route, status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ route, status });
      res.writeHead(status, { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const route = routeOf(method, path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: ['no route'] }));
      return;
    }
    const fault = this.faults.get(route.name)?.shift();
    const header = (name: string) => {
      const v = req.headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    };
    if (fault?.issued !== undefined) {
      this.issueAnyway(route, fault.issued, header('X-Acme-Token'));
      const fill = (v: unknown): unknown =>
        typeof v === 'string'
          ? v.split('{{issued}}').join(fault.issued!)
          : Array.isArray(v)
            ? v.map(fill)
            : v !== null && typeof v === 'object'
              ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]))
              : v;
      const contentType = fault.contentType ?? 'application/json';
      const payload = contentType.startsWith('application/json') ? JSON.stringify(fill(fault.body)) : String(fill(fault.body));
      this.requests.push({ route: route.name, status: fault.status });
      res.writeHead(fault.status, { 'content-type': contentType });
      res.end(payload);
      return;
    }
    if (fault) {
      answer(route.name, fault.status, fault.body ?? faultBody(route.name, fault.status), faultHeaders(route.name, fault));
      return;
    }
    const bearer = () => /^Bearer (.+)$/.exec(header('authorization') ?? '')?.[1];
    switch (route.name) {
      case Routes.DATADOG_CREATE: {
        if (!this.datadogManager(header)) return answer(route.name, 403, { errors: ['Forbidden'] });
        const name = (body as { data?: { type?: unknown; attributes?: { name?: unknown } } } | undefined)?.data;
        if (name?.type !== 'api_keys' || typeof name.attributes?.name !== 'string' || !name.attributes.name) {
          return answer(route.name, 400, { errors: ["Invalid request body: 'data.attributes.name' is required"] });
        }
        const key = this.add({ provider: 'datadog', id: randomUUID(), value: hex(16), name: name.attributes.name, manager: false, live: true });
        const at = new Date().toISOString();
        return answer(route.name, 201, {
          data: {
            type: 'api_keys',
            id: key.tokenId,
            attributes: { created_at: at, modified_at: at, key: key.token, last4: key.token.slice(-4), name: name.attributes.name },
            relationships: {},
          },
        });
      }
      case Routes.DATADOG_DELETE: {
        if (!this.datadogManager(header)) return answer(route.name, 403, { errors: ['Forbidden'] });
        const key = this.byId('datadog', route.id!);
        if (!key || key.manager) return answer(route.name, 404, { errors: ['Not found'] });
        key.live = false;
        return answer(route.name, 204);
      }
      case Routes.DATADOG_GET: {
        if (!this.datadogManager(header)) return answer(route.name, 403, { errors: ['Forbidden'] });
        const key = this.byId('datadog', route.id!);
        if (!key || key.manager) return answer(route.name, 404, { errors: ['Not found'] });
        return answer(route.name, 200, {
          data: { type: 'api_keys', id: key.id, attributes: { name: key.name ?? '', last4: key.value.slice(-4) }, relationships: {} },
        });
      }
      case Routes.DATADOG_VALIDATE: {
        const key = this.live('datadog', header('DD-API-KEY'), false);
        return key ? answer(route.name, 200, { valid: true }) : answer(route.name, 403, { errors: ['Forbidden'] });
      }
      case Routes.CLOUDFLARE_ROLL: {
        const caller = this.live('cloudflare', bearer());
        if (!caller) return answer(route.name, 401, cloudflareError(1000, 'Invalid API Token'));
        if (!caller.manager) return answer(route.name, 403, cloudflareError(9109, 'Unauthorized to access requested resource'));
        const target = this.byId('cloudflare', route.id!);
        if (!target) return answer(route.name, 404, cloudflareError(1003, 'Invalid or missing token id'));
        this.tokens.delete(target.value);
        target.value = cloudflareValue();
        this.tokens.set(target.value, target);
        return answer(route.name, 200, { success: true, errors: [], messages: [], result: target.value });
      }
      case Routes.CLOUDFLARE_VERIFY: {
        const token = this.live('cloudflare', bearer());
        if (!token) return answer(route.name, 401, cloudflareError(1000, 'Invalid API Token'));
        return answer(route.name, 200, {
          success: true,
          errors: [],
          messages: [{ code: 10000, message: 'This API Token is valid and active', type: null }],
          result: { id: token.id, status: 'active' },
        });
      }
      case Routes.CLOUDFLARE_DELETE: {
        const caller = this.live('cloudflare', bearer());
        if (!caller) return answer(route.name, 401, cloudflareError(1000, 'Invalid API Token'));
        if (!caller.manager) return answer(route.name, 403, cloudflareError(9109, 'Unauthorized to access requested resource'));
        const target = this.byId('cloudflare', route.id!);
        if (!target) return answer(route.name, 404, cloudflareError(1003, 'Invalid or missing token id'));
        target.live = false;
        return answer(route.name, 200, { success: true, errors: [], messages: [], result: { id: target.id } });
      }
      case Routes.ACME_ISSUE: {
        if (!this.live('acme', bearer(), true)) return answer(route.name, 401, { error: `token ${bearer() ?? '(none)'} is not valid` });
        const t = this.acmeToken();
        return answer(route.name, 200, { token: { id: t.tokenId, secret: t.token } });
      }
      case Routes.ACME_WHOAMI: {
        const presented = header('X-Acme-Token');
        const token = this.live('acme', presented);
        return token
          ? answer(route.name, 200, { id: token.id })
          : answer(route.name, 401, { error: `token ${presented ?? '(none)'} is not valid` });
      }
      case Routes.ACME_REVOKE: {
        if (!this.live('acme', bearer(), true)) return answer(route.name, 401, { error: `token ${bearer() ?? '(none)'} is not valid` });
        const target = this.byId('acme', route.id!);
        if (!target) return answer(route.name, 404, { error: 'no such token' });
        target.live = false;
        return answer(route.name, 204);
      }
      case Routes.ACME_ROLL: {
        const presented = header('X-Acme-Token');
        const token = this.live('acme', presented);
        if (!token) return answer(route.name, 401, { error: `token ${presented ?? '(none)'} is not valid` });
        this.tokens.delete(token.value);
        token.value = `acme_${randomBytes(24).toString('base64url')}`;
        this.tokens.set(token.value, token);
        return answer(route.name, 200, { secret: token.value });
      }
    }
  }

  /** The real work of an issuing route, with a chosen new value (for faults that echo it). */
  private issueAnyway(route: { name: Route; id?: string }, value: string, presented: string | undefined): void {
    if (route.name === Routes.ACME_ISSUE) {
      this.add({ provider: 'acme', id: `tok_${hex(6)}`, value, manager: false, live: true });
      return;
    }
    const target =
      route.name === Routes.ACME_ROLL
        ? this.live('acme', presented)
        : route.name === Routes.CLOUDFLARE_ROLL
          ? this.byId('cloudflare', route.id!)
          : undefined;
    if (!target) throw new Error(`no token to roll for a fault with 'issued' on ${route.name}`);
    this.tokens.delete(target.value);
    target.value = value;
    this.tokens.set(value, target);
  }

  private datadogManager(header: (name: string) => string | undefined): boolean {
    return !!this.live('datadog', header('DD-API-KEY'), false) && !!this.live('datadog', header('DD-APPLICATION-KEY'), true);
  }
}

function routeOf(method: string, path: string): { name: Route; id?: string } | undefined {
  let m: RegExpExecArray | null;
  if (method === 'POST' && path === '/datadog/api/v2/api_keys') return { name: Routes.DATADOG_CREATE };
  if (method === 'DELETE' && (m = /^\/datadog\/api\/v2\/api_keys\/([^/]+)$/.exec(path))) {
    return { name: Routes.DATADOG_DELETE, id: decodeURIComponent(m[1]!) };
  }
  if (method === 'GET' && (m = /^\/datadog\/api\/v2\/api_keys\/([^/]+)$/.exec(path))) {
    return { name: Routes.DATADOG_GET, id: decodeURIComponent(m[1]!) };
  }
  if (method === 'GET' && path === '/datadog/api/v1/validate') return { name: Routes.DATADOG_VALIDATE };
  if (method === 'PUT' && (m = /^\/cloudflare\/client\/v4\/user\/tokens\/([^/]+)\/value$/.exec(path))) {
    return { name: Routes.CLOUDFLARE_ROLL, id: decodeURIComponent(m[1]!) };
  }
  if (method === 'GET' && path === '/cloudflare/client/v4/user/tokens/verify') return { name: Routes.CLOUDFLARE_VERIFY };
  if (method === 'DELETE' && (m = /^\/cloudflare\/client\/v4\/user\/tokens\/([^/]+)$/.exec(path))) {
    return { name: Routes.CLOUDFLARE_DELETE, id: decodeURIComponent(m[1]!) };
  }
  if (method === 'POST' && path === '/acme/v1/tokens') return { name: Routes.ACME_ISSUE };
  if (method === 'GET' && path === '/acme/v1/whoami') return { name: Routes.ACME_WHOAMI };
  if (method === 'POST' && path === '/acme/v1/tokens/self/roll') return { name: Routes.ACME_ROLL };
  if (method === 'DELETE' && (m = /^\/acme\/v1\/tokens\/([^/]+)$/.exec(path))) {
    return { name: Routes.ACME_REVOKE, id: decodeURIComponent(m[1]!) };
  }
  return undefined;
}

function cloudflareError(code: number, message: string) {
  return { success: false, errors: [{ code, message }], messages: [], result: null };
}

function cloudflareValue(): string {
  return randomBytes(30).toString('base64url'); // 40 characters
}

function faultBody(route: Route, status: number): unknown {
  const provider = route.split('.')[0];
  const text = status === 429 ? 'Too many requests' : `Internal error ${status}`;
  if (provider === 'cloudflare') {
    return cloudflareError(status === 429 ? 971 : 10000 + status, status === 429 ? 'Please wait and consider throttling your request speed' : text);
  }
  if (provider === 'acme') return { error: status === 429 ? 'slow down' : text };
  return { errors: [text] };
}

function faultHeaders(route: Route, fault: Fault): Record<string, string> {
  if (fault.status !== 429 || fault.retryAfter === undefined) return {};
  if (route.startsWith('datadog.')) {
    return {
      'X-RateLimit-Limit': '60',
      'X-RateLimit-Period': '60',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': String(fault.retryAfter),
      'X-RateLimit-Name': 'api_keys',
    };
  }
  return { 'Retry-After': String(fault.retryAfter) };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
