import type { DescribeSecretCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RotorTags } from '../../lambdas/contract/index.js';
import { SecretsApi } from '../../lambdas/core/secretsApi.js';
import { Stages, Steps } from '../../lambdas/core/types.js';
import type { LogRead, StepRecord } from './rotationLog.js';
import { versionHolding } from '../../lambdas/core/labels.js';

/**
 * Waiting for a rotation, and for the emergency handler's rotate-and-revoke, with everything it
 * depends on injected: clients, clock, sleep, poll interval, bound. Progress is reported as it
 * is seen; the caller decides how to show it.
 */
import { waitDefaults } from './defaults.js';

export { waitDefaults };

/** Tag the emergency handler puts on a secret once the leaked (formerly current) version is revoked. */
export const REVOKED_VERSION_TAG = RotorTags.REVOKED_VERSION;

/** Reads one rotation's step lines (see RotationLog). */
export interface StepLogReader {
  readonly logGroupName: string;
  read(): Promise<LogRead>;
}

export type Progress =
  | { readonly kind: 'step'; readonly record: StepRecord }
  | { readonly kind: 'logs-unavailable'; readonly logGroupName: string; readonly reason: string }
  | { readonly kind: 'logs-available'; readonly logGroupName: string }
  /** From the staging labels, shown when the step lines cannot be read. */
  | { readonly kind: 'pending-staged'; readonly versionId: string }
  | { readonly kind: 'current-moved'; readonly versionId: string; readonly from?: string }
  /** Leak response: the emergency handler's rotation began (a new AWSPENDING version). */
  | { readonly kind: 'rotation-started'; readonly versionId: string }
  | { readonly kind: 'revoked'; readonly versionId: string }
  | { readonly kind: 'previous-removed'; readonly versionId: string };

export interface WaitDeps {
  readonly secrets: SecretsManagerClient;
  /** A reader of a token's step lines; undefined when the rotation function's log group is unknown. */
  readonly stepLog?: (token: string) => StepLogReader;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** @default waitDefaults.pollIntervalMs */
  readonly pollIntervalMs?: number;
  /** @default waitDefaults.timeoutSeconds * 1000 */
  readonly timeoutMs?: number;
  /** @default waitDefaults.settleMs */
  readonly settleMs?: number;
  readonly onProgress: (progress: Progress) => void;
}

type Versions = Record<string, string[]>;

/** Follows one token's step lines; when they cannot be read, says so once and lets the labels speak. */
class StepFollower {
  public readonly steps: StepRecord[] = [];
  public failure: StepRecord | undefined;
  private unavailable = false;
  private lasting = false;

  public constructor(
    private readonly reader: StepLogReader | undefined,
    private readonly onProgress: (p: Progress) => void,
  ) {}

  /** True while step lines are not being read (no log group, or it cannot be read). */
  public get labelsOnly(): boolean {
    return !this.reader || this.unavailable;
  }

  public get finishSeen(): boolean {
    return this.steps.some((s) => s.step === Steps.FINISH && s.finished);
  }

  public async poll(): Promise<void> {
    if (!this.reader || this.lasting) return;
    const read = await this.reader.read();
    if (!read.ok) {
      if (!this.unavailable) this.onProgress({ kind: 'logs-unavailable', logGroupName: this.reader.logGroupName, reason: read.reason });
      this.unavailable = true;
      this.lasting = read.lasting;
      return;
    }
    if (this.unavailable) this.onProgress({ kind: 'logs-available', logGroupName: this.reader.logGroupName });
    this.unavailable = false;
    for (const record of read.records) {
      this.steps.push(record);
      this.onProgress({ kind: 'step', record });
      if (!record.finished) this.failure ??= record;
    }
  }
}

async function describe(secrets: SecretsManagerClient, secretId: string): Promise<DescribeSecretCommandOutput> {
  return new SecretsApi(secrets).describeSecret(secretId);
}

