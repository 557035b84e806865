import type { ProviderHttp } from './http.js';
import type { UrlPolicy } from './urls.js';
import type { ApiTokenSecret } from './secret.js';

/** A token the provider issued (or rolled). */
export interface Issued {
  readonly token: string;
  /** The provider's id of the token, when it has one (needed to revoke it). */
  readonly tokenId?: string;
}

/** What a verify call found: accepted or refused, and the id the provider reports, if any. */
export interface Verdict {
  readonly accepted: boolean;
  readonly tokenId?: string;
}

export const RevokeOutcomes = {
  REVOKED: 'revoked',
  /** The provider does not know the token (already revoked, or never existed). */
  ALREADY_GONE: 'already-gone',
} as const;
export type RevokeOutcome = (typeof RevokeOutcomes)[keyof typeof RevokeOutcomes];

/** What a provider call needs besides the secret. */
export interface ProviderSession {
  readonly http: ProviderHttp;
  /** The rotation's ClientRequestToken (names issued keys, so an operator can trace them). */
  readonly rotation: string;
  /**
   * The management credential's fields (from the secret named by `managementSecretArn`).
   * Providers that allow `selfRotation` use the token itself instead and never call this.
   */
  credential(): Promise<Readonly<Record<string, string>>>;
}

/**
 * A token provider is a small object: issue a new token from the current one, verify a token,
 * revoke a token by id, and whether two tokens may be live at once.
 */
export interface TokenProvider {
  readonly name: string;
  /**
   * true: two tokens may be live at once, so a rotation issues a new one and the old one is
   * revoked after the grace window (dual-active). false: issuing rolls the token, which
   * invalidates the old value at once (single-user).
   */
  dualActive(secret: ApiTokenSecret): boolean;
  /** Provider-specific checks of a parsed secret; throws SecretFormatError naming the field. */
  validate(secret: ApiTokenSecret, where: string, policy: UrlPolicy): void;
  /** Fields the management secret must hold for this provider. */
  managementFields(secret: ApiTokenSecret): readonly string[];
  /**
   * Hosts a credential (the token, a management credential) may be sent to when the management
   * secret (or, with selfRotation, the secret itself) lists no `allowedHosts`: the provider's
   * official API hosts. Empty for a provider without official hosts (the generic `http`).
   */
  readonly defaultHosts: readonly string[];
  /** Every URL the provider would call for this secret (each checked against the allowed hosts before the first request). */
  urls(secret: ApiTokenSecret): string[];
  issue(current: ApiTokenSecret, session: ProviderSession): Promise<Issued>;
  /** Whether the provider accepts `target.token`; throws only when it cannot tell. */
  verify(target: ApiTokenSecret, session: ProviderSession): Promise<Verdict>;
  /** Revokes the token with this id; idempotent. */
  revoke(target: ApiTokenSecret & { tokenId: string }, session: ProviderSession): Promise<RevokeOutcome>;
  /**
   * Preflight: whether the provider accepts the management credential (with selfRotation: the
   * token itself), asked with a read-only request that issues, rolls and revokes nothing. Absent
   * for a provider that has no such request (the generic `http`).
   */
  checkManagement?(current: ApiTokenSecret, session: ProviderSession): Promise<ManagementVerdict>;
}

/** What checkManagement found: accepted or refused, and whether the provider knows the current token's id. */
export interface ManagementVerdict {
  readonly accepted: boolean;
  /** false: the credential was accepted, and the provider does not know the current token's id. */
  readonly tokenKnown?: boolean;
}
