import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CLAIM_STAGE, newClaimOwner, releaseClaim, takeClaim } from './claim.js';
import { InvalidEventError, ReplicaSyncError, RotationStateError, RotationStepError, RotorError, SecretFormatError } from './errors.js';
import { describeReplicas, waitForReplicas } from './replication.js';
import { Bounds, RotorMetrics, settings as contractSettings } from '../contract/index.js';
import { Redactor } from './redact.js';
import { RotationCache } from './rotationCache.js';
import { readSecretValue } from './secretValue.js';
import { SecretsApi, versionWithStage, type SecretDescription } from './secretsApi.js';
import type { Settings } from './settings.js';
import type { FingerprintKey, FingerprintKeySource } from './fingerprint.js';
import {
  RotorTags,
  Stages,
  Steps,
  type KindContext,
  type RotationEvent,
  type RotationKind,
  type SecretVersion,
  type Step,
} from './types.js';
import { secretNameOf } from './labels.js';

/** Bounds of the engine's own waiting and retrying (see EngineDeps). */
export const engineDefaults = {
  /**
   * A createSecret that lost the claim of its token to a concurrent invocation waits at most this
   * long for the winner's pending value before it fails (Secrets Manager retries the step).
   */
  claimWaitMs: 10_000,
  claimPollMs: 250,
  /** The claim's lease when the invocation's deadline is unknown: a Lambda runs at most 15 minutes. */
  claimLeaseMs: 15 * 60 * 1000,
  /** PutSecretValue of a pending value that holds an issued credential: attempts in all. */
  storeAttempts: 5,
  /** First pause between those attempts (doubled each time); the SDK's own retries come first. */
  storeBackoffMs: 200,
  /** Time kept in hand before the invocation's deadline: no store retry starts later than this. */
  deadlineMarginMs: 2_000,
  /** finishSecret of a secret with replicas: longest wait for every replica InSync, and the poll interval. */
  replicaSyncWaitMs: Bounds.replicaSync.waitMs,
  replicaSyncPollMs: Bounds.replicaSync.pollMs,
} as const;

export type EngineBounds = { -readonly [K in keyof typeof engineDefaults]: number };

/** Metric emitted (as its own EMF line) when an issued credential could not be stored. */
export const PENDING_STORE_FAILED_METRIC = RotorMetrics.PENDING_STORE_FAILED;

/** The parts of the Lambda context the engine uses. */
export interface Invocation {
  getRemainingTimeInMillis?(): number;
}

export interface EngineDeps {
  readonly client: SecretsManagerClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly settings: () => Settings;
  readonly cache: RotationCache;
  /** How long a read-only step (testSecret) may reuse the DescribeSecret of the step before it. */
  readonly descriptionReuseMs: number;
  /** Waiting and retry bounds. @default engineDefaults */
  readonly bounds?: Partial<EngineBounds>;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Rotor's fingerprint key (kinds with a leak identity). @default - none: no fingerprint tags are written */
  readonly fingerprintKey?: FingerprintKeySource;
}

/** What a step reports when it ends (also logged). */
export interface StepOutcome {
  readonly step: Step;
  readonly secretArn: string;
  readonly token: string;
  readonly outcome: 'done' | 'already-current' | 'pending-exists';
  readonly secretsManagerCalls: number;
  readonly logins: number;
  readonly durationMs: number;
}

const STEP_NAMES: readonly string[] = Object.values(Steps);

/**
 * Longest value of each event field: Secrets Manager's own limits (a secret ARN or name is at most
 * 2048 characters, a ClientRequestToken 64), and the longest step name, with room.
 */
const EVENT_FIELD_LIMITS = { SecretId: 2048, ClientRequestToken: 64, Step: 64 } as const;

/** What kind of value was found, in words (an error names the kind, never the value). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Checks the shape of the event Secrets Manager sent before anything else is done. Errors name the
 * field and the kind of value found; an unknown step is quoted only when it is a plain word (a
 * manual invocation may put anything there).
 */
