import { RevokeOutcomes, type ProviderSession, type TokenProvider } from '../provider.js';
import { missing, type ApiTokenSecret } from '../secret.js';

/**
 * Cloudflare user API tokens, rotated by rolling: `PUT /user/tokens/{id}/value` returns a new
 * value for the same token (same id, same permissions) and invalidates the old value at once,
 * so rotation is single-user (roll-only).
 *
 * - issue (roll): PUT    {baseUrl}/user/tokens/{tokenId}/value body {} (Authorization: Bearer
 *                 <management token with "API Tokens Write">, or the token itself with
 *                 `selfRotation`) → 200 {success:true, result:"<new value>"}
 * - verify:       GET    {baseUrl}/user/tokens/verify (Bearer: the token)
 *                 → 200 {success:true, result:{id, status:"active"}}; 401 {success:false, errors:[{code:1000,...}]}
 * - revoke:       DELETE {baseUrl}/user/tokens/{tokenId} → 200 {result:{id}}; 404 when unknown
 *
 * Rate limits: 429 with Retry-After (seconds), honoured by the HTTP client.
 */
export const cloudflareDefaults = {
  baseUrl: 'https://api.cloudflare.com/client/v4',
  hosts: ['api.cloudflare.com'],
} as const;

const base = (secret: ApiTokenSecret) => (secret.baseUrl ?? cloudflareDefaults.baseUrl).replace(/\/+$/, '');

async function bearer(current: ApiTokenSecret, session: ProviderSession): Promise<Record<string, string>> {
  const token = current.selfRotation ? current.token : (await session.credential()).token!;
  return { authorization: `Bearer ${token}` };
}

interface Envelope {
  success?: unknown;
  result?: unknown;
}

export const cloudflareProvider: TokenProvider = {
  name: 'cloudflare',
  dualActive: () => false,
  defaultHosts: cloudflareDefaults.hosts,

  validate(secret, where) {
    if (!secret.tokenId) throw missing(where, 'tokenId', "the API token's id, required by provider 'cloudflare'");
    if (!secret.managementSecretArn && secret.selfRotation !== true) {
      throw missing(
        where,
        'managementSecretArn',
        "a secret whose 'token' may write API tokens; or set 'selfRotation': true if the token may roll itself",
      );
    }
  },

  managementFields: (secret) => (secret.selfRotation ? [] : ['token']),

  urls: (secret) => [`${base(secret)}/user/tokens/${encodeURIComponent(secret.tokenId ?? '')}`, `${base(secret)}/user/tokens/verify`],

  async issue(current, session) {
    const req = {
      operation: 'cloudflare roll',
      method: 'PUT',
      url: `${base(current)}/user/tokens/${encodeURIComponent(current.tokenId!)}/value`,
      headers: await bearer(current, session),
      body: {},
      idempotent: false,
    };
    const res = await session.http.send(req);
    if (res.status !== 200) throw session.http.unexpected(req, res);
    const body = res.body as Envelope | undefined;
    // The new value is registered for masking before anything else happens to the answer.
    if (typeof body?.result === 'string' && body.result.length > 0) session.http.secret(body.result);
    if (body?.success !== true || typeof body.result !== 'string' || body.result.length === 0) {
      throw session.http.unexpected(req, res, 'no token value in result');
    }
    return { token: body.result, tokenId: current.tokenId };
  },

  async verify(target, session) {
    const req = {
      operation: 'cloudflare verify',
      method: 'GET',
      url: `${base(target)}/user/tokens/verify`,
      headers: { authorization: `Bearer ${target.token}` },
      idempotent: true,
    };
    const res = await session.http.send(req);
    if (res.status === 401 || res.status === 403) return { accepted: false };
    const result = (res.body as Envelope | undefined)?.result as { id?: unknown; status?: unknown } | undefined;
    if (res.status !== 200 || !result || typeof result.status !== 'string') throw session.http.unexpected(req, res);
    return { accepted: result.status === 'active', tokenId: typeof result.id === 'string' ? result.id : undefined };
  },

  // Preflight: GET /user/tokens/verify with the management token (with selfRotation, the token
  // itself) answers whether it is active; it changes nothing.
  async checkManagement(current, session) {
    const req = {
      operation: 'cloudflare verify management token',
      method: 'GET',
      url: `${base(current)}/user/tokens/verify`,
      headers: await bearer(current, session),
      idempotent: true,
    };
    const res = await session.http.send(req);
    if (res.status === 401 || res.status === 403) return { accepted: false };
    const result = (res.body as Envelope | undefined)?.result as { status?: unknown } | undefined;
    if (res.status !== 200 || !result || typeof result.status !== 'string') throw session.http.unexpected(req, res);
    return { accepted: result.status === 'active' };
  },

  async revoke(target, session) {
    const req = {
      operation: 'cloudflare revoke',
      method: 'DELETE',
      url: `${base(target)}/user/tokens/${encodeURIComponent(target.tokenId)}`,
      headers: await bearer(target, session),
      idempotent: true,
    };
    const res = await session.http.send(req);
    if (res.status === 200 || res.status === 204) return RevokeOutcomes.REVOKED;
    if (res.status === 404) return RevokeOutcomes.ALREADY_GONE;
    throw session.http.unexpected(req, res);
  },
};
