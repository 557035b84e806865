import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { RotationStateError, RotationStepError, UnsafeRotationError } from '../core/errors.js';
import { Redactor } from '../core/redact.js';
import { decodeJson } from '../core/secretValue.js';
import {
  type KindContext,
  type RotationKind,
  type SetContext,
  type TestContext,
} from '../core/types.js';
import { ProviderError, ProviderFailures } from './errors.js';
import { httpDefaults, ProviderHttp, type HostRule, type HttpOptions } from './http.js';
import { IssueJournal } from './journal.js';
import { currentValueReader, readManagement, type ManagementCredential, type SecretReader } from './management.js';
import type { Issued, ProviderSession, TokenProvider } from './provider.js';
import { providerFor } from './providers/index.js';
import { graceMs, parseApiTokenSecret, targetOf, type ApiTokenSecret } from './secret.js';
import type { UrlPolicy } from './urls.js';
import type { PreflightSessions } from './preflight.js';
import type { RetireContext } from '../retire/context.js';
import { KIND_TRAITS, Kinds, loopbackAllowedForTests, RotorMetrics, ServiceNames } from '../contract/index.js';

export const apiTokenKindDefaults = {
  /** testSecret asks the provider this many times before it calls a new token refused. */
  verifyAttempts: 3,
  /** Pause between those attempts (a new key may take a moment to be accepted everywhere). */
  verifyDelayMs: 1_000,
} as const;

export interface ApiTokenKindOptions {
  /** Timeouts, retries and backoff of provider requests. @default httpDefaults */
  readonly http?: Partial<HttpOptions>;
  /** Reads the management secret and, in retire/revoke, AWSCURRENT. @default GetSecretValue with the SDK */
  readonly readSecret?: SecretReader;
  /** @default apiTokenKindDefaults.verifyAttempts */
  readonly verifyAttempts?: number;
  /** @default apiTokenKindDefaults.verifyDelayMs */
  readonly verifyDelayMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default a journal of this kind object, kept by a warm function */
  readonly journal?: IssueJournal;
  /** Where failed revocations are counted. @default Powertools Metrics, namespace Rotor */
  readonly metrics?: Metrics;
  /**
   * The function's environment, read at every hook call for the test opt-in
   * (ROTOR_ALLOW_LOOPBACK_FOR_TESTS=1: http and loopback hosts permitted, still only when allowed).
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Metric emitted (as its own EMF line) every time revoking an old or leaked token fails (the contract's name). */
export const REVOKE_FAILED_METRIC = RotorMetrics.TOKEN_REVOKE_FAILED;


/** Where the hosts of a rotation's management secret are kept between its steps (a warm function). */
type HostRules = Map<string, HostRule>;
const HOST_RULES_KEPT = 64;

/**
 * One hook call's view of the provider: a redactor that knows every credential seen so far
 * (also registered with the engine), the HTTP client, and the management credential, read at
 * most once and only when needed. Every client it hands out is restricted to the allowed hosts,
 * whatever the mode: a request that carries a credential never goes anywhere else.
 */
class Session {
  public readonly redactor = new Redactor();
  private readonly http: ProviderHttp;
  private management?: Promise<ManagementCredential>;

  public constructor(
    private readonly secret: ApiTokenSecret,
    public readonly provider: TokenProvider,
    private readonly ctx: KindContext,
    private readonly options: Required<Pick<ApiTokenKindOptions, 'readSecret'>> & {
      http: HttpOptions;
      policy: UrlPolicy;
      hostRules: HostRules;
    },
  ) {
    this.http = new ProviderHttp(this.redactor, options.http, undefined, options.policy, (v) => this.redact(v));
    this.redact(secret.token);
  }

  public redact(value: string | undefined): void {
    this.redactor.add(value);
    this.ctx.redact(value);
    this.http.know(value);
  }

  /**
   * For verify: no credential but the token itself, sent only to the allowed hosts (read from
   * the management secret, which an earlier step of the same rotation in this warm function
   * usually has read already).
   */
  public async plain(): Promise<ProviderSession> {
    const http = this.restricted(await this.rule(true));
    return {
      http,
      rotation: this.ctx.token,
      credential: () => Promise.reject(new Error(`${this.provider.name}: verify may not use the management credential`)),
    };
  }