export function validateEvent(event: unknown): RotationEvent {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidEventError(`rotation event must be an object with SecretId, ClientRequestToken and Step, got ${kindOf(event)}`);
  }
  const e = event as Record<string, unknown>;
  for (const field of ['SecretId', 'ClientRequestToken', 'Step'] as const) {
    const value = e[field];
    if (value === undefined || value === null) throw new InvalidEventError(`rotation event: field '${field}' is missing`);
    if (typeof value !== 'string') {
      throw new InvalidEventError(`rotation event: field '${field}' must be a string, got ${kindOf(value)}`);
    }
    if (value === '') throw new InvalidEventError(`rotation event: field '${field}' is empty`);
    if (value.length > EVENT_FIELD_LIMITS[field]) {
      throw new InvalidEventError(`rotation event: field '${field}' is longer than ${EVENT_FIELD_LIMITS[field]} characters`);
    }
  }
  if (!STEP_NAMES.includes(e.Step as string)) {
    const shown = /^[A-Za-z]{1,32}$/.test(e.Step as string) ? ` '${e.Step as string}'` : '';
    throw new InvalidEventError(`rotation event: unknown step${shown} (expected one of ${STEP_NAMES.join(', ')})`);
  }
  return e as unknown as RotationEvent;
}

/**
 * Runs one step of the four-step protocol for a kind. Validates the secret's state first,
 * makes every step idempotent, and rethrows failures as RotorErrors with every secret value
 * redacted.
 */
export async function runStep<S>(
  kind: RotationKind<S>,
  rawEvent: unknown,
  deps: EngineDeps,
  invocation: Invocation = {},
): Promise<StepOutcome> {
  const started = Date.now();
  const redactor = new Redactor();
  const api = new SecretsApi(deps.client);
  let logins = 0;
  let event: RotationEvent | undefined;
  try {
    event = validateEvent(rawEvent);
    deps.logger.appendKeys({ step: event.Step, secretId: event.SecretId, token: event.ClientRequestToken, kind: kind.name });
    deps.logger.info('rotation step started');
    const settings = deps.settings();
    const run = new StepRun(kind, event, deps, api, redactor, settings.strategy, () => logins++, invocation);
    const outcome = await run.execute(settings);
    const result: StepOutcome = {
      step: event.Step,
      secretArn: run.secretArn,
      token: event.ClientRequestToken,
      outcome,
      secretsManagerCalls: api.calls,
      logins,
      durationMs: Date.now() - started,
    };
    deps.logger.info('rotation step finished', {
      outcome,
      secretsManagerCalls: api.calls,
      logins,
      durationMs: result.durationMs,
    });
    record(deps.metrics, kind.name, event.Step, RotorMetrics.STEP_SUCCEEDED, result);
    if (event.Step === Steps.FINISH && (outcome === 'done' || run.finishedRotation)) perSecret(deps.metrics, kind.name, run.secretArn, RotorMetrics.ROTATION_FINISHED);
    return result;
  } catch (err) {
    const safe = toSafeError(err, redactor, event, kind.name);
    if (event) await recordFailure(api, event, safe, deps);
    deps.logger.error('rotation step failed', {
      error: safe,
      secretsManagerCalls: api.calls,
      logins,
      durationMs: Date.now() - started,
    });
    if (event) perSecret(deps.metrics, kind.name, event.SecretId, RotorMetrics.ROTATION_STEP_FAILED);
    record(deps.metrics, kind.name, event?.Step ?? 'unknown', RotorMetrics.STEP_FAILED, {
      secretsManagerCalls: api.calls,
      logins,
      durationMs: Date.now() - started,
    });
    throw safe;
  } finally {
    deps.logger.removeKeys(['step', 'secretId', 'token', 'kind']);
  }
}

/**
 * Marks the secret with the failed step (RotorTags.LAST_FAILURE: step, time, error name; never
 * a message, which might quote the target's answer), so that `rotor audit` finds failed
 * rotations without searching logs. Best effort: a failure to tag is logged, never thrown over
 * the step's own error.
 */
async function recordFailure(api: SecretsApi, event: RotationEvent, error: RotorError, deps: EngineDeps): Promise<void> {
  const value = `${event.Step} ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')} ${error.name}`.slice(0, 256);
  try {
    await api.tag(event.SecretId, { [RotorTags.LAST_FAILURE]: value });
  } catch (err) {
    deps.logger.warn('could not record the failure on the secret', { tag: RotorTags.LAST_FAILURE, error: (err as Error).name });
  }
}

