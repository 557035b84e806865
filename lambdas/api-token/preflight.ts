import { finding } from '../contract/index.js';
import type { PreflightContext, PreflightFinding, RotationKind } from '../core/types.js';
import type { ApiTokenKind } from './apiTokenKind.js';
import { ProviderError, ProviderFailures } from './errors.js';
import type { ProviderSession, TokenProvider } from './provider.js';
import type { ApiTokenSecret } from './secret.js';

const { ok, problem, skipped } = finding;

export const ApiTokenChecks = {
  PROVIDER_REACHABLE: 'provider-reachable',
  CURRENT_TOKEN: 'current-token',
  MANAGEMENT_SECRET: 'management-secret',
  MANAGEMENT_CREDENTIAL: 'management-credential',
} as const;

/** The kind's host-restricted sessions (apiTokenKind.ts): no credential is sent outside the allowed hosts. */
export interface PreflightSessions {
  readonly provider: TokenProvider;
  /** For verify: the token only. */
  plain(): Promise<ProviderSession>;
  /** For management calls: reads and checks the management secret first. */
  managed(): Promise<ProviderSession>;
  /** An error as it may be shown: every credential seen masked. */
  safe(err: unknown): Error;
}

const unreachable = (err: unknown) =>
  err instanceof ProviderError && (err.failure === ProviderFailures.UNREACHABLE || err.failure === ProviderFailures.TIMEOUT);

/**
 * The API token kind with its preflight (`rotor preflight`), as the rotation function's entry
 * deploys it (attached there: the emergency and retire functions never preflight and do not carry it).
 */
export function withApiTokenPreflight(kind: ApiTokenKind): RotationKind<ApiTokenSecret> {
  return { ...kind, preflight: (current, ctx) => apiTokenPreflight(current, ctx, kind.sessions(current, ctx)) };
}

/**
 * The API token kind's preflight: the provider answers, it accepts the AWSCURRENT token (the
 * provider's verify, as testSecret asks), the management secret is readable and well-formed, and
 * the provider accepts the management credential (the provider's read-only checkManagement).
 * Nothing is issued, rolled or revoked; every request goes through the kind's sessions, which
 * send credentials only to the allowed hosts (the management secret's allowedHosts, else the
 * provider's official hosts).
 */
export async function apiTokenPreflight(current: ApiTokenSecret, ctx: PreflightContext<ApiTokenSecret>, sessions: PreflightSessions): Promise<PreflightFinding[]> {
  const found: PreflightFinding[] = [];
  const { provider } = sessions;
  const rest = (because: string) =>
    [ApiTokenChecks.CURRENT_TOKEN, ApiTokenChecks.MANAGEMENT_SECRET, ApiTokenChecks.MANAGEMENT_CREDENTIAL]
      .filter((name) => !found.some((f) => f.check === name))
      .map((name) => skipped(name, `not checked: ${because}`));

  ctx.recordLogin();
  let verdict;
  try {
    verdict = await provider.verify(current, await sessions.plain());
  } catch (err) {
    const safe = sessions.safe(err);
    found.push(
      unreachable(err)
        ? problem(
            ApiTokenChecks.PROVIDER_REACHABLE,
            `provider ${provider.name} does not answer from this function's network: ${safe.message}`,
            "check the secret's baseUrl, the function's subnets and routes (NAT or a VPC endpoint to the provider), its security group's egress",
          )
        : problem(
            ApiTokenChecks.PROVIDER_REACHABLE,
            `asking provider ${provider.name} about the AWSCURRENT token failed: ${safe.message}`,
            "see the error: an allowedHosts list (the management secret's) must name the provider's host; the provider's answer must be as documented",
          ),
      ...rest('the provider could not be asked'),
    );
    return found;
  }
  found.push(ok(ApiTokenChecks.PROVIDER_REACHABLE, `provider ${provider.name} answers from this function's network`));
  if (!verdict.accepted) {
    found.push(
      problem(
        ApiTokenChecks.CURRENT_TOKEN,
        `provider ${provider.name} refuses the AWSCURRENT token${current.tokenId ? ` (id ${current.tokenId})` : ''}`,
        current.selfRotation
          ? 'with selfRotation the token rolls itself and must work: roll it by hand in the provider and store the new value as AWSCURRENT'
          : 'store a working token as AWSCURRENT, or rotate now: createSecret issues a new one with the management credential',
      ),
    );
  } else if (verdict.tokenId !== undefined && current.tokenId !== undefined && verdict.tokenId !== current.tokenId) {
    found.push(
      problem(
        ApiTokenChecks.CURRENT_TOKEN,
        `provider ${provider.name} accepts the AWSCURRENT token as token ${verdict.tokenId}, but the secret names token ${current.tokenId}`,
        "correct the secret's tokenId: tokens are revoked by id",
      ),
    );
  } else {
    found.push(ok(ApiTokenChecks.CURRENT_TOKEN, `provider ${provider.name} accepts the AWSCURRENT token`));
  }

  let managed: ProviderSession;
  try {
    managed = await sessions.managed();
  } catch (err) {
    found.push(
      problem(
        ApiTokenChecks.MANAGEMENT_SECRET,
        sessions.safe(err).message,
        "give the construct the management secret (it grants this function GetSecretValue on it) with the fields the provider needs",
      ),
      ...rest('the management secret is not usable'),
    );
    return found;
  }
  found.push(
    ok(
      ApiTokenChecks.MANAGEMENT_SECRET,
      current.selfRotation ? 'selfRotation: the token authenticates its own roll (no management secret)' : `management secret ${current.managementSecretArn} readable, with the fields provider ${provider.name} needs`,
    ),
  );
  if (!provider.checkManagement) {
    found.push(
      skipped(
        ApiTokenChecks.MANAGEMENT_CREDENTIAL,
        `provider ${provider.name} has no read-only request to prove the management credential: createSecret is its first use`,
      ),
    );
    return found;
  }
  ctx.recordLogin();
  try {
    const answer = await provider.checkManagement(current, managed);
    if (!answer.accepted) {
      found.push(
        problem(
          ApiTokenChecks.MANAGEMENT_CREDENTIAL,
          `provider ${provider.name} refuses the management credential${current.selfRotation ? ' (the token itself, selfRotation)' : ` of ${current.managementSecretArn}`}`,
          `store a valid credential there, allowed to manage ${provider.name} tokens`,
        ),
      );
    } else if (answer.tokenKnown === false) {
      found.push(
        problem(
          ApiTokenChecks.MANAGEMENT_CREDENTIAL,
          `provider ${provider.name} accepts the management credential but knows no token with the secret's id ${current.tokenId ?? '(none)'}`,
          "correct the secret's tokenId: the old token is revoked by id after the grace window",
        ),
      );
    } else {
      found.push(ok(ApiTokenChecks.MANAGEMENT_CREDENTIAL, `provider ${provider.name} accepts the management credential`));
    }
  } catch (err) {
    found.push(problem(ApiTokenChecks.MANAGEMENT_CREDENTIAL, `checking the management credential failed: ${sessions.safe(err).message}`, 'see the error'));
  }
  return found;
}