  /**
   * For issue and revoke: the management credential (none with selfRotation: the token
   * authenticates itself), and a client that sends requests only to the allowed hosts, every
   * URL of the secret's configuration checked before the first request.
   */
  public async managed(): Promise<ProviderSession> {
    if (this.secret.selfRotation) {
      return { http: this.restricted(await this.rule(false)), rotation: this.ctx.token, credential: () => Promise.resolve({}) };
    }
    const cred = await this.credential();
    if (Object.values(cred.fields).includes(this.secret.token)) {
      throw new UnsafeRotationError(
        `secret ${this.ctx.secretArn}: the management secret holds the token being rotated; that is self-rotation, ` +
          "an explicit opt-in ('selfRotation': true instead of 'managementSecretArn')",
      );
    }
    const http = this.restricted(await this.rule(false));
    return { http, rotation: this.ctx.token, credential: () => Promise.resolve(cred.fields) };
  }

  /** A client restricted to `rule`, after every URL of the configuration has been checked. */
  private restricted(rule: HostRule): ProviderHttp {
    const http = this.http.restrictedTo(rule);
    for (const url of this.provider.urls(this.secret)) http.checkUrl(`${this.provider.name} configuration`, url);
    return http;
  }

  /**
   * Where credentials of this secret may go. selfRotation: the secret's own `allowedHosts`
   * (whoever may write its value already holds the token), else the provider's official hosts.
   * Otherwise: the management secret's `allowedHosts`, else the provider's official hosts.
   */
  private async rule(mayReuse: boolean): Promise<HostRule> {
    const name = this.provider.name;
    const official = this.provider.defaultHosts.length
      ? `so provider ${name}'s official hosts apply: ${this.provider.defaultHosts.join(', ')}`
      : `and provider '${name}' has no official hosts: list the provider's hosts there`;
    if (this.secret.selfRotation) {
      return this.secret.allowedHosts
        ? { hosts: this.secret.allowedHosts, source: "the secret's allowedHosts" }
        : { hosts: this.provider.defaultHosts, source: `the secret's allowedHosts (it lists none, ${official})` };
    }
    const key = `${this.secret.managementSecretArn}\n${this.ctx.token}`;
    const kept = mayReuse && !this.management ? this.options.hostRules.get(key) : undefined;
    if (kept) return kept;
    const cred = await this.credential();
    const rule: HostRule = cred.allowedHosts
      ? { hosts: cred.allowedHosts, source: "the management secret's allowedHosts" }
      : { hosts: this.provider.defaultHosts, source: `the management secret's allowedHosts (it lists none, ${official})` };
    const rules = this.options.hostRules;
    rules.delete(key);
    rules.set(key, rule);
    while (rules.size > HOST_RULES_KEPT) rules.delete(rules.keys().next().value!);
    return rule;
  }

