import { SecretFormatError } from '../../core/errors.js';
import type { ProviderRequest } from '../http.js';
import { RevokeOutcomes, type ProviderSession, type TokenProvider } from '../provider.js';
import { checkUrl, missing, type ApiTokenSecret, type HttpProviderConfig, type RequestTemplate } from '../secret.js';
import {
  atJsonPath,
  isKnownPlaceholder,
  parseJsonPath,
  placeholdersIn,
  Placeholders,
  renderJson,
  renderString,
  renderUrl,
  TemplateError,
  type TemplateVars,
} from '../template.js';

/**
 * The generic HTTP provider: configured by data in the secret's `http` field, one request
 * template per operation (issue, verify, revoke), authenticated with `{{management.<field>}}`
 * of the management secret, or with `{{token}}` only when the secret opts in to selfRotation
 * (roll-only providers whose tokens may only roll themselves).
 */
const OPERATIONS = ['issue', 'verify', 'revoke'] as const;

function config(secret: ApiTokenSecret): HttpProviderConfig {
  return secret.http!;
}

const uses = (template: unknown, name: string) => placeholdersIn(template).includes(name);
const usesManagement = (template: unknown) =>
  placeholdersIn(template).some((p) => p.startsWith(Placeholders.MANAGEMENT_PREFIX));

async function vars(target: ApiTokenSecret, template: RequestTemplate, session: ProviderSession): Promise<TemplateVars> {
  return {
    token: target.token,
    tokenId: target.tokenId,
    rotation: session.rotation,
    management: usesManagement(template) ? await session.credential() : undefined,
  };
}

function render(operation: string, template: RequestTemplate, v: TemplateVars, idempotent: boolean): ProviderRequest {
  try {
    return {
      operation,
      method: template.method,
      url: renderUrl(template.url, v),
      headers: template.headers
        ? Object.fromEntries(Object.entries(template.headers).map(([k, value]) => [k, renderString(value, v)]))
        : undefined,
      body: template.body === undefined ? undefined : renderJson(template.body, v),
      idempotent,
    };
  } catch (err) {
    if (err instanceof TemplateError) throw new SecretFormatError(`${operation}: ${err.message}`, { cause: err });
    throw err;
  }
}

