import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidEventError, RotationStateError, RotationStepError, RotorError } from './errors';
import { Redactor } from './redact';
import { RotationCache } from './rotationCache';
import { readSecretValue } from './secretValue';
import { SecretsApi, versionWithStage, type SecretDescription } from './secretsApi';
import type { Settings } from './settings';
import { fingerprint } from './fingerprint';
import {
  RotorTags,
  Stages,
  Steps,
  type KindContext,
  type RotationEvent,
  type RotationKind,
  type SecretVersion,
  type Step,
} from './types';

export interface EngineDeps {
  readonly client: SecretsManagerClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly settings: () => Settings;
  readonly cache: RotationCache;
  /** How long a read-only step (testSecret) may reuse the DescribeSecret of the step before it. */
  readonly descriptionReuseMs: number;
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

/** Checks the shape of the event Secrets Manager sent before anything else is done. */
export function validateEvent(event: unknown): RotationEvent {
  if (event === null || typeof event !== 'object') {
    throw new InvalidEventError('rotation event must be an object with SecretId, ClientRequestToken and Step');
  }
  const e = event as Record<string, unknown>;
  for (const field of ['SecretId', 'ClientRequestToken', 'Step'] as const) {
    if (typeof e[field] !== 'string' || e[field] === '') {
      throw new InvalidEventError(`rotation event: field '${field}' is missing`);
    }
  }
  if (!STEP_NAMES.includes(e.Step as string)) {
    throw new InvalidEventError(
      `rotation event: unknown step '${String(e.Step).slice(0, 40)}' (expected one of ${STEP_NAMES.join(', ')})`,
    );
  }
  return e as unknown as RotationEvent;
}

/**
 * Runs one step of the four-step protocol for a kind. Validates the secret's state first,
 * makes every step idempotent, and rethrows failures as RotorErrors with every secret value
 * redacted.
 */
export async function runStep<S>(kind: RotationKind<S>, rawEvent: unknown, deps: EngineDeps): Promise<StepOutcome> {
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
    const run = new StepRun(kind, event, deps, api, redactor, settings.strategy, () => logins++);
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
    record(deps.metrics, kind.name, event.Step, 'StepSucceeded', result);
    return result;
  } catch (err) {
    const safe = toSafeError(err, redactor, event, kind.name);
    deps.logger.error('rotation step failed', {
      error: safe,
      secretsManagerCalls: api.calls,
      logins,
      durationMs: Date.now() - started,
    });
    record(deps.metrics, kind.name, event?.Step ?? 'unknown', 'StepFailed', {
      secretsManagerCalls: api.calls,
      logins,
      durationMs: Date.now() - started,
    });
    throw safe;
  } finally {
    deps.logger.removeKeys(['step', 'secretId', 'token', 'kind']);
  }
}

function record(
  metrics: Metrics,
  kind: string,
  step: string,
  name: 'StepSucceeded' | 'StepFailed',
  figures: { secretsManagerCalls: number; logins: number; durationMs: number },
): void {
  metrics.addDimensions({ kind, step });
  metrics.addMetric(name, MetricUnit.Count, 1);
  metrics.addMetric('SecretsManagerCalls', MetricUnit.Count, figures.secretsManagerCalls);
  metrics.addMetric('Logins', MetricUnit.Count, figures.logins);
  metrics.addMetric('StepDuration', MetricUnit.Milliseconds, figures.durationMs);
}

/** Errors leave the engine as RotorErrors whose message and cause chain hold no secret value. */
function toSafeError(err: unknown, redactor: Redactor, event: RotationEvent | undefined, kind: string): RotorError {
  const where = event ? `${kind} ${event.Step} for secret ${event.SecretId}` : `${kind} rotation`;
  if (err instanceof RotorError) {
    const safe = redactor.error(err) as RotorError;
    const copy = new (err.constructor as new (m: string, o?: { cause?: unknown }) => RotorError)(
      safe.message,
      safe.cause ? { cause: safe.cause } : undefined,
    );
    copy.stack = safe.stack;
    return copy;
  }
  const cause = redactor.error(err);
  return new RotationStepError(`${where} failed: ${cause.message}`, { cause });
}

/** One step of one rotation: the state it reads and the protocol it follows. */
class StepRun<S> {
  public secretArn: string;
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
  ) {
    this.secretArn = event.SecretId;
    this.where = `secret ${event.SecretId}`;
    this.cached = deps.cache.get(event.SecretId, event.ClientRequestToken);
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
        });
        return 'done';
      case Steps.TEST:
        await this.kind.test(await this.pending(), this.context());
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
    };
  }

  private parse(secretString: string | undefined, label: string, secretId = this.secretArn): S {
    return readSecretValue(this.kind, secretString, `secret ${secretId} (${label})`, this.redactor);
  }

  private async read(versionId: string, stage: (typeof Stages)[keyof typeof Stages]): Promise<string | undefined> {
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
    const secretString = JSON.stringify(pending);
    await this.api.putPending(this.event.SecretId, token, secretString, Stages.PENDING);
    this.cached.values.set(token, secretString);
    return 'done';
  }

  private async finish(description: SecretDescription): Promise<StepOutcome['outcome']> {
    const token = this.event.ClientRequestToken;
    const currentId = versionWithStage(description, Stages.CURRENT);
    // Read while the version is still staged AWSPENDING: a cold function has no cached copy, and
    // after the moves below a read naming AWSPENDING is refused.
    const pending = this.kind.leakIdentity ? await this.pending() : undefined;
    await this.api.moveStage(this.event.SecretId, Stages.CURRENT, { to: token, from: currentId });
    await this.api.moveStage(this.event.SecretId, Stages.PENDING, { from: token });
    this.deps.logger.info('AWSCURRENT moved to the new version', { previousVersionId: currentId });
    if (this.kind.leakIdentity && pending !== undefined) {
      // Values are read from this rotation's cache where the earlier steps ran here.
      const tags: Record<string, string> = { [RotorTags.FINGERPRINT_CURRENT]: fingerprint(this.kind.leakIdentity(pending)) };
      if (currentId) {
        const old = await this.read(currentId, Stages.PREVIOUS).catch(() => undefined);
        if (old !== undefined) {
          tags[RotorTags.FINGERPRINT_PREVIOUS] = fingerprint(this.kind.leakIdentity(this.parse(old, Stages.PREVIOUS)));
        }
      }
      await this.api.tag(this.event.SecretId, tags);
    }
    this.deps.cache.forget(this.event.SecretId, token);
    return 'done';
  }
}