function record(
  metrics: Metrics,
  kind: string,
  step: string,
  name: typeof RotorMetrics.STEP_SUCCEEDED | typeof RotorMetrics.STEP_FAILED,
  figures: { secretsManagerCalls: number; logins: number; durationMs: number },
): void {
  metrics.addDimensions({ kind, step });
  metrics.addMetric(name, MetricUnit.Count, 1);
  metrics.addMetric(RotorMetrics.SECRETS_MANAGER_CALLS, MetricUnit.Count, figures.secretsManagerCalls);
  metrics.addMetric(RotorMetrics.LOGINS, MetricUnit.Count, figures.logins);
  metrics.addMetric(RotorMetrics.STEP_DURATION, MetricUnit.Milliseconds, figures.durationMs);
}

/** A per-secret count (MetricDimensions.SECRET), in a record of its own: the step's record keeps its dimensions. */
function perSecret(metrics: Metrics, kind: string, secretId: string, name: typeof RotorMetrics.ROTATION_FINISHED | typeof RotorMetrics.ROTATION_STEP_FAILED): void {
  const single = metrics.singleMetric();
  single.addDimensions({ kind, secret: secretNameOf(secretId) ?? secretId });
  single.addMetric(name, MetricUnit.Count, 1);
}


/** Errors leave the engine as RotorErrors whose message and cause chain hold no secret value. */
function toSafeError(err: unknown, redactor: Redactor, event: RotationEvent | undefined, kind: string): RotorError {
  const where = event ? `${kind} ${event.Step} for secret ${event.SecretId}` : `${kind} rotation`;
  if (err instanceof RotorError) return err.masked(redactor);
  const cause = redactor.error(err);
  return new RotationStepError(`${where} failed: ${cause.message}`, { cause });
}

/** One step of one rotation: the state it reads and the protocol it follows. */
class StepRun<S> {
  public secretArn: string;
  /** An already-current finishSecret that completed a rotation whose first finishSecret failed waiting for replicas. */
  public finishedRotation = false;
  private readonly where: string;
  private readonly cached;

  public constructor(
    private readonly kind: RotationKind<S>,
    private readonly event: RotationEvent,
    private readonly deps: EngineDeps,
    private readonly api: SecretsApi,
    private readonly redactor: Redactor,
    private readonly strategy: KindContext['strategy'],
    private readonly countLogin: () => void,
    private readonly invocation: Invocation,
  ) {
    this.secretArn = event.SecretId;
    this.where = `secret ${event.SecretId}`;
    this.cached = deps.cache.get(event.SecretId, event.ClientRequestToken);
    this.bounds = { ...engineDefaults, ...deps.bounds };
  }

  private readonly bounds: EngineBounds;

  /** The rotation finished: an earlier failure recorded on the secret is history (its log lines keep it). */
  private async clearRecordedFailure(description: SecretDescription): Promise<void> {
    if (description.tags[RotorTags.LAST_FAILURE] === undefined) return;
    await this.api.untag(this.event.SecretId, [RotorTags.LAST_FAILURE]).catch((err: unknown) =>
      this.deps.logger.warn('could not clear the recorded failure', { tag: RotorTags.LAST_FAILURE, error: (err as Error).name }),
    );
  }

  /** Milliseconds until this invocation's deadline (undefined outside Lambda). */
  private remainingMs(): number | undefined {
    const ms = this.invocation.getRemainingTimeInMillis?.();
    return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : undefined;
  }

  private sleep(ms: number): Promise<void> {
    return (this.deps.sleep ?? ((t: number) => new Promise<void>((r) => setTimeout(r, t))))(ms);
  }