  private credential(): Promise<ManagementCredential> {
    this.management ??= readManagement(
      this.options.readSecret,
      this.secret.managementSecretArn!,
      this.ctx.secretArn,
      this.provider.managementFields(this.secret),
      this.provider.name,
      (v) => this.redact(v),
    );
    return this.management;
  }
}

/**
 * The API token kind. A provider that allows two live tokens rotates dual-active: createSecret
 * issues a new token, the old one keeps working until the retire handler (lambdas/retire) calls
 * the retire hook after the grace window (`graceperiod` hours, else the rotor:grace-hours tag,
 * else 24), which revokes it. A roll-only provider rotates single-user: createSecret rolls the token, which
 * invalidates the old value at once.
 *
 * Why the roll is in createSecret: the new value exists only in the roll's answer, and
 * createSecret is the one step whose result the engine stores at once (PutSecretValue right
 * after the hook returns). A version's value cannot change after it is written, so a roll in
 * setSecret could not be recorded under the rotation's token at all. The window between the
 * roll and the store is one PutSecretValue call; if that call fails, the warm function's
 * journal makes the retried createSecret store the rolled value instead of rolling again. A
 * cold retry finds AWSCURRENT refused: with a management credential it rolls again by token id
 * (the lost value dies with that roll); with selfRotation it cannot, and says so.
 */
/** The API token kind, with the provider sessions its preflight uses (preflight.ts). */
export interface ApiTokenKind extends RotationKind<ApiTokenSecret> {
  /** The provider of `current` and the kind's host-restricted sessions for it (what every hook uses). */
  sessions(current: ApiTokenSecret, ctx: KindContext): PreflightSessions;
}

export function createApiTokenKind(options: ApiTokenKindOptions = {}): ApiTokenKind {
  const http: HttpOptions = { ...httpDefaults, ...options.http };
  const readSecret = options.readSecret ?? currentValueReader();
  const verifyAttempts = options.verifyAttempts ?? apiTokenKindDefaults.verifyAttempts;
  const verifyDelayMs = options.verifyDelayMs ?? apiTokenKindDefaults.verifyDelayMs;
  const now = options.now ?? Date.now;
  const journal = options.journal ?? new IssueJournal();
  let metrics = options.metrics;
  const hostRules: HostRules = new Map();
  const policy = (): UrlPolicy => ({ allowLoopback: loopbackAllowedForTests(options.env ?? process.env) });
  const providerOf = (secret: ApiTokenSecret, where: string) => providerFor(secret, where, policy());

  const open = (secret: ApiTokenSecret, provider: TokenProvider, ctx: KindContext) =>
    new Session(secret, provider, ctx, { readSecret, http, policy: policy(), hostRules });

  function reportRevokeFailure(provider: string): void {
    metrics ??= new Metrics({ namespace: RotorMetrics.NAMESPACE, serviceName: ServiceNames.ROTATION });
    const single = metrics.singleMetric();
    single.addDimensions({ kind: 'api-token', provider });
    single.addMetric(REVOKE_FAILED_METRIC, MetricUnit.Count, 1);
  }

  /** Revokes tokens by id; returns the ids whose revocation failed (logged and counted, not thrown). */
  async function revokeAll(ids: readonly string[], config: ApiTokenSecret, session: Session, managed: ProviderSession, ctx: KindContext) {
    const failed: string[] = [];
    for (const tokenId of ids) {
      try {
        // By id only: the request never carries a token value.
        const outcome = await session.provider.revoke({ ...config, token: '', tokenId }, managed);
        ctx.logger.info('old token revoked', { provider: session.provider.name, tokenId, outcome });
      } catch (err) {
        failed.push(tokenId);
        ctx.logger.warn('revoking an old token failed; the retire handler retries it', {
          provider: session.provider.name,
          tokenId,
          error: session.redactor.error(err),
        });
        reportRevokeFailure(session.provider.name);
      }
    }
    return failed;
  }

  /** AWSCURRENT of the secret, for hooks given only an old value (retire; revoke without ctx.current). */
  async function readCurrent(ctx: KindContext): Promise<ApiTokenSecret> {
    const where = `secret ${ctx.secretArn} (AWSCURRENT)`;
    const { secretString } = await readSecret(ctx.secretArn);
    if (!secretString) throw new RotationStateError(`${where}: no value`);
    const current = parseApiTokenSecret(decodeJson(secretString, where), where, policy());
    ctx.redact(current.token);
    providerOf(current, where);
    return current;
  }

  /**
   * Before an old value's token is revoked by its id: an old value (the leaked one an emergency
   * revokes, the AWSPREVIOUS one the retire run retires) is a version of the secret, which can be
   * written by hand, and a token with the id of another token would have that other one revoked.
   * Asks the provider about the token itself, sent with AWSCURRENT's provider settings:
   * - 'refused': the provider refuses it, nothing to revoke for it;
   * - 'confirmed': accepted, and the provider reports it under the value's own id;
   * - 'unconfirmed': accepted, and the provider reports no id (Datadog; a template without
   *   verify.tokenIdPath), so whose id the value names is the caller's to judge.
   * A token the provider reports under another id is refused (UnsafeRotationError), naming ids only.
   */
  async function askAboutOldToken(
    old: ApiTokenSecret & { tokenId: string },
    what: 'leaked' | 'AWSPREVIOUS',
    current: ApiTokenSecret,
    session: Session,
    ctx: KindContext,
  ): Promise<'refused' | 'confirmed' | 'unconfirmed'> {
    const verdict = await session.provider.verify({ ...current, token: old.token, tokenId: old.tokenId }, await session.plain());
    if (!verdict.accepted) return 'refused';
    if (verdict.tokenId === undefined) return 'unconfirmed';
    if (verdict.tokenId !== old.tokenId) {
      throw new UnsafeRotationError(
        `secret ${ctx.secretArn}: the provider reports the ${what} token as token ${verdict.tokenId}, not ${old.tokenId}; ` +
          'refusing to revoke by id',
      );
    }
    return 'confirmed';
  }

  /**
   * Dual-active createSecret. Older tokens that may still be live:
   * - ids in AWSCURRENT's revokeQueue, revocations that failed after their grace window: retried now;
   * - the token AWSPREVIOUS holds (AWSCURRENT's previousTokenId), about to lose its last label.
   *   The retire hook revokes it in any case (it revokes previous.tokenId and
   *   previous.previousTokenId), so it is revoked here only when the value's own `graceperiod`
   *   says its window, which began when AWSCURRENT was issued, is over.
   * Returns the ids whose revocation failed (logged, counted): the new value's revokeQueue.
   * Needs no Secrets Manager read: the ids are in AWSCURRENT.
   */
  async function settleOldTokens(
    current: ApiTokenSecret,
    ctx: KindContext,
    session: Session,
    managed: ProviderSession | undefined,
  ): Promise<string[]> {
    const due = new Set(current.revokeQueue ?? []);
    const graceEnds =
      current.graceperiod === undefined || !current.issuedAt
        ? undefined
        : Date.parse(current.issuedAt) + graceMs(current.graceperiod);
    if (current.previousTokenId && graceEnds !== undefined && now() >= graceEnds) due.add(current.previousTokenId);
    if (current.tokenId) due.delete(current.tokenId);
    if (due.size === 0) return [];
    return revokeAll([...due], current, session, managed ?? (await session.managed()), ctx);
  }

  function issueFailure(err: unknown, current: ApiTokenSecret): unknown {
    if (err instanceof ProviderError && err.failure === ProviderFailures.REFUSED && current.selfRotation) {
      return new ProviderError(
        `${err.message}. With selfRotation the token rolls itself: if an earlier attempt rolled it and its new ` +
          'value was not stored, roll the token by hand and store the new value as AWSCURRENT',
        { cause: err, failure: err.failure, status: err.status },
      );
    }
    return err;
  }

  return {
    name: Kinds.API_TOKEN,
    strategies: KIND_TRAITS['api-token'].strategies,

    parse(value, where) {
      const secret = parseApiTokenSecret(value, where, policy());
      providerOf(secret, where);
      return secret;
    },

    sensitive: (secret) => [secret.token],

    // What a secret scanner finds is the token itself: its fingerprint tags the secret.
    leakIdentity: (secret) => secret.token,

    // createSecret issues or rolls a token: the engine claims the token first (one issue per rotation).
    issuedId: (secret) => secret.tokenId,

    // The retire handler owns the timing: this is the value's own setting, else its tag or default.
    graceHours: (current) => current.graceperiod,

    async create(current, ctx) {
      const provider = providerOf(current, `secret ${ctx.secretArn} (AWSCURRENT)`);
      const session = open(current, provider, ctx);
      const dualActive = provider.dualActive(current);
      let managed: ProviderSession | undefined;
      let issued: Issued | undefined = journal.recall(ctx.secretArn, ctx.token);
      if (issued) {
        session.redact(issued.token);
        ctx.logger.info('an earlier attempt of this step already issued the token: storing it, not issuing another', {
          provider: provider.name,
          tokenId: issued.tokenId,
        });
      } else {
        managed = await session.managed();
        try {
          issued = await provider.issue(current, managed);
        } catch (err) {
          throw issueFailure(err, current);
        }
        session.redact(issued.token);
        journal.remember(ctx.secretArn, ctx.token, issued);
        ctx.logger.info(dualActive ? 'new token issued' : 'token rolled: its old value no longer works', {
          provider: provider.name,
          tokenId: issued.tokenId,
        });
      }
      const { revokeQueue: _settled, previousTokenId: _replaced, ...rest } = current;
      const pending: ApiTokenSecret = {
        ...rest,
        token: issued.token,
        tokenId: issued.tokenId ?? current.tokenId,
        issuedAt: new Date(now()).toISOString(),
      };
      if (dualActive) {
        if (current.tokenId && current.tokenId !== pending.tokenId) pending.previousTokenId = current.tokenId;
        const failed = await settleOldTokens(current, ctx, session, managed);
        if (failed.length > 0) pending.revokeQueue = failed;
      }
      return pending;
    },

    async set(pending, ctx: SetContext<ApiTokenSecret>) {
      const provider = providerOf(pending, `secret ${ctx.secretArn} (AWSPENDING)`);
      if (targetOf(pending) !== targetOf(ctx.current.value)) {
        throw new UnsafeRotationError(
          `secret ${ctx.secretArn}: provider settings (provider, baseUrl, managementSecretArn, selfRotation, http) ` +
            'differ between AWSCURRENT and AWSPENDING; refusing to use them',
        );
      }
      // The pending value is stored (the engine read it): the journal's copy is not needed.
      journal.forget(ctx.secretArn, ctx.token);
      ctx.logger.info(
        provider.dualActive(pending)
          ? 'the provider issued the pending token in createSecret: nothing to set'
          : 'the token was rolled in createSecret: nothing to set',
        { provider: provider.name },
      );
    },

    async test(pending, ctx: TestContext) {
      const provider = providerOf(pending, `secret ${ctx.secretArn} (AWSPENDING)`);
      const session = await open(pending, provider, ctx).plain();
      for (let attempt = 1; attempt <= verifyAttempts; attempt++) {
        ctx.recordLogin();
        const verdict = await provider.verify(pending, session);
        if (verdict.accepted) {
          if (verdict.tokenId && pending.tokenId && verdict.tokenId !== pending.tokenId) {
            throw new RotationStepError(
              `secret ${ctx.secretArn}: the provider accepted the pending token as token ${verdict.tokenId}, expected ${pending.tokenId}`,
            );
          }
          return;
        }
        if (attempt < verifyAttempts) await new Promise((r) => setTimeout(r, verifyDelayMs));
      }
      throw new RotationStepError(
        `secret ${ctx.secretArn}: ${provider.name} does not accept the pending token (asked ${verifyAttempts} times)`,
      );
    },

    /**
     * Revokes what the previous value leaves live once its grace window is over: AWSCURRENT's
     * revokeQueue (revocations that failed before) and previousTokenId, the AWSPREVIOUS token, and
     * the older token that one replaced (its previousTokenId; live when rotations came faster than
     * retire runs). Revoking an id already gone is a no-op.
     *
     * AWSCURRENT is the reference; AWSPREVIOUS can be written by hand, and every revocation is by
     * id. So the AWSPREVIOUS token's id is revoked only when AWSCURRENT does not name another token
     * as the one it replaced, the provider, asked about the token, does not report it under
     * another id (askAboutOldToken) and, for a provider that reports no ids, AWSCURRENT names that
     * id as the token it replaced. The older id AWSPREVIOUS names is revoked only when AWSPREVIOUS
     * is the value AWSCURRENT replaced and its token is proven to be its id: the provider reports
     * it so, or stops accepting the token once that id is revoked. Anything else is refused
     * (UnsafeRotationError, naming ids, never a token): the run reports this secret failed, and no
     * token of anybody else's is revoked.
     */
    async retire(previous, ctx: RetireContext<ApiTokenSecret>) {
      const current = ctx.current?.value ?? (await readCurrent(ctx));
      const provider = providerOf(current, `secret ${ctx.secretArn} (AWSCURRENT)`);
      const session = open(current, provider, ctx);
      session.redact(previous.token);
      if (!provider.dualActive(current)) {
        ctx.logger.info('roll-only provider: the roll already invalidated the previous token; nothing to retire', {
          provider: provider.name,
        });
        return;
      }
      const where = `secret ${ctx.secretArn}`;
      const previousId =
        previous.tokenId !== undefined && previous.tokenId !== current.tokenId && previous.token !== current.token
          ? previous.tokenId
          : undefined;
      // createSecret records the id of the token a value replaced as the new value's previousTokenId.
      const replacedByCurrent = previousId !== undefined && previousId === current.previousTokenId;
      if (previousId !== undefined && current.previousTokenId !== undefined && !replacedByCurrent) {
        throw new UnsafeRotationError(
          `${where}: AWSPREVIOUS holds token id ${previousId}, but AWSCURRENT names token ${current.previousTokenId} ` +
            'as the one it replaced; refusing to revoke by id',
        );
      }

      let previousLive: 'confirmed' | 'unconfirmed' | undefined;
      if (previousId !== undefined) {
        const verdict = await askAboutOldToken({ ...previous, tokenId: previousId }, 'AWSPREVIOUS', current, session, ctx);
        if (verdict === 'refused') {
          ctx.logger.info('the previous token is already refused: nothing to revoke for it', { provider: provider.name, tokenId: previousId });
        } else if (verdict === 'unconfirmed' && !replacedByCurrent) {
          // AWSCURRENT names no replaced token (it was put by hand): only the provider could vouch.
          throw new UnsafeRotationError(
            `${where}: AWSPREVIOUS holds token id ${previousId}, AWSCURRENT names no token as the one it replaced, ` +
              `and ${provider.name} reports no token ids to confirm whose it is; refusing to revoke by id`,
          );
        } else {
          previousLive = verdict;
        }
      }
      const older = previous.previousTokenId;
      // The ids AWSCURRENT vouches for: its revokeQueue and the token it replaced.
      const trusted = new Set(current.revokeQueue ?? []);
      if (current.previousTokenId) trusted.add(current.previousTokenId);
      if (current.tokenId) trusted.delete(current.tokenId);
      if (previousLive !== undefined) trusted.delete(previousId!);
      const olderDue = older !== undefined && older !== current.tokenId && older !== previousId && !trusted.has(older);
      const olderVouched = olderDue && replacedByCurrent && previousLive === 'confirmed';

      const revoked: string[] = [];
      const failed: string[] = [];
      const revoke = async (ids: readonly string[]) => {
        if (ids.length === 0) return;
        const notRevoked = await revokeAll(ids, current, session, await session.managed(), ctx);
        failed.push(...notRevoked);
        revoked.push(...ids.filter((id) => !notRevoked.includes(id)));
      };
      const failure = () =>
        new RotationStepError(
          `${where}: revoking ${failed.length} old token(s) failed (ids ${failed.join(', ')}); the next retire run retries`,
        );
      // 1. AWSCURRENT's ids, and an older id vouched for by the provider, before the AWSPREVIOUS
      //    token: if the older one fails, the AWSPREVIOUS token stays live to vouch for it next run.
      await revoke([...trusted, ...(olderVouched ? [older!] : [])]);
      if (olderVouched && failed.includes(older!)) throw failure();
      // 2. The AWSPREVIOUS token, which must be refused afterwards.
      if (previousLive !== undefined) await revoke([previousId!]);
      if (failed.length > 0) throw failure();
      if (previousLive !== undefined) {
        const verdict = await provider.verify({ ...current, token: previous.token, tokenId: previousId }, await session.plain());
        if (verdict.accepted) {
          throw new RotationStepError(`${where}: ${provider.name} still accepts the previous token after revoking it`);
        }
      }
      // 3. Without ids from the provider, the older id only now: the AWSPREVIOUS token stopped
      //    working when its id was revoked, so AWSPREVIOUS held that id's token.
      if (olderDue && !olderVouched) {
        if (!(replacedByCurrent && previousLive === 'unconfirmed')) {
          throw new UnsafeRotationError(
            `${where}: AWSPREVIOUS names token ${older} as the one it replaced, but ` +
              (replacedByCurrent
                ? 'its own token is already refused, so nothing proves that it is the value AWSCURRENT replaced'
                : 'it is not the value AWSCURRENT replaced') +
              `; refusing to revoke token ${older} by id (revoke it with the provider by hand if it is this secret's)`,
          );
        }
        await revoke([older!]);
        if (failed.length > 0) throw failure();
      }
      if (revoked.length === 0) {
        ctx.logger.info('nothing to retire: no old token is left to revoke', { provider: provider.name });
        return;
      }
      ctx.logger.info('previous tokens retired', { provider: provider.name, tokenIds: revoked });
    },

    // rotor preflight (preflight.ts, attached by the rotation entry): the same host-restricted
    // sessions as the steps, for the provider, the current token and the management credential.
    sessions(current, ctx) {
      const provider = providerOf(current, `secret ${ctx.secretArn} (AWSCURRENT)`);
      const session = open(current, provider, ctx);
      return { provider, plain: () => session.plain(), managed: () => session.managed(), safe: (err) => session.redactor.error(err) };
    },

    async revoke(leaked, ctx) {
      const current = ctx.current?.value ?? (await readCurrent(ctx));
      const provider = providerOf(current, `secret ${ctx.secretArn} (AWSCURRENT)`);
      const session = open(current, provider, ctx);
      session.redact(leaked.token);
      if (leaked.token === current.token) {
        throw new UnsafeRotationError(
          `secret ${ctx.secretArn}: the leaked token is still AWSCURRENT; rotate the secret first, then revoke`,
        );
      }
      // The provider settings come from AWSCURRENT: a leaked value cannot point the management credential elsewhere.
      const target = { ...current, token: leaked.token, tokenId: leaked.tokenId };
      if (!provider.dualActive(current)) {
        const verdict = await provider.verify(target, await session.plain());
        if (!verdict.accepted) {
          ctx.logger.info('the leaked token is already refused (the roll invalidated it)', { provider: provider.name });
          return;
        }
        throw new UnsafeRotationError(
          `secret ${ctx.secretArn}: ${provider.name} still accepts the leaked token; it shares its id with the current ` +
            'token, so it cannot be revoked alone: rotate the secret (a roll invalidates it)',
        );
      }
      if (!leaked.tokenId || leaked.tokenId === current.tokenId) {
        throw new UnsafeRotationError(
          `secret ${ctx.secretArn}: the leaked token has no id or the id of the current token; refusing to revoke by id`,
        );
      }
      // Revoking is by id: ask the provider about the leaked token first (askAboutOldToken). An
      // 'unconfirmed' answer (the provider reports no ids) is revoked as before; the retire hook,
      // which has AWSCURRENT's record of the token it replaced, is stricter.
      if ((await askAboutOldToken({ ...leaked, tokenId: leaked.tokenId }, 'leaked', current, session, ctx)) === 'refused') {
        ctx.logger.info('the leaked token is already refused: nothing to revoke', { provider: provider.name, tokenId: leaked.tokenId });
        return;
      }
      const failed = await revokeAll([leaked.tokenId], current, session, await session.managed(), ctx);
      if (failed.length > 0) {
        throw new RotationStepError(`secret ${ctx.secretArn}: revoking the leaked token ${leaked.tokenId} failed`);
      }
      const verdict = await provider.verify(target, await session.plain());
      if (verdict.accepted) {
        throw new RotationStepError(`secret ${ctx.secretArn}: ${provider.name} still accepts the leaked token after revoking it`);
      }
      ctx.logger.info('leaked token revoked', { provider: provider.name, tokenId: leaked.tokenId });
    },
  };
}

/** The API token kind with default settings (what the Lambda handler uses). */
export const apiTokenKind = createApiTokenKind();
