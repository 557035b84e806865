import * as z from 'zod/mini';
import '../contract/zodMessages.js';
import { SecretFormatError } from '../core/errors.js';
import { graceHoursField, parseWith } from '../core/secretValue.js';
import { urlProblem, type UrlPolicy } from './urls.js';

/** Defaults of the api-token secret's optional fields. */
export const apiTokenDefaults = {
  /** Prefix of the names Rotor gives the keys it issues (`<keyName>-<rotation token>`). */
  keyName: 'rotor',
} as const;

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** A non-empty string. */
const text = () => z.string().check(z.minLength(1));

/**
 * Printable ASCII: what an HTTP header value can carry. A token, its id and a template's header
 * values go into headers; a control character (CR LF: a header injection; NUL) or a character
 * beyond ASCII would make the request fail half-built, so they are refused here, by field.
 */
export const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
export const PRINTABLE_ASCII_RULE = 'must be printable ASCII (it is sent in HTTP headers)';
const headerText = () => z.string().check(z.regex(PRINTABLE_ASCII, PRINTABLE_ASCII_RULE));
/** An HTTP header name (RFC 9110 token characters). */
const headerName = () => z.string().check(z.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name'));
/** HTTP error statuses (400 to 599). */
const errorStatuses = () => z.array(z.int().check(z.gte(400), z.lte(599)));

const requestTemplate = z.object({
  method: z.enum(HTTP_METHODS),
  url: text(),
  headers: z.optional(z.record(headerName(), headerText())),
  body: z.optional(z.unknown()),
});

/**
 * The generic HTTP provider, configured by data: one request template per operation, and
 * where the token and its id are found in the issue response (a small JSON path).
 */
export const httpProviderSchema = z.object({
  /** true: the provider allows two live tokens (issue new, revoke old after the grace window); false: issuing rolls the token in place. */
  dualActive: z.boolean(),
  issue: z.extend(requestTemplate, {
    tokenPath: text(),
    tokenIdPath: z.optional(text()),
  }),
  verify: z.extend(requestTemplate, {
    /** Statuses that mean "this token is not accepted". @default [401, 403] */
    refusedStatus: z.optional(errorStatuses()),
    /** Where the verified token's id is, to check it is the expected one. */
    tokenIdPath: z.optional(text()),
  }),
  revoke: z.optional(
    z.extend(requestTemplate, {
      /** Statuses that mean "already revoked or unknown". @default [404] */
      goneStatus: z.optional(errorStatuses()),
    }),
  ),
});
export type HttpProviderConfig = z.output<typeof httpProviderSchema>;
export type RequestTemplate = z.output<typeof requestTemplate>;


/**
 * An API token secret. Fields Rotor does not know are kept as they are, so they survive
 * rotation. `issuedAt`, `previousTokenId` and `revokeQueue` are written by Rotor.
 */
export const apiTokenSecretSchema = z.looseObject({
  provider: text(),
  token: text().check(z.regex(PRINTABLE_ASCII, PRINTABLE_ASCII_RULE)),
  tokenId: z.optional(text().check(z.regex(PRINTABLE_ASCII, PRINTABLE_ASCII_RULE))),
  /** ARN of the secret holding the credential that manages tokens (never the token being rotated). */
  managementSecretArn: z.optional(text()),
  /** Explicit opt-in for roll-only providers that only let a token roll itself. */
  selfRotation: z.optional(z.boolean()),
  /**
   * Hours the previous token of a dual-active provider keeps working after a rotation.
   * @default - the secret's rotor:grace-hours tag, else the retire handler's default (24)
   */
  graceperiod: z.optional(graceHoursField),
  baseUrl: z.optional(text()),
  /**
   * With `selfRotation` only (there is no management secret): hosts (`host`, `host:port`,
   * `*.domain`) the token may be sent to.
   * @default - the provider's official API hosts (provider 'http' has none: list them)
   */
  allowedHosts: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(253))).check(z.minLength(1), z.maxLength(50))),
  keyName: z.optional(
    z.string().check(z.minLength(1), z.maxLength(100), z.regex(/^[\w .:-]+$/, 'may hold letters, digits, space and _ . : - only')),
  ),
  http: z.optional(httpProviderSchema),
  /** When Rotor issued this token (ISO 8601): the previous token's grace window starts here. */
  issuedAt: z.optional(z.iso.datetime()),
  /** Dual-active: the id of the token this one replaced (revoked by the retire hook with AWSPREVIOUS). */
  previousTokenId: z.optional(text()),
  /** Ids of older tokens whose revocation failed; retried by the retire hook and the next rotation. */
  revokeQueue: z.optional(z.array(text()).check(z.maxLength(50))),
});

export type ApiTokenSecret = z.output<typeof apiTokenSecretSchema>;

/** How a secret authenticates its management calls: exactly one of the two. */
export type Authentication =
  | { readonly managementSecretArn: string; readonly selfRotation?: never }
  | { readonly selfRotation: true; readonly managementSecretArn?: never };

export function parseApiTokenSecret(value: unknown, where: string, policy: UrlPolicy): ApiTokenSecret {
  const secret = parseWith(apiTokenSecretSchema, value, where);
  if (secret.managementSecretArn !== undefined && secret.selfRotation === true) {
    throw new SecretFormatError(
      `${where}: fields 'managementSecretArn' and 'selfRotation' exclude each other (use one way to authenticate)`,
    );
  }
  if (secret.allowedHosts !== undefined && secret.selfRotation !== true) {
    throw new SecretFormatError(
      `${where}: field 'allowedHosts' is for 'selfRotation' only; with 'managementSecretArn' the hosts are the ` +
        "management secret's 'allowedHosts' (else the provider's official hosts)",
    );
  }
  if (secret.baseUrl !== undefined) checkUrl(secret.baseUrl, 'baseUrl', where, policy);
  return secret;
}

/** Refuses a URL that is not https (http and loopback only under the test opt-in), naming the field. */
export function checkUrl(url: string, field: string, where: string, policy: UrlPolicy): void {
  // Placeholders are checked after filling; here only the template's scheme and host matter.
  const problem = urlProblem(url.replace(/\{\{[^}]*\}\}/g, 'x'), policy);
  if (problem) throw new SecretFormatError(`${where}: field '${field}' ${problem}`);
}

export function missing(where: string, field: string, why: string): SecretFormatError {
  return new SecretFormatError(`${where}: field '${field}' is missing (${why})`);
}

/** A `graceperiod` in milliseconds. */
export function graceMs(graceperiod: number): number {
  return graceperiod * 3_600_000;
}

/**
 * The fields that describe where and how a token is rotated. They must not change between
 * AWSCURRENT and AWSPENDING: a pending value that points the provider or the management
 * credential elsewhere is refused.
 */
export function targetOf(secret: ApiTokenSecret): string {
  return JSON.stringify([
    secret.provider,
    secret.baseUrl ?? null,
    secret.managementSecretArn ?? null,
    secret.selfRotation ?? false,
    secret.http ?? null,
    secret.allowedHosts ?? null,
  ]);
}