  public async execute(settings: Settings): Promise<StepOutcome['outcome']> {
    const { Step: step, ClientRequestToken: token } = this.event;
    const description = await this.describe(step === Steps.TEST);
    this.secretArn = description.arn;
    if (!description.rotationEnabled) {
      throw new RotationStateError(`${this.where}: rotation is not enabled`);
    }
    const stages = description.versions[token];
    if (!stages) {
      throw new RotationStateError(`${this.where}: token ${token} is not a version of this secret`);
    }
    if (stages.includes(Stages.CURRENT)) {
      if (step === Steps.FINISH && stages.includes(Stages.PENDING)) {
        // A finishSecret that stopped between its two label moves: finish tidying.
        await this.api.moveStage(this.event.SecretId, Stages.PENDING, { from: token });
      }
      if (step === Steps.FINISH && this.kind.leakIdentity) {
        // One that stopped after moving AWSCURRENT may not have tagged: the emergency handler
        // finds the secret by the fingerprints of this rotation's values.
        const raw = await this.read(token, Stages.CURRENT);
        if (raw !== undefined) {
          await this.tagFingerprints(description, this.parse(raw, Stages.CURRENT), versionWithStage(description, Stages.PREVIOUS), true);
        }
      }
      // A finishSecret delivered again after the one that moved AWSCURRENT stopped (or failed
      // waiting for replicas): wait for them again, then clear a failure recorded before.
      if (step === Steps.FINISH) {
        await this.awaitReplicas(description, true);
        // The finishSecret that moved AWSCURRENT failed waiting for replicas: this retry finishes the rotation.
        this.finishedRotation = /^finishSecret \S+ ReplicaSyncError$/.test(description.tags[RotorTags.LAST_FAILURE] ?? '');
      }
      if (step === Steps.FINISH) await this.clearRecordedFailure(description);
      this.deps.logger.info('token is already AWSCURRENT: nothing to do');
      this.deps.cache.forget(this.event.SecretId, token);
      return 'already-current';
    }
    if (!stages.includes(Stages.PENDING)) {
      throw new RotationStateError(`${this.where}: token ${token} is not staged AWSPENDING`);
    }
    switch (step) {
      case Steps.CREATE:
        return this.create(description, settings);
      case Steps.SET:
        await this.kind.set(await this.pending(), {
          ...this.context(),
          current: await this.current(description),
          previous: () => this.previous(description),
          readSecret: (id) => this.readOther(id),
          history: () => this.history(description),
        });
        return 'done';
      case Steps.TEST:
        await this.kind.test(await this.pending(), this.context());
        // The proof finishSecret asks for: kept by this warm function, free of calls and logins.
        this.cached.proven = true;
        return 'done';
      case Steps.FINISH:
        return this.finish(description);
    }
  }

  private async describe(mayReuse: boolean): Promise<SecretDescription> {
    const now = Date.now();
    if (mayReuse) {
      const reused = RotationCache.freshDescription(this.cached, now, this.deps.descriptionReuseMs);
      if (reused) return reused;
    }
    const description = await this.api.describe(this.event.SecretId);
    this.cached.description = description;
    this.cached.describedAt = now;
    return description;
  }

  private context(): KindContext {
    return {
      secretArn: this.secretArn,
      token: this.event.ClientRequestToken,
      strategy: this.strategy,
      logger: this.deps.logger,
      recordLogin: this.countLogin,
      redact: (value) => this.redactor.add(value),
      recordMetric: (name, value) => {
        const single = this.deps.metrics.singleMetric();
        single.addDimensions({ kind: this.kind.name });
        single.addMetric(name, MetricUnit.Count, value);
      },
    };
  }

  private parse(secretString: string | undefined, label: string, secretId = this.secretArn): S {
    return readSecretValue(this.kind, secretString, `secret ${secretId} (${label})`, this.redactor);
  }

  private async read(versionId: string, stage: (typeof Stages)[keyof typeof Stages] | undefined): Promise<string | undefined> {
    const hit = this.cached.values.get(versionId);
    if (hit !== undefined) return hit;
    const value = await this.api.getValue(this.event.SecretId, versionId, stage);
    if (value !== undefined) this.cached.values.set(versionId, value);
    return value;
  }