function idString(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export const httpProvider: TokenProvider = {
  name: 'http',
  dualActive: (secret) => config(secret).dualActive,
  defaultHosts: [],

  validate(secret, where, policy) {
    const cfg = secret.http;
    if (!cfg) throw missing(where, 'http', "request templates for issue, verify and revoke, required by provider 'http'");
    for (const op of OPERATIONS) {
      const template = cfg[op];
      if (!template) continue;
      for (const name of placeholdersIn(template)) {
        if (!isKnownPlaceholder(name)) {
          throw new SecretFormatError(
            `${where}: field 'http.${op}' uses unknown placeholder {{${name}}} (known: token, tokenId, rotation, management.<field>)`,
          );
        }
      }
      checkUrl(template.url, `http.${op}.url`, where, policy);
      if (/^[^/]*\{\{|^[a-z][a-z0-9+.-]*:\/\/[^/]*\{\{/i.test(template.url)) {
        throw new SecretFormatError(`${where}: field 'http.${op}.url' may not have a placeholder in its scheme or host`);
      }
    }
    try {
      parseJsonPath(cfg.issue.tokenPath);
      if (cfg.issue.tokenIdPath) parseJsonPath(cfg.issue.tokenIdPath);
      if (cfg.verify.tokenIdPath) parseJsonPath(cfg.verify.tokenIdPath);
    } catch (err) {
      throw new SecretFormatError(`${where}: field 'http.issue.tokenPath' or 'tokenIdPath' is invalid: ${(err as Error).message}`);
    }
    if (!uses(cfg.verify, Placeholders.TOKEN)) {
      throw new SecretFormatError(`${where}: field 'http.verify' must send {{token}} (verify proves the token itself works)`);
    }
    if (usesManagement(cfg.verify)) {
      throw new SecretFormatError(`${where}: field 'http.verify' may not use {{management.*}} (verify proves the token by itself)`);
    }
    for (const op of ['issue', 'revoke'] as const) {
      const template = cfg[op];
      if (!template) continue;
      if (uses(template, Placeholders.TOKEN) && secret.selfRotation !== true) {
        throw new SecretFormatError(
          `${where}: field 'http.${op}' sends {{token}}, the token being rotated: that is self-rotation, ` +
            "an explicit opt-in ('selfRotation': true); otherwise authenticate with {{management.<field>}}",
        );
      }
      if (usesManagement(template) && !secret.managementSecretArn) {
        throw missing(where, 'managementSecretArn', `field 'http.${op}' uses {{management.*}}`);
      }
    }
    if (!secret.managementSecretArn && secret.selfRotation !== true) {
      throw missing(where, 'managementSecretArn', "the credential that issues tokens; or 'selfRotation': true for a roll-only provider");
    }
    const templates = [cfg.issue, cfg.verify, cfg.revoke];
    if (templates.some((t) => t && uses(t, Placeholders.TOKEN_ID)) && !secret.tokenId) {
      throw missing(where, 'tokenId', "a template uses {{tokenId}}");
    }
    if (cfg.dualActive) {
      if (secret.selfRotation) {
        throw new SecretFormatError(
          `${where}: field 'selfRotation' is for roll-only providers; a dual-active provider ('http.dualActive': true) needs 'managementSecretArn'`,
        );
      }
      if (!cfg.revoke) throw missing(where, 'http.revoke', 'a dual-active provider revokes the old token after the grace window');
      if (!cfg.issue.tokenIdPath) throw missing(where, 'http.issue.tokenIdPath', 'a dual-active provider revokes tokens by id');
      if (!uses(cfg.revoke, Placeholders.TOKEN_ID)) {
        throw new SecretFormatError(`${where}: field 'http.revoke' must name the token by {{tokenId}}`);
      }
    }
  },

  managementFields(secret) {
    const names = new Set<string>();
    for (const op of ['issue', 'revoke'] as const) {
      for (const p of placeholdersIn(config(secret)[op])) {
        if (p.startsWith(Placeholders.MANAGEMENT_PREFIX)) names.add(p.slice(Placeholders.MANAGEMENT_PREFIX.length));
      }
    }
    return [...names];
  },

  urls(secret) {
    const cfg = config(secret);
    return [cfg.issue, cfg.verify, cfg.revoke].flatMap((t) => (t ? [t.url.replace(/\{\{[^}]*\}\}/g, 'x')] : []));
  },

  async issue(current, session) {
    const template = config(current).issue;
    const req = render('http issue', template, await vars(current, template, session), false);
    const res = await session.http.send(req);
    if (res.status < 200 || res.status > 299) throw session.http.unexpected(req, res);
    const token = atJsonPath(res.body, template.tokenPath);
    // The new token is registered for masking before anything else happens to the answer.
    if (typeof token === 'string' && token.length > 0) session.http.secret(token);
    if (typeof token !== 'string' || token.length === 0) {
      throw session.http.unexpected(req, res, `no string at ${template.tokenPath}`);
    }
    const tokenId = template.tokenIdPath ? idString(atJsonPath(res.body, template.tokenIdPath)) : current.tokenId;
    if (template.tokenIdPath && !tokenId) throw session.http.unexpected(req, res, `no id at ${template.tokenIdPath}`);
    return { token, tokenId };
  },

  async verify(target, session) {
    const template = config(target).verify;
    const req = render('http verify', template, await vars(target, template, session), true);
    const res = await session.http.send(req);
    if ((template.refusedStatus ?? [401, 403]).includes(res.status)) return { accepted: false };
    if (res.status < 200 || res.status > 299) throw session.http.unexpected(req, res);
    const tokenId = template.tokenIdPath ? idString(atJsonPath(res.body, template.tokenIdPath)) : undefined;
    return { accepted: true, tokenId };
  },

  async revoke(target, session) {
    const template = config(target).revoke;
    if (!template) throw new SecretFormatError("http revoke: field 'http.revoke' is missing");
    const req = render('http revoke', template, await vars(target, template, session), true);
    const res = await session.http.send(req);
    if ((template.goneStatus ?? [404]).includes(res.status)) return RevokeOutcomes.ALREADY_GONE;
    if (res.status < 200 || res.status > 299) throw session.http.unexpected(req, res);
    return RevokeOutcomes.REVOKED;
  },
};
