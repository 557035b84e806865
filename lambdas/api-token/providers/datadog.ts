import type { ProviderResponse } from '../http.js';
import { RevokeOutcomes, type ProviderSession, type TokenProvider } from '../provider.js';
import { apiTokenDefaults, missing, type ApiTokenSecret } from '../secret.js';
import { SecretFormatError } from '../../core/errors.js';

/**
 * Datadog API keys: an organisation may hold many live API keys, so rotation is dual-active.
 *
 * - issue:  POST   {baseUrl}/api/v2/api_keys  (DD-API-KEY + DD-APPLICATION-KEY of the management
 *           secret, `api_keys_write`) body {data:{type:"api_keys",attributes:{name}}}
 *           → 201 {data:{id, attributes:{key, name, last4, ...}}}
 * - verify: GET    {baseUrl}/api/v1/validate  (DD-API-KEY: the token) → 200 {valid:true}, 403 {errors:[...]}
 * - revoke: DELETE {baseUrl}/api/v2/api_keys/{tokenId} (`api_keys_delete`) → 204; 404 when unknown
 *
 * Rate limits: 429 with X-RateLimit-Reset (seconds), honoured by the HTTP client.
 */
export const datadogDefaults = {
  baseUrl: 'https://api.datadoghq.com',
  /** Every Datadog site's API host. */
  hosts: [
    'api.datadoghq.com',
    'api.datadoghq.eu',
    'api.us3.datadoghq.com',
    'api.us5.datadoghq.com',
    'api.ap1.datadoghq.com',
    'api.ap2.datadoghq.com',
    'api.uk1.datadoghq.com',
    'api.ddog-gov.com',
    'api.us2.ddog-gov.com',
  ],
} as const;

const base = (secret: ApiTokenSecret) => (secret.baseUrl ?? datadogDefaults.baseUrl).replace(/\/+$/, '');

async function managementHeaders(session: ProviderSession): Promise<Record<string, string>> {
  const cred = await session.credential();
  return { 'DD-API-KEY': cred.apiKey!, 'DD-APPLICATION-KEY': cred.appKey! };
}

function stringAt(res: ProviderResponse, ...path: string[]): string | undefined {
  let node: unknown = res.body;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'string' && node.length > 0 ? node : undefined;
}

export const datadogProvider: TokenProvider = {
  name: 'datadog',
  dualActive: () => true,
  defaultHosts: datadogDefaults.hosts,

  validate(secret, where) {
    if (!secret.tokenId) throw missing(where, 'tokenId', "the API key's id, required by provider 'datadog'");
    if (secret.selfRotation) {
      throw new SecretFormatError(
        `${where}: field 'selfRotation' is not supported by provider 'datadog' (managing API keys needs an application key): set 'managementSecretArn'`,
      );
    }
    if (!secret.managementSecretArn) {
      throw missing(where, 'managementSecretArn', "a secret with 'apiKey' and 'appKey' allowed to manage API keys, required by provider 'datadog'");
    }
  },

  managementFields: () => ['apiKey', 'appKey'],

  urls: (secret) => [`${base(secret)}/api/v2/api_keys`, `${base(secret)}/api/v1/validate`],

  async issue(current, session) {
    const req = {
      operation: 'datadog issue',
      method: 'POST',
      url: `${base(current)}/api/v2/api_keys`,
      headers: await managementHeaders(session),
      body: {
        data: { type: 'api_keys', attributes: { name: `${current.keyName ?? apiTokenDefaults.keyName}-${session.rotation}` } },
      },
      idempotent: false,
    };
    const res = await session.http.send(req);
    if (res.status !== 201 && res.status !== 200) throw session.http.unexpected(req, res);
    const key = stringAt(res, 'data', 'attributes', 'key');
    // The new key is registered for masking before anything else happens to the answer.
    const token = key === undefined ? undefined : session.http.secret(key);
    const tokenId = stringAt(res, 'data', 'id');
    if (!token || !tokenId) throw session.http.unexpected(req, res, 'no data.id or data.attributes.key in the response');
    return { token, tokenId };
  },

  async verify(target, session) {
    const req = {
      operation: 'datadog verify',
      method: 'GET',
      url: `${base(target)}/api/v1/validate`,
      headers: { 'DD-API-KEY': target.token },
      idempotent: true,
    };
    const res = await session.http.send(req);
    if (res.status === 200) return { accepted: (res.body as { valid?: unknown } | undefined)?.valid === true };
    if (res.status === 401 || res.status === 403) return { accepted: false };
    throw session.http.unexpected(req, res);
  },

  // Preflight: GET /api/v2/api_keys/{id} (`api_keys_read`) proves the API key and the application
  // key, and that the current key's id exists; the answer holds no key value.
  async checkManagement(current, session) {
    const req = {
      operation: 'datadog get key',
      method: 'GET',
      url: `${base(current)}/api/v2/api_keys/${encodeURIComponent(current.tokenId!)}`,
      headers: await managementHeaders(session),
      idempotent: true,
    };
    const res = await session.http.send(req);
    if (res.status === 200) return { accepted: true, tokenKnown: stringAt(res, 'data', 'id') === current.tokenId };
    if (res.status === 404) return { accepted: true, tokenKnown: false };
    if (res.status === 401 || res.status === 403) return { accepted: false };
    throw session.http.unexpected(req, res);
  },

  async revoke(target, session) {
    const req = {
      operation: 'datadog revoke',
      method: 'DELETE',
      url: `${base(target)}/api/v2/api_keys/${encodeURIComponent(target.tokenId)}`,
      headers: await managementHeaders(session),
      idempotent: true,
    };
    const res = await session.http.send(req);
    if (res.status === 204 || res.status === 200) return RevokeOutcomes.REVOKED;
    if (res.status === 404) return RevokeOutcomes.ALREADY_GONE;
    throw session.http.unexpected(req, res);
  },
};