  private async current(description: SecretDescription): Promise<SecretVersion<S>> {
    const versionId = versionWithStage(description, Stages.CURRENT);
    if (!versionId) throw new RotationStateError(`${this.where}: no version is staged AWSCURRENT`);
    const raw = await this.read(versionId, Stages.CURRENT);
    if (raw === undefined) throw new RotationStateError(`${this.where}: the AWSCURRENT version has no value`);
    return { versionId, value: this.parse(raw, Stages.CURRENT) };
  }

  private async pending(): Promise<S> {
    const raw = await this.read(this.event.ClientRequestToken, Stages.PENDING);
    if (raw === undefined) {
      throw new RotationStateError(
        `${this.where}: the AWSPENDING version has no value yet (createSecret has not run for this token)`,
      );
    }
    return this.parse(raw, Stages.PENDING);
  }

  private async previous(description: SecretDescription): Promise<SecretVersion<S> | undefined> {
    const versionId = versionWithStage(description, Stages.PREVIOUS);
    if (!versionId) return undefined;
    const raw = await this.read(versionId, Stages.PREVIOUS);
    return raw === undefined ? undefined : { versionId, value: this.parse(raw, Stages.PREVIOUS) };
  }

  /** Versions other than AWSCURRENT, AWSPREVIOUS and this token, newest first (see SetContext.history). */
  private async *history(description: SecretDescription): AsyncGenerator<SecretVersion<S>> {
    const skip = new Set([
      this.event.ClientRequestToken,
      versionWithStage(description, Stages.CURRENT),
      versionWithStage(description, Stages.PREVIOUS),
    ]);
    const versions = await this.api.listVersions(this.event.SecretId);
    for (const version of versions) {
      if (skip.has(version.versionId) || version.stages.includes(CLAIM_STAGE)) continue;
      const raw = await this.read(version.versionId, undefined);
      if (raw === undefined) continue;
      let value: S;
      try {
        value = this.parse(raw, `version ${version.versionId}`);
      } catch (err) {
        if (err instanceof SecretFormatError) continue; // a claim, or a value of another shape
        throw err;
      }
      yield { versionId: version.versionId, value };
    }
  }

  private async readOther(secretId: string): Promise<S> {
    const raw = await this.api.getValue(secretId, undefined, Stages.CURRENT);
    if (raw === undefined) throw new RotationStateError(`secret ${secretId}: no AWSCURRENT value`);
    return this.parse(raw, Stages.CURRENT, secretId);
  }

  private async create(description: SecretDescription, settings: Settings): Promise<StepOutcome['outcome']> {
    const token = this.event.ClientRequestToken;
    const current = await this.current(description);
    const existing = await this.read(token, Stages.PENDING);
    if (existing !== undefined) {
      this.parse(existing, Stages.PENDING);
      this.deps.logger.info('a pending value exists for this token: kept');
      return 'pending-exists';
    }
    let claim: { purpose: string; owner: string; attempt: number } | undefined;
    if (this.kind.issuedId && !this.cached.claimed) {
      // Only one invocation may issue for this token: a duplicate delivery running at the same
      // time must not issue (or roll) a second credential.
      const purpose = `create:${token}`;
      const owner = newClaimOwner();
      const outcome = await takeClaim(this.api, this.event.SecretId, {
        purpose,
        owner,
        leaseMs: this.remainingMs() ?? this.bounds.claimLeaseMs,
        existingVersionIds: Object.keys(description.versions),
      });
      if (!outcome.won) return this.awaitPending(outcome.heldUntil);
      claim = { purpose, owner, attempt: outcome.attempt };
      this.cached.claimed = true;
    }
    try {
      const pending = await this.kind.create(current.value, {
        ...this.context(),
        previous: () => this.previous(description),
        randomPassword: async () => {
          const password = await this.api.randomPassword(settings.passwordPolicy);
          this.redactor.add(password);
          return password;
        },
      });
      for (const s of this.kind.sensitive(pending)) this.redactor.add(s);
      return await this.store(pending);
    } catch (err) {
      if (claim) {
        // This attempt failed and returns: a retry may start at once, so end the lease now.
        this.cached.claimed = false;
        await releaseClaim(this.api, this.event.SecretId, claim).catch((e: unknown) =>
          this.deps.logger.warn('releasing the createSecret claim failed; it ends with its lease', {
            error: this.redactor.error(e),
          }),
        );
      }
      throw err;
    }
  }