function bounds(deps: WaitDeps) {
  const started = deps.now();
  const timeoutMs = deps.timeoutMs ?? waitDefaults.timeoutSeconds * 1000;
  const interval = deps.pollIntervalMs ?? waitDefaults.pollIntervalMs;
  return {
    started,
    elapsed: () => deps.now() - started,
    left: () => timeoutMs - (deps.now() - started),
    /** Sleeps one interval, or less when the bound is nearer; false when the bound has passed. */
    async pause(ms = interval): Promise<boolean> {
      const left = timeoutMs - (deps.now() - started);
      if (left <= 0) return false;
      await deps.sleep(Math.min(ms, left));
      return true;
    },
  };
}

export interface RotationWaitResult {
  /** `abandoned`: the token stopped being a rotation of this secret (cancelled, replaced). */
  readonly outcome: 'rotated' | 'failed' | 'timed-out' | 'abandoned';
  readonly token: string;
  readonly steps: readonly StepRecord[];
  readonly failed?: StepRecord;
  /** What the labels showed when waiting ended, for people. */
  readonly state: string;
  readonly currentVersionId?: string;
  readonly previousVersionId?: string;
  readonly elapsedMs: number;
  /** Where progress came from: the function's step lines, or (when they could not be read) the labels. */
  readonly progressFrom: 'logs' | 'labels';
}

function labelState(versions: Versions, token: string): string {
  const current = versionHolding(versions, Stages.CURRENT);
  const stages = versions[token];
  const tokenState = stages?.length ? `token ${token} is staged ${stages.join(', ')}` : `token ${token} has no staging label`;
  return `${tokenState}; AWSCURRENT is on ${current === token ? 'the token' : (current ?? 'no version')}`;
}

/**
 * Waits until the rotation with `token` has finished (AWSCURRENT on the token, no AWSPENDING
 * left), a step of it failed, it was abandoned, or the bound passed. Reports each step as the
 * function logs it, or, when its log group cannot be read, what the labels show.
 */
export async function waitForRotation(secretId: string, token: string, deps: WaitDeps): Promise<RotationWaitResult> {
  const clock = bounds(deps);
  const follower = new StepFollower(deps.stepLog?.(token), deps.onProgress);
  const shown = { pending: false, current: false };
  const result = (outcome: RotationWaitResult['outcome'], versions: Versions, extra: Partial<RotationWaitResult> = {}) => ({
    outcome,
    token,
    steps: follower.steps,
    failed: follower.failure,
    state: labelState(versions, token),
    currentVersionId: versionHolding(versions, Stages.CURRENT),
    previousVersionId: versionHolding(versions, Stages.PREVIOUS),
    elapsedMs: clock.elapsed(),
    progressFrom: follower.labelsOnly ? ('labels' as const) : ('logs' as const),
    ...extra,
  });

  for (;;) {
    await follower.poll();
    const description = await describe(deps.secrets, secretId);
    const versions = (description.VersionIdsToStages ?? {}) as Versions;
    if (follower.failure) return result('failed', versions);
    const stages = versions[token] ?? [];
    const pendingLeft = versionHolding(versions, Stages.PENDING) !== undefined;
    if (follower.labelsOnly) {
      if (!shown.pending && stages.includes(Stages.PENDING)) {
        shown.pending = true;
        deps.onProgress({ kind: 'pending-staged', versionId: token });
      }
      if (!shown.current && stages.includes(Stages.CURRENT)) {
        shown.current = true;
        deps.onProgress({ kind: 'current-moved', versionId: token, from: versionHolding(versions, Stages.PREVIOUS) });
      }
    }
    if (stages.includes(Stages.CURRENT) && !pendingLeft) {
      // Done by the labels; give the last step lines a moment to reach the log group.
      const settleEnds = deps.now() + (deps.settleMs ?? waitDefaults.settleMs);
      while (!follower.labelsOnly && !follower.finishSeen && deps.now() < settleEnds) {
        if (!(await clock.pause(Math.min(deps.pollIntervalMs ?? waitDefaults.pollIntervalMs, 500)))) break;
        await follower.poll();
      }
      return result('rotated', versions);
    }
    if (!versions[token]) return result('abandoned', versions, { state: `token ${token} is no longer a version of the secret` });
    if (description.RotationEnabled === false) {
      return result('abandoned', versions, { state: `rotation was turned off (CancelRotateSecret?); ${labelState(versions, token)}` });
    }
    if (!stages.includes(Stages.PENDING) && !stages.includes(Stages.CURRENT)) {
      return result('abandoned', versions, { state: `token ${token} is no longer staged AWSPENDING (the rotation was cancelled or replaced)` });
    }
    if (!(await clock.pause())) return result('timed-out', versions);
  }
}