  /**
   * Another invocation holds this token's createSecret claim: wait, bounded, for the value it
   * stores; nothing is issued here.
   */
  private async awaitPending(heldUntil: number | undefined): Promise<StepOutcome['outcome']> {
    const token = this.event.ClientRequestToken;
    const remaining = this.remainingMs();
    const limit = Math.min(
      Date.now() + this.bounds.claimWaitMs,
      heldUntil ?? Number.POSITIVE_INFINITY,
      remaining === undefined ? Number.POSITIVE_INFINITY : Date.now() + remaining - this.bounds.deadlineMarginMs,
    );
    this.deps.logger.info('another invocation is creating the pending value for this token: waiting for it', {
      claimedUntil: heldUntil === undefined ? undefined : new Date(heldUntil).toISOString(),
    });
    for (let polls = 0; polls < 10_000; polls++) {
      const found = await this.api.getValue(this.event.SecretId, token, Stages.PENDING);
      if (found !== undefined) {
        this.parse(found, Stages.PENDING);
        this.cached.values.set(token, found);
        this.deps.logger.info('the concurrent invocation stored the pending value: kept');
        return 'pending-exists';
      }
      if (Date.now() + this.bounds.claimPollMs > limit) break;
      await this.sleep(this.bounds.claimPollMs);
    }
    throw new RotationStateError(
      `${this.where}: another invocation holds the createSecret claim of token ${token}` +
        `${heldUntil === undefined ? '' : ` until ${new Date(heldUntil).toISOString()}`} and has not stored a pending value yet; ` +
        'nothing was issued here, and a retry of this step picks up its result (or takes over once its lease runs out)',
    );
  }

  /**
   * PutSecretValue of the pending value. A concurrent duplicate that stored first (AWS refuses a
   * reused token with a different value) wins: its value is kept. For kinds that issued a
   * credential, a failed store is retried within the invocation's deadline, then reported with
   * the credential's id (PendingStoreFailed), since a cold retry cannot recover the value.
   */
  private async store(pending: S): Promise<StepOutcome['outcome']> {
    const token = this.event.ClientRequestToken;
    const secretString = JSON.stringify(pending);
    const issuedId = this.kind.issuedId?.(pending);
    const attempts = this.kind.issuedId ? this.bounds.storeAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.api.putPending(this.event.SecretId, token, secretString, Stages.PENDING);
        this.cached.values.set(token, secretString);
        return 'done';
      } catch (err) {
        if ((err as Error).name === 'ResourceExistsException') {
          const stored = await this.api.getValue(this.event.SecretId, token, Stages.PENDING);
          if (stored === undefined) throw err;
          this.parse(stored, Stages.PENDING);
          this.cached.values.set(token, stored);
          if (issuedId !== undefined) {
            this.deps.logger.warn('a concurrent invocation stored another pending value first; the credential issued here is not used', {
              issuedId,
            });
          } else {
            this.deps.logger.info('a concurrent invocation stored the pending value first: kept');
          }
          return 'pending-exists';
        }
        const remaining = this.remainingMs();
        const pause = this.bounds.storeBackoffMs * 2 ** (attempt - 1);
        const timeLeft = remaining === undefined || remaining - pause > this.bounds.deadlineMarginMs;
        if (attempt < attempts && retryable(err) && timeLeft) {
          this.deps.logger.warn('storing the pending value failed: retrying', { attempt, issuedId, error: this.redactor.error(err) });
          await this.sleep(pause);
          continue;
        }
        if (this.kind.issuedId) {
          const single = this.deps.metrics.singleMetric();
          single.addDimensions({ kind: this.kind.name });
          single.addMetadata('secretId', this.event.SecretId);
          if (issuedId !== undefined) single.addMetadata('issuedId', issuedId);
          single.addMetric(PENDING_STORE_FAILED_METRIC, MetricUnit.Count, 1);
          this.deps.logger.error('the new credential was issued but could not be stored', { issuedId, attempts: attempt });
          throw new RotationStepError(
            `${this.where}: the new credential${issuedId ? ` (id ${issuedId})` : ''} was issued but storing it as AWSPENDING ` +
              `failed ${attempt} time(s) (${this.redactor.error(err).message}); ` +
              'see the README, "When a pending value cannot be stored"',
            { cause: err },
          );
        }
        throw err;
      }
    }
  }

  private async finish(description: SecretDescription): Promise<StepOutcome['outcome']> {
    const token = this.event.ClientRequestToken;
    const currentId = versionWithStage(description, Stages.CURRENT);
    await this.proveBeforeFinish();
    // Read while the version is still staged AWSPENDING: a cold function has no cached copy, and
    // after the moves below a read naming AWSPENDING is refused.
    const pending = this.kind.leakIdentity ? await this.pending() : undefined;
    await this.api.moveStage(this.event.SecretId, Stages.CURRENT, { to: token, from: currentId });
    await this.api.moveStage(this.event.SecretId, Stages.PENDING, { from: token });
    this.deps.logger.info('AWSCURRENT moved to the new version', { previousVersionId: currentId });
    if (pending !== undefined) await this.tagFingerprints(description, pending, currentId, false);
    await this.awaitReplicas(description, false);
    await this.clearRecordedFailure(description);
    this.deps.cache.forget(this.event.SecretId, token);
    return 'done';
  }

  /**
   * Tags the secret with the keyed fingerprints of the leak identities of AWSCURRENT (`current`)
   * and AWSPREVIOUS (the version `previousId`), read from this rotation's cache where the earlier
   * steps ran here. `unlessTagged`: only when the tags DescribeSecret answered say otherwise.
   *
   * A rotation never fails because of its fingerprints: without a readable key (the variable
   * unset, the key secret missing or not readable) the rotation finishes, the error is logged,
   * and the fingerprint tags are removed, since they no longer name the secret's values (a stale
   * `fp-current` would make the emergency handler take AWSPREVIOUS for AWSCURRENT). The secret
   * is then found by its name only until a rotation with a readable key tags it again. No plain
   * SHA-256 tag is ever written.
   */
  private async tagFingerprints(description: SecretDescription, current: S, previousId: string | undefined, unlessTagged: boolean): Promise<void> {
    const identity = this.kind.leakIdentity;
    if (!identity) return;
    const key = await this.fingerprintKey();
    if (!key) {
      const stale = [RotorTags.FINGERPRINT_CURRENT, RotorTags.FINGERPRINT_PREVIOUS].filter((k) => description.tags[k] !== undefined);
      if (stale.length > 0) {
        await this.api.untag(this.event.SecretId, stale).catch((err: unknown) =>
          this.deps.logger.warn('could not remove the fingerprint tags', { error: (err as Error).name }),
        );
      }
      return;
    }
    const tags: Record<string, string> = { [RotorTags.FINGERPRINT_CURRENT]: key.fingerprint(identity(current)) };
    if (previousId) {
      const old = await this.read(previousId, Stages.PREVIOUS).catch(() => undefined);
      if (old !== undefined) tags[RotorTags.FINGERPRINT_PREVIOUS] = key.fingerprint(identity(this.parse(old, Stages.PREVIOUS)));
    }
    if (unlessTagged && Object.entries(tags).every(([k, value]) => description.tags[k] === value)) return;
    await this.api.tag(this.event.SecretId, tags);
    if (unlessTagged) this.deps.logger.info('fingerprint tags written: an earlier finishSecret stopped before tagging');
  }

  /** The fingerprint key, or undefined (logged) when there is none or it cannot be read. */
  private async fingerprintKey(): Promise<FingerprintKey | undefined> {
    const source = this.deps.fingerprintKey;
    const before = source?.reads ?? 0;
    try {
      const key = await source?.();
      if (key) {
        key.registerWith(this.redactor);
        return key;
      }
      this.deps.logger.warn(`no fingerprint key configured (${contractSettings.fingerprintKeyArn.name}): fingerprint tags are not written`);
    } catch (err) {
      this.deps.logger.error('fingerprint tags not written: the rotation finishes without them', { error: this.redactor.error(err) });
    } finally {
      // Once per container, not per rotation: reported on its own line, outside the step's
      // steady-state count (secretsManagerCalls), which it would otherwise raise on a cold start only.
      const reads = (source?.reads ?? 0) - before;
      if (reads > 0) this.deps.logger.info('fingerprint key read (kept for the life of this container)', { fingerprintKeyReads: reads });
    }
    const single = this.deps.metrics.singleMetric();
    single.addDimensions({ kind: this.kind.name });
    single.addMetric(RotorMetrics.FINGERPRINT_TAGS_SKIPPED, MetricUnit.Count, 1);
    return undefined;
  }

  /**
   * A secret with replicas is rotated only once Secrets Manager reports every replica InSync:
   * until then a client in a replica's region reads the old AWSCURRENT. Bounded (engineDefaults
   * replicaSync*, and the invocation's deadline); a Failed replica stops the wait at once. Either
   * failure fails the step with the regions and their states, after AWSCURRENT moved on the
   * primary, so Secrets Manager's retry of finishSecret (token already AWSCURRENT) waits again.
   * `fresh`: the description was read after AWSCURRENT moved, so its report is the first look.
   * A secret without replicas costs no call.
   */
  private async awaitReplicas(description: SecretDescription, fresh: boolean): Promise<void> {
    if (description.replicas.length === 0) return;
    const remaining = this.remainingMs();
    const waitMs = Math.min(
      this.bounds.replicaSyncWaitMs,
      remaining === undefined ? Number.POSITIVE_INFINITY : Math.max(0, remaining - this.bounds.deadlineMarginMs),
    );
    const result = await waitForReplicas(
      async () => (await this.api.describe(this.event.SecretId)).replicas,
      fresh ? description.replicas : undefined,
      { waitMs, pollMs: this.bounds.replicaSyncPollMs, sleep: (ms) => this.sleep(ms) },
    );
    const regions = result.replicas.map((r) => r.region);
    if (result.inSync) {
      this.deps.logger.info('every replica is in sync', { replicas: regions, polls: result.polls, waitedMs: result.waitedMs });
      return;
    }
    this.deps.logger.warn('replicas not in sync', {
      replicas: result.notInSync.map((r) => ({ region: r.region, status: r.status })),
      polls: result.polls,
      waitedMs: result.waitedMs,
    });
    throw new ReplicaSyncError(
      `${this.where}: AWSCURRENT is version ${this.event.ClientRequestToken} on the primary, but ` +
        (result.failed
          ? `replication failed: ${describeReplicas(result.notInSync)}`
          : `not every replica is in sync after ${Math.round(result.waitedMs / 1000)} s: ${describeReplicas(result.notInSync)}`) +
        `; clients reading ${result.notInSync.length === 1 ? 'that replica' : 'those replicas'} still get the previous value. ` +
        'A retry of finishSecret waits again',
      result.notInSync.map((r) => ({ region: r.region, status: r.status })),
    );
  }

  /**
   * AWSCURRENT never moves to a value the target does not accept. testSecret's proof is kept by
   * the warm function that ran it (no call, no login); without it (a cold instance, a manual
   * invoke, finishSecret right after createSecret) the pending value is read, which refuses a
   * version with no value, and tested here before anything moves.
   */
  private async proveBeforeFinish(): Promise<void> {
    if (this.cached.proven) return;
    const pending = await this.pending();
    try {
      await this.kind.test(pending, this.context());
    } catch (err) {
      throw new RotationStateError(
        `${this.where}: finishSecret refuses to move AWSCURRENT: testSecret has not proven the pending value ` +
          `of token ${this.event.ClientRequestToken} here, and testing it now failed`,
        { cause: err },
      );
    }
    this.cached.proven = true;
    this.deps.logger.info('no testSecret proof in this instance: the pending value was tested before AWSCURRENT moves');
  }
}

/** Errors worth another PutSecretValue: throttling, the service's own faults, the network. */
function retryable(err: unknown): boolean {
  const e = err as { name?: string; $fault?: string; $retryable?: unknown };
  if (e.$retryable) return true;
  if (e.name === 'ThrottlingException' || e.name === 'TooManyRequestsException') return true;
  return e.$fault !== 'client';
}