export interface LeakWaitResult {
  readonly outcome: 'revoked' | 'failed' | 'timed-out';
  readonly leakedVersionId: string;
  /** The version AWSCURRENT moved to. */
  readonly newVersionId?: string;
  readonly steps: readonly StepRecord[];
  readonly failed?: StepRecord;
  readonly rotated: boolean;
  readonly revoked: boolean;
  readonly previousRemoved: boolean;
  readonly elapsedMs: number;
}

/**
 * Waits for the emergency handler's response to a leak: AWSCURRENT moved off the leaked
 * version, the `rotor:revoked-version` tag naming it, and no AWSPREVIOUS left to fall back to.
 * Follows the step lines of the rotation it starts when the log group is known.
 */
export async function waitForLeakResponse(secretId: string, leakedVersionId: string, deps: WaitDeps): Promise<LeakWaitResult> {
  const clock = bounds(deps);
  const followers = new Map<string, StepFollower>();
  const shown = { rotated: false, revoked: false, previous: false };
  for (;;) {
    const description = await describe(deps.secrets, secretId);
    const versions = (description.VersionIdsToStages ?? {}) as Versions;
    const current = versionHolding(versions, Stages.CURRENT);
    const pending = versionHolding(versions, Stages.PENDING, current);
    const rotated = current !== undefined && current !== leakedVersionId;
    const token = pending ?? (rotated ? current : undefined);
    if (token && token !== leakedVersionId && !followers.has(token)) {
      followers.set(token, new StepFollower(deps.stepLog?.(token), deps.onProgress));
      deps.onProgress({ kind: 'rotation-started', versionId: token });
    }
    for (const follower of followers.values()) await follower.poll();
    const steps = [...followers.values()].flatMap((f) => f.steps);
    const failed = [...followers.values()].find((f) => f.failure)?.failure;
    const revoked = description.Tags?.some((t) => t.Key === REVOKED_VERSION_TAG && t.Value === leakedVersionId) === true;
    const previousRemoved = rotated && versionHolding(versions, Stages.PREVIOUS) === undefined;
    if (rotated && !shown.rotated) {
      shown.rotated = true;
      deps.onProgress({ kind: 'current-moved', versionId: current!, from: leakedVersionId });
    }
    if (revoked && !shown.revoked) {
      shown.revoked = true;
      deps.onProgress({ kind: 'revoked', versionId: leakedVersionId });
    }
    if (previousRemoved && !shown.previous) {
      shown.previous = true;
      deps.onProgress({ kind: 'previous-removed', versionId: leakedVersionId });
    }
    const result = (outcome: LeakWaitResult['outcome']): LeakWaitResult => ({
      outcome,
      leakedVersionId,
      newVersionId: rotated ? current : undefined,
      steps,
      failed,
      rotated,
      revoked,
      previousRemoved,
      elapsedMs: clock.elapsed(),
    });
    if (failed) return result('failed');
    if (rotated && revoked && previousRemoved) return result('revoked');
    if (!(await clock.pause())) return result('timed-out');
  }
}
