import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancelRotateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll } from 'vitest';
import { SecretCache } from '../../client/secrets.js';
import type { FingerprintKey } from '../../lambdas/core/fingerprint.js';
import { RotorTags, Steps, type Step } from '../../lambdas/core/types.js';
import type { EmergencyResult } from '../../lambdas/emergency/emergency.js';
import { lambdaContext, STEPS, type Handler, type SecretsManagerPlayer } from '../../bin/local/harness.js';
import { leakEvent } from '../../bin/local/leakEvents.js';
import { startRefusingProxy, type RefusingProxy } from '../../bin/local/refusingProxy.js';
import { errorText, type LogCapture } from './logCapture.js';

/*
 * The fault matrix (issue 14): for a kind and strategy, every step × every fault, each made for
 * real (a TCP forwarder the secret points at switched to refusing, a credential changed out of
 * band, Secrets Manager's answers from a stand-in in front of moto, a function instance that
 * stops in the middle, duplicate deliveries held at a barrier), followed by the retries Secrets
 * Manager would make (bounded) and then the service's next rotation with a new token. At every
 * observation point the test logs in to the real target with AWSCURRENT; for in-place
 * (single-user) strategies it states where the documented window is instead (AWSPENDING logs in
 * and rotor/client follows it), or the documented gap. Every case becomes one row of a table
 * printed at the end of the file and written as JSON under the OS temp dir.
 */

export const Faults = {
  UNREACHABLE: 'unreachable',
  REFUSING: 'refusing',
  THROTTLED: 'throttled',
  SERVER_ERROR: '5xx',
  DIED_RETRY: 'died, step retried',
  DIED_NEW_TOKEN: 'died, new token',
  TWICE_SEQUENTIAL: 'twice, sequential',
  TWICE_CONCURRENT: 'twice, concurrent',
} as const;
export type Fault = (typeof Faults)[keyof typeof Faults];
export const FAULTS: readonly Fault[] = Object.values(Faults);

/** The per-kind cases, as columns of the table: the row's step is the one they come after. */
export const CANCELLED_AFTER = 'CancelRotateSecret after it';
export const EMERGENCY_AFTER = 'emergency race after it';

/** What the faults mean, for the table's legend. */
export const FAULT_LEGEND: Readonly<Record<string, string>> = {
  [Faults.UNREACHABLE]: 'the target refuses TCP connections for the step (forwarder closed; IAM/STS/provider endpoints likewise)',
  [Faults.REFUSING]: "the target refuses the secret's credentials for the step (passwords changed out of band and restored; IAM signature refused; provider 401/403)",
  [Faults.THROTTLED]: "Secrets Manager answers ThrottlingException to the step's key call, as often as the SDK tries it (3)",
  [Faults.SERVER_ERROR]: "Secrets Manager answers HTTP 500 (InternalServiceError) to the step's key call, 3 times",
  [Faults.DIED_RETRY]: 'the function instance dies right after the step\'s side effect; the service retries the step on a new instance',
  [Faults.DIED_NEW_TOKEN]: 'as above, then the service starts a new rotation (new token) instead of retrying',
  [Faults.TWICE_SEQUENTIAL]: 'the step is delivered twice, one after the other, to two instances',
  [Faults.TWICE_CONCURRENT]: 'the step is delivered twice at once to two instances (held at a barrier in front of Secrets Manager)',
  [CANCELLED_AFTER]:
    'the rotation is cancelled after the step (CancelRotateSecret, AWSPENDING taken off as AWS documents), a late delivery of the next step arrives, then a new rotation',
  [EMERGENCY_AFTER]: 'a leak of AWSCURRENT is reported while a scheduled rotation is in flight after the step; both run to the end',
};

export type Outcome = 'converged' | 'stayed pending' | 'failed';

/** What one observation found: AWSCURRENT logs in, or where the documented window or gap is. */
export type ObservedState = 'current' | 'window' | 'gap' | 'broken';

export interface Observation {
  readonly at: string;
  readonly state: ObservedState;
  readonly note?: string;
}

export interface MatrixRow {
  readonly kind: string;
  readonly strategy: string;
  readonly step: string;
  readonly fault: string;
  readonly outcome: Outcome;
  /** Handler invocations the faulted rotation took, the fault's own delivery included. */
  readonly deliveries: number;
  /** The worst observation: current < window < gap < broken. */
  readonly observed: ObservedState;
  readonly observations: readonly Observation[];
  readonly notes: readonly string[];
}

/** One secret a case owns. */
export interface Subject {
  readonly arn: string;
  /** Whether the real target accepts this value (a stored version's parsed JSON) right now. */
  works(value: Record<string, unknown>): Promise<boolean>;
}

/** A kind and strategy under test, with the faults it can make for real. */
export interface FaultTarget {
  readonly kind: string;
  readonly strategy: string;
  /** The credential changes in place (single-user, roll-only): AWSCURRENT is refused between the change and finishSecret. */
  readonly inPlace: boolean;
  /** createSecret issues a credential outside Secrets Manager before storing it (IAM keys, API tokens). */
  readonly issues: boolean;
  arrange(): Promise<Subject>;
  /** A new function instance (cold), talking to Secrets Manager through the fault proxy. */
  instance(): Handler;
  /** Makes the target unreachable (true), or reachable again (false). */
  unreachable(on: boolean): Promise<void>;
  /** The target refuses the subject's credentials (true), or accepts them again exactly as before (false). */
  refusing(subject: Subject, on: boolean): Promise<void>;
  /**
   * Where no staged value logs in (in-place strategies): the documented gap this is, or
   * undefined. The matrix itself recognises "the working password is in an unlabelled version".
   */
  gap?(subject: Subject, situation: { readonly step: string; readonly fault: string }): Promise<string | undefined>;
  /** The value's leak identity (kinds whose finishSecret fingerprints AWSCURRENT in the tags). */
  leakIdentity?(value: Record<string, unknown>): string;
  /** Rotor's fingerprint key the instances read (ROTOR_FINGERPRINT_KEY_ARN): the tags are keyed with it. */
  fingerprintKey?(): FingerprintKey;
  /** Credentials left live that no labelled version holds, as text (reported, not failed). */
  leftovers?(subject: Subject): Promise<string[]>;
  /** The leaked value is refused by the target after an emergency revocation. */
  revoked?(subject: Subject, leaked: Record<string, unknown>): Promise<boolean>;
}

export interface MatrixBench {
  readonly player: SecretsManagerPlayer;
  readonly logs: LogCapture;
  readonly proxy: RefusingProxy;
}

/** Bounds of the service's retries, as the matrix plays them. */
export const matrixDefaults = {
  /** Deliveries of one step in all (the first and the service's retries) before the rotation is given up. */
  deliveriesPerStep: 5,
  /** How many times the stand-in refuses the step's key call (the SDK tries a call 3 times). */
  burst: 3,
  /** The deadline of a normal delivery (its claim lease). */
  deliveryTimeoutMs: 10_000,
  /** The deadline of the delivery that dies: a claim it took lasts this long. */
  dyingTimeoutMs: 1_500,
  /** The barrier's wait for the second delivery's call. */
  barrierTimeoutMs: 2_000,
} as const;

/** A Lambda context whose remaining time runs down to a deadline (the claim lease is read from it). */
export function deliveryContext(timeoutMs: number = matrixDefaults.deliveryTimeoutMs): Context {
  const deadline = Date.now() + timeoutMs;
  return { ...lambdaContext('rotor-faults'), getRemainingTimeInMillis: () => Math.max(1, deadline - Date.now()) };
}

type Delivery = { ok: true; outcome: string } | { ok: false; error: string };

const errorName = (err: unknown) => (err instanceof Error ? err.name : 'Error');
const firstLine = (err: unknown) =>
  (err instanceof Error ? err.message : String(err))
    .split('\n')[0]!
    .replace(/(for )?secret arn:aws:secretsmanager:\S+/g, '')
    .slice(0, 220);

/** The proxy's matcher of a step's key call: the one whose refusal hurts most. */
function keyCall(step: Step): (operation: string, body: Record<string, unknown>) => boolean {
  switch (step) {
    case Steps.CREATE:
      return isPendingStore;
    case Steps.FINISH:
      return (operation) => operation === 'UpdateSecretVersionStage';
    default:
      // setSecret and testSecret read only: every call.
      return () => true;
  }
}

function isPendingStore(operation: string, body: Record<string, unknown>): boolean {
  return operation === 'PutSecretValue' && Array.isArray(body.VersionStages) && body.VersionStages.includes('AWSPENDING');
}

const RANK: Record<ObservedState, number> = { current: 0, window: 1, gap: 2, broken: 3 };

/**
 * The matrix of one test file: a fault proxy in front of moto (started in beforeAll), the case
 * runners, and the table (printed and written in afterAll).
 */
export function useFaultMatrix(part: string, bench: () => Omit<MatrixBench, 'proxy'> & { endpoint: string }) {
  const rows: MatrixRow[] = [];
  let proxy: RefusingProxy | undefined;

  beforeAll(async () => {
    proxy = await startRefusingProxy(bench().endpoint);
  });
  afterAll(async () => {
    await proxy?.close();
    report(part, rows);
  });

  const b = (): MatrixBench => ({ ...bench(), proxy: proxy! });

  return {
    get proxy() {
      return proxy!;
    },
    rows,
    /** A Secrets Manager client through the fault proxy. */
    client(credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' }): SecretsManagerClient {
      return new SecretsManagerClient({ endpoint: proxy!.endpoint, region: 'us-east-1', credentials });
    },
    async runCase(target: FaultTarget, step: Step, fault: Fault): Promise<MatrixRow> {
      const row = await new CaseRun(b(), target, `${step}`, fault).run((run) => run.faultedRotation(step, fault));
      rows.push(row);
      return row;
    },
    async runCancel(target: FaultTarget, after: Step): Promise<MatrixRow> {
      const row = await new CaseRun(b(), target, after, CANCELLED_AFTER).run((run) => run.cancelled(after));
      rows.push(row);
      return row;
    },
    async runEmergencyRace(
      target: FaultTarget,
      emergency: () => (event: unknown, context: Context) => Promise<EmergencyResult[]>,
      after: Step,
    ): Promise<MatrixRow> {
      const row = await new CaseRun(b(), target, after, EMERGENCY_AFTER).run((run) => run.emergencyRace(emergency, after));
      rows.push(row);
      return row;
    },
  };
}

class CaseRun {
  private subject!: Subject;
  private readonly observations: Observation[] = [];
  private readonly notes: string[] = [];
  private deliveries = 0;
  private broken = false;

  public constructor(
    private readonly bench: MatrixBench,
    private readonly target: FaultTarget,
    private readonly step: string,
    private readonly fault: string,
  ) {}

  private get player() {
    return this.bench.player;
  }

  public async run(body: (run: CaseRun) => Promise<'converged' | 'stayed pending'>): Promise<MatrixRow> {
    let outcome: Outcome;
    try {
      this.subject = await this.target.arrange();
      outcome = await body(this);
      await this.checkFingerprints('at the end');
      for (const left of (await this.target.leftovers?.(this.subject)) ?? []) this.notes.push(`left behind: ${left}`);
      if (this.broken) outcome = 'failed';
    } catch (err) {
      this.bench.logs.note(errorText(err));
      this.notes.push(`harness: ${errorName(err)}: ${firstLine(err)}`);
      outcome = 'failed';
    } finally {
      this.bench.proxy.intercept(undefined);
      this.bench.proxy.barrier(undefined);
      await this.target.unreachable(false).catch(() => undefined);
      if (this.subject) await this.target.refusing(this.subject, false).catch(() => undefined);
    }
    const observed = this.observations.reduce<ObservedState>((w, o) => (RANK[o.state] > RANK[w] ? o.state : w), 'current');
    return {
      kind: this.target.kind,
      strategy: this.target.strategy,
      step: this.step,
      fault: this.fault,
      outcome,
      deliveries: this.deliveries,
      observed,
      observations: this.observations,
      notes: this.notes,
    };
  }

  // --- deliveries --------------------------------------------------------------------------

  private async deliver(handler: Handler, token: string, step: Step, context: Context = deliveryContext()): Promise<Delivery> {
    this.deliveries++;
    try {
      const out = await handler(this.player.event(this.subject.arn, token, step), context);
      return { ok: true, outcome: out.outcome };
    } catch (err) {
      // The handler is wrapped by the suite's capture: what it threw is in the logs checked for leaks.
      return { ok: false, error: `${errorName(err)}: ${firstLine(err)}` };
    }
  }

  /** Delivers a step until it succeeds, as the service retries it (bounded); observed after each failure. */
  private async deliverWithRetries(handler: Handler, token: string, step: Step, first?: Delivery): Promise<boolean> {
    let result = first ?? (await this.deliver(handler, token, step));
    for (let retry = 1; !result.ok && retry < matrixDefaults.deliveriesPerStep; retry++) {
      if (!first || retry > 1) {
        this.notes.push(`${step} failed: ${result.error}`);
        await this.observe(`${step} failed`);
      }
      result = await this.deliver(handler, token, step);
      if (first) await this.observe(`retry ${retry}`);
    }
    if (result.ok) return true;
    this.notes.push(`${step} failed ${matrixDefaults.deliveriesPerStep} times: ${result.error}; the rotation is given up`);
    return false;
  }

  /** Runs steps in order with retries; false when one is given up. */
  private async steps(handler: Handler, token: string, steps: readonly Step[]): Promise<boolean> {
    for (const step of steps) if (!(await this.deliverWithRetries(handler, token, step))) return false;
    return true;
  }

  private async finished(token: string): Promise<boolean> {
    const versions = await this.player.versions(this.subject.arn);
    return (versions[token] ?? []).includes('AWSCURRENT') && !Object.values(versions).some((s) => s.includes('AWSPENDING'));
  }

  /**
   * RotateSecret, as the service starts a rotation. A finishSecret that died between its two
   * label moves leaves AWSPENDING on the AWSCURRENT version; AWS clears that label itself
   * (TESTING.md), moto refuses the next RotateSecret until it is gone: cleared here, and said so.
   */
  private async startRotation(): Promise<string> {
    const arn = this.subject.arn;
    const stuck = Object.entries(await this.player.versions(arn)).find(([, s]) => s.includes('AWSPENDING') && s.includes('AWSCURRENT'))?.[0];
    if (stuck) {
      await this.player.client.send(new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'AWSPENDING', RemoveFromVersionId: stuck }));
      this.notes.push('AWSPENDING was left on the AWSCURRENT version: cleared as AWS does before the next RotateSecret');
    }
    return this.player.startRotation(arn);
  }

  /** The service's next rotation: a new token, a cold instance, every step retried (bounded). */
  private async nextRotation(label = 'next rotation'): Promise<boolean> {
    const token = await this.startRotation();
    const ok = (await this.steps(this.target.instance(), token, STEPS)) && (await this.finished(token));
    if (!ok) {
      this.broken = true;
      this.notes.push(`${label} (new token) did not converge`);
    }
    await this.observe(`after ${label}`);
    return ok;
  }

  // --- the cases ---------------------------------------------------------------------------

  public async faultedRotation(step: Step, fault: Fault): Promise<'converged' | 'stayed pending'> {
    const token = await this.player.startRotation(this.subject.arn);
    let a = this.target.instance();
    const index = STEPS.indexOf(step);
    if (!(await this.steps(a, token, STEPS.slice(0, index)))) throw new Error(`the steps before ${step} did not succeed without a fault`);
    const proxy = this.bench.proxy;
    let first: Delivery;
    switch (fault) {
      case Faults.UNREACHABLE:
        await this.target.unreachable(true);
        try {
          first = await this.deliver(a, token, step);
        } finally {
          await this.target.unreachable(false);
        }
        break;
      case Faults.REFUSING:
        await this.target.refusing(this.subject, true);
        try {
          first = await this.deliver(a, token, step);
        } finally {
          await this.target.refusing(this.subject, false);
        }
        break;
      case Faults.THROTTLED:
      case Faults.SERVER_ERROR: {
        const answer = fault === Faults.THROTTLED ? 'ThrottlingException' : 'InternalServiceError';
        if (step === Steps.TEST) {
          // A warm instance's testSecret makes no Secrets Manager call (it reuses setSecret's
          // DescribeSecret and the pending value): the service's delivery goes to a new one here.
          a = this.target.instance();
          this.notes.push('delivered to a new instance (a warm one makes no Secrets Manager call in testSecret)');
        }
        const matches = keyCall(step);
        let refused = 0;
        proxy.intercept((operation, body) => (refused < matrixDefaults.burst && matches(operation, body) ? (refused++, answer) : undefined));
        try {
          first = await this.deliver(a, token, step);
        } finally {
          proxy.intercept(undefined);
        }
        this.notes.push(refused === 0 ? 'the step made no such call: nothing to refuse' : `refused ${refused} call(s)`);
        break;
      }
      case Faults.DIED_RETRY:
      case Faults.DIED_NEW_TOKEN: {
        first = await this.die(a, token, step);
        // The instance is gone: whatever comes next runs on a new one.
        a = this.target.instance();
        if (fault === Faults.DIED_NEW_TOKEN) {
          await this.observe('after the death');
          const next = await this.startRotation();
          await this.observe('new rotation started');
          const ok = (await this.steps(a, next, STEPS)) && (await this.finished(next));
          await this.observe('end');
          if (ok) await this.checkFingerprints('when the new rotation converged');
          if (!ok) {
            this.notes.push('the new rotation did not converge');
            return 'stayed pending';
          }
          return 'converged';
        }
        break;
      }
      case Faults.TWICE_SEQUENTIAL: {
        const one = await this.deliver(a, token, step);
        const two = await this.deliver(this.target.instance(), token, step);
        this.notes.push(`outcomes: ${describe(one)}, ${describe(two)}`);
        first = one.ok ? one : two;
        break;
      }
      case Faults.TWICE_CONCURRENT: {
        // Two instances in the step at once: their key call is held until both have made it.
        // testSecret on the warm instance makes no Secrets Manager call, so two cold ones run it.
        const [x, y] = step === Steps.TEST ? [this.target.instance(), this.target.instance()] : [a, this.target.instance()];
        const barrierOn = barrierCall(step, this.target.issues);
        let held = 0;
        proxy.barrier((operation, body) => held < 2 && barrierOn(operation, body) && ++held > 0, 2, matrixDefaults.barrierTimeoutMs);
        let both: Delivery[];
        try {
          both = await Promise.all([this.deliver(x, token, step), this.deliver(y, token, step)]);
        } finally {
          proxy.barrier(undefined);
        }
        this.notes.push(`outcomes: ${both.map(describe).join(', ')}${held < 2 ? ` (only ${held} reached the barrier)` : ''}`);
        first = both.find((d) => d.ok) ?? both[0]!;
        break;
      }
      default:
        throw new Error(`unknown fault ${String(fault)}`);
    }
    this.notes.unshift(`first delivery: ${describe(first)}`);
    await this.observe('after the fault');
    const ok = (await this.deliverWithRetries(a, token, step, first)) && (await this.steps(a, token, STEPS.slice(index + 1)));
    const converged = ok && (await this.finished(token));
    await this.observe('end');
    if (converged) await this.checkFingerprints('when the rotation converged');
    await this.nextRotation();
    return converged ? 'converged' : 'stayed pending';
  }

  /**
   * The delivery during which the instance dies right after the step's side effect. Secrets
   * Manager never gets an answer: the delivery counts as failed whatever the handler returned.
   * - createSecret: the pending value stored (PutSecretValue forwarded), nothing after; for kinds
   *   that issue a credential, right after issuing it (the store never arrives).
   * - setSecret, testSecret: the step did its work on the target; its answer is lost.
   * - finishSecret: AWSCURRENT moved (the first UpdateSecretVersionStage forwarded), nothing after.
   */
  private async die(handler: Handler, token: string, step: Step): Promise<Delivery> {
    const proxy = this.bench.proxy;
    let dead = false;
    let point: ((operation: string, body: Record<string, unknown>) => boolean) | undefined;
    let storeNeverArrives = false;
    if (step === Steps.CREATE) {
      point = isPendingStore;
      storeNeverArrives = this.target.issues;
    } else if (step === Steps.FINISH) {
      point = (operation) => operation === 'UpdateSecretVersionStage';
    }
    if (point) {
      const at = point;
      proxy.intercept((operation, body) => {
        if (dead) return 'ProcessDied';
        if (!at(operation, body)) return undefined;
        dead = true;
        return storeNeverArrives ? 'ProcessDied' : undefined;
      });
    }
    let result: Delivery;
    try {
      result = await this.deliver(handler, token, step, deliveryContext(matrixDefaults.dyingTimeoutMs));
    } finally {
      proxy.intercept(undefined);
    }
    if (point && !dead) this.notes.push('the step never reached its side effect');
    this.notes.push(
      step === Steps.CREATE
        ? storeNeverArrives
          ? 'died after issuing, before storing'
          : 'died after storing the pending value'
        : step === Steps.FINISH
          ? 'died after moving AWSCURRENT'
          : `died after the step's work (${result.ok ? 'it succeeded' : 'it had failed'}); its answer is lost`,
    );
    return { ok: false, error: 'ProcessDied: the instance died before answering' };
  }

  public async cancelled(after: Step): Promise<'converged' | 'stayed pending'> {
    const token = await this.player.startRotation(this.subject.arn);
    const a = this.target.instance();
    const index = STEPS.indexOf(after);
    if (!(await this.steps(a, token, STEPS.slice(0, index + 1)))) throw new Error(`the steps up to ${after} did not succeed`);
    await this.observe(`after ${after}`);
    // What an operator does (AWS's CancelRotateSecret documentation): cancel, then take
    // AWSPENDING off the partly rotated version. moto turns rotation off and keeps the label.
    await this.player.client.send(new CancelRotateSecretCommand({ SecretId: this.subject.arn }));
    await this.player.client.send(
      new UpdateSecretVersionStageCommand({ SecretId: this.subject.arn, VersionStage: 'AWSPENDING', RemoveFromVersionId: token }),
    );
    await this.observe('cancelled');
    // A straggling delivery of the cancelled rotation's next step changes nothing.
    const next = STEPS[index + 1];
    if (next) {
      const before = JSON.stringify(await this.player.versions(this.subject.arn));
      const late = await this.deliver(a, token, next);
      this.notes.push(`late ${next} of the cancelled rotation: ${describe(late)}`);
      if (JSON.stringify(await this.player.versions(this.subject.arn)) !== before) {
        this.broken = true;
        this.notes.push(`the late ${next} moved labels of a cancelled rotation`);
      }
      await this.observe(`late ${next}`);
    }
    return (await this.nextRotation('new rotation')) ? 'converged' : 'stayed pending';
  }

  public async emergencyRace(
    emergency: () => (event: unknown, context: Context) => Promise<EmergencyResult[]>,
    after: Step,
  ): Promise<'converged' | 'stayed pending'> {
    const arn = this.subject.arn;
    // The scheduled rotation has run up to `after` when the leak of AWSCURRENT is reported.
    const leaked = await this.player.value(arn, 'AWSCURRENT');
    const leakedVersionId = (await this.player.versionOf(arn, 'AWSCURRENT'))!;
    const token = await this.player.startRotation(arn);
    const scheduled = this.target.instance();
    const index = STEPS.indexOf(after);
    if (!(await this.steps(scheduled, token, STEPS.slice(0, index + 1)))) throw new Error(`the scheduled rotation did not get past ${after}`);
    // Observed all along while the service finishes the scheduled rotation and the emergency
    // handler runs (each of them may start or wait for a rotation: the service plays every new one).
    let running = true;
    const watcher = (async () => {
      for (let n = 0; running && n < 500; n++) {
        await this.observe('during the race', true);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const service = (async () => {
      const played = new Set<string>([token]);
      let ok = await this.steps(scheduled, token, STEPS.slice(index + 1));
      // Any rotation the emergency handler starts is played too, as the service would.
      for (let n = 0; running && n < 400; n++) {
        const versions = await this.player.versions(arn);
        const fresh = Object.entries(versions).find(([id, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT') && !played.has(id))?.[0];
        if (fresh) {
          played.add(fresh);
          this.notes.push('the emergency handler started its own rotation');
          ok = (await this.steps(this.target.instance(), fresh, STEPS)) && ok;
        } else {
          await new Promise((r) => setTimeout(r, 25));
        }
      }
      return ok;
    })();
    let results: EmergencyResult[] | undefined;
    try {
      results = await emergency()(leakEvent({ secretId: arn, reason: 'fault matrix race' }), lambdaContext('rotor-emergency'));
    } catch (err) {
      this.bench.logs.note(errorText(err));
      this.notes.push(`emergency handler failed: ${errorName(err)}: ${firstLine(err)}`);
      this.broken = true;
    } finally {
      running = false;
    }
    const serviceOk = await service;
    await watcher;
    this.notes.push(`emergency: ${results?.map((r) => r.outcome).join(', ') ?? 'no result'}`);
    if (!serviceOk) {
      this.broken = true;
      this.notes.push('the scheduled rotation did not finish');
    }
    const versions = await this.player.versions(arn);
    if (!(versions[token] ?? []).includes('AWSCURRENT') && !(versions[token] ?? []).includes('AWSPREVIOUS')) {
      this.notes.push('the scheduled rotation\'s version holds no label');
    }
    if ((versions[leakedVersionId] ?? []).includes('AWSPREVIOUS')) {
      this.broken = true;
      this.notes.push('the leaked version is still AWSPREVIOUS');
    }
    if (this.target.revoked && !(await this.target.revoked(this.subject, leaked))) {
      this.broken = true;
      this.notes.push('the leaked value is still accepted by the target');
    }
    await this.observe('after the race');
    return (await this.nextRotation()) ? 'converged' : 'stayed pending';
  }

  // --- observations ------------------------------------------------------------------------

  /**
   * Logs in to the real target with AWSCURRENT. In-place strategies may instead be in the
   * documented window (AWSPENDING logs in, and rotor/client's getSecret with failedVersionId
   * finds it) or a documented gap; anything else is broken.
   */
  private async observe(at: string, quiet = false): Promise<void> {
    let found: Observation | undefined;
    for (let attempt = 1; !found; attempt++) {
      try {
        found = await this.look(at);
      } catch (err) {
        // A label moved between DescribeSecret and GetSecretValue (a step ran meanwhile): look again.
        if (!['InvalidRequestException', 'SecretReadError'].includes(errorName(err)) || attempt >= 5) throw err;
      }
    }
    if (quiet && found.state === 'current') return;
    if (quiet && this.observations.some((o) => o.at === at && o.state === found.state && o.note === found.note)) return;
    this.observations.push(found);
    if (found.state === 'broken') this.broken = true;
  }

  private async look(at: string): Promise<Observation> {
    const arn = this.subject.arn;
    const versions = await this.player.versions(arn);
    const currentId = Object.entries(versions).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
    const current = currentId ? await this.valueOf(currentId, 'AWSCURRENT') : undefined;
    if (current && (await this.subject.works(current))) return { at, state: 'current' };
    if (!this.target.inPlace) return { at, state: 'broken', note: 'AWSCURRENT is refused' };
    const pendingId = Object.entries(versions).find(([, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'))?.[0];
    const pending = pendingId ? await this.valueOf(pendingId, 'AWSPENDING') : undefined;
    if (pending && (await this.subject.works(pending))) {
      // What an application sees: refused with AWSCURRENT, it asks again naming the version.
      const cache = new SecretCache({ client: this.player.client });
      const got = await cache.getVersion(arn, { failedVersionId: currentId });
      if (got.versionId === pendingId && (await this.subject.works(got.value as Record<string, unknown>))) {
        return { at, state: 'window', note: 'AWSCURRENT refused, AWSPENDING logs in; rotor/client (failedVersionId) reads AWSPENDING' };
      }
      return { at, state: 'broken', note: 'AWSPENDING logs in but rotor/client does not read it' };
    }
    const unlabelled = await this.unlabelledThatWorks(versions);
    if (unlabelled) {
      return {
        at,
        state: 'gap',
        note:
          `only the unlabelled version ${unlabelled} logs in: a rotation that had changed the credential in place was ` +
          "cancelled or abandoned (README, single-user: the next setSecret finds it in the secret's history; " +
          'roll-only tokens: the next createSecret rolls again by token id)',
      };
    }
    const gap = await this.target.gap?.(this.subject, { step: this.step, fault: this.fault });
    if (gap) return { at, state: 'gap', note: gap };
    return { at, state: 'broken', note: 'no version logs in' };
  }

  private async valueOf(versionId: string, stage: string): Promise<Record<string, unknown> | undefined> {
    try {
      const out = await this.player.client.send(
        new GetSecretValueCommand({ SecretId: this.subject.arn, VersionId: versionId, VersionStage: stage }),
      );
      return out.SecretString ? (JSON.parse(out.SecretString) as Record<string, unknown>) : undefined;
    } catch (err) {
      if (errorName(err) === 'ResourceNotFoundException') return undefined;
      throw err;
    }
  }

  private async unlabelledThatWorks(labelled: Record<string, string[]>): Promise<string | undefined> {
    const list = await this.player.client.send(new ListSecretVersionIdsCommand({ SecretId: this.subject.arn, IncludeDeprecated: true }));
    for (const v of list.Versions ?? []) {
      if (!v.VersionId || (labelled[v.VersionId] ?? v.VersionStages ?? []).length > 0) continue;
      const out = await this.player.client
        .send(new GetSecretValueCommand({ SecretId: this.subject.arn, VersionId: v.VersionId }))
        .catch(() => undefined);
      let value: Record<string, unknown> | undefined;
      try {
        value = out?.SecretString ? (JSON.parse(out.SecretString) as Record<string, unknown>) : undefined;
      } catch {
        value = undefined;
      }
      if (!value || 'rotorClaim' in value) continue;
      if (await this.subject.works(value)) return v.VersionId;
    }
    return undefined;
  }

  /** Kinds that fingerprint their values: the tags name AWSCURRENT's (and AWSPREVIOUS's) identity. */
  private async checkFingerprints(when: string): Promise<void> {
    const identity = this.target.leakIdentity;
    if (!identity) return;
    const described = await this.player.client.send(new DescribeSecretCommand({ SecretId: this.subject.arn }));
    const tags = new Map((described.Tags ?? []).map((t) => [t.Key, t.Value]));
    const versions = described.VersionIdsToStages ?? {};
    for (const [stage, tag] of [
      ['AWSCURRENT', RotorTags.FINGERPRINT_CURRENT],
      ['AWSPREVIOUS', RotorTags.FINGERPRINT_PREVIOUS],
    ] as const) {
      const id = Object.entries(versions).find(([, s]) => s.includes(stage))?.[0];
      const value = id ? await this.valueOf(id, stage) : undefined;
      if (!value) continue;
      const key = this.target.fingerprintKey?.();
      if (!key || tags.get(tag) !== key.fingerprint(identity(value))) {
        this.broken = true;
        this.notes.push(`${when}, tag ${tag} does not fingerprint ${stage} (an emergency lookup by the leaked value would miss or mislabel it)`);
      }
    }
  }
}

function barrierCall(step: Step, issues: boolean): (operation: string, body: Record<string, unknown>) => boolean {
  switch (step) {
    case Steps.CREATE:
      // The first write of each: the claim (kinds that issue) or the pending value.
      return issues ? (operation) => operation === 'PutSecretValue' : isPendingStore;
    case Steps.FINISH:
      return (operation) => operation === 'UpdateSecretVersionStage';
    default:
      return (operation) => operation === 'DescribeSecret';
  }
}

function describe(d: Delivery): string {
  return d.ok ? d.outcome : `failed (${d.error.slice(0, 120)})`;
}

// --- the table ---------------------------------------------------------------------------------

const CELL: Record<Outcome, string> = { converged: 'C', 'stayed pending': 'P', failed: 'F' };
const MARK: Record<ObservedState, string> = { current: '', window: 'w', gap: 'g', broken: '!' };

/** Where the JSON of each part and the merged table go. */
export function matrixPaths(part?: string) {
  const dir = join(tmpdir(), 'rotor-fault-matrix');
  return { dir, part: part ? join(dir, `${part}.json`) : undefined, merged: join(dir, 'matrix.json') };
}

function report(part: string, rows: readonly MatrixRow[]): void {
  if (rows.length === 0) return;
  const paths = matrixPaths(part);
  mkdirSync(paths.dir, { recursive: true });
  writeFileSync(paths.part!, JSON.stringify({ part, writtenAt: new Date().toISOString(), rows }, null, 2));
  // Every part present (the latest run of each file), merged into one table.
  const parts = readdirSync(paths.dir)
    .filter((f) => f.endsWith('.json') && f !== 'matrix.json')
    .map((f) => JSON.parse(readFileSync(join(paths.dir, f), 'utf8')) as { part: string; writtenAt: string; rows: MatrixRow[] });
  const all = parts.flatMap((p) => p.rows);
  writeFileSync(
    paths.merged,
    JSON.stringify({ parts: parts.map((p) => ({ part: p.part, writtenAt: p.writtenAt })), summary: summary(all), legend: FAULT_LEGEND, rows: all }, null, 2),
  );
  console.log(
    [
      `fault matrix (${part}): ${JSON.stringify(summary(rows))}`,
      table(rows),
      `legend: C converged, P stayed pending, F failed; marks: w the documented single-user window was observed ` +
        '(AWSCURRENT refused, AWSPENDING logs in, rotor/client reads it), g a documented gap, ! AWSCURRENT broken',
      'the single-user window (README, "single-user"): from the in-place change (setSecret\'s ALTER ROLE / SET PASSWORD; ' +
        "a roll-only provider's roll in createSecret) until finishSecret moves AWSCURRENT, AWSCURRENT is refused and " +
        'AWSPENDING logs in; rotor/client (getSecret with failedVersionId, pgPool) reads AWSPENDING there',
      'cases with a gap, another outcome than converged, or credentials left behind:',
      ...notable(rows),
      `JSON of this part: ${paths.part}`,
      `JSON of all parts (${parts.map((p) => p.part).join(', ')}): ${paths.merged} — all parts: ${JSON.stringify(summary(all))}`,
    ].join('\n'),
  );
}

export function summary(rows: readonly MatrixRow[]) {
  const count = (o: Outcome) => rows.filter((r) => r.outcome === o).length;
  return {
    cases: rows.length,
    converged: count('converged'),
    'stayed pending': count('stayed pending'),
    failed: count('failed'),
    windowObserved: rows.filter((r) => r.observed === 'window').length,
    gapObserved: rows.filter((r) => r.observed === 'gap').length,
  };
}

function table(rows: readonly MatrixRow[]): string {
  const columns = [...FAULTS, CANCELLED_AFTER, EMERGENCY_AFTER].filter((c) => rows.some((r) => r.fault === c));
  const order = (r: MatrixRow) => `${r.kind}\u0000${r.strategy}\u0000${STEPS.indexOf(r.step as Step)}`;
  const keys = [...new Map(rows.map((r) => [`${r.kind}\u0000${r.strategy}\u0000${r.step}`, r])).values()].sort((x, y) =>
    order(x) < order(y) ? -1 : order(x) > order(y) ? 1 : 0,
  );
  const kindWidth = Math.max(4, ...keys.map((r) => r.kind.length));
  const strategyWidth = Math.max(8, ...keys.map((r) => r.strategy.length));
  const stepWidth = Math.max(4, ...keys.map((r) => r.step.length));
  const widths = columns.map((c) => Math.max(c.length, 3));
  const line = (cells: string[]) => cells.join(' | ');
  const head = line(['kind'.padEnd(kindWidth), 'strategy'.padEnd(strategyWidth), 'step'.padEnd(stepWidth), ...columns.map((c, i) => c.padEnd(widths[i]!))]);
  const body = keys.map((key) =>
    line([
      key.kind.padEnd(kindWidth),
      key.strategy.padEnd(strategyWidth),
      key.step.padEnd(stepWidth),
      ...columns.map((c, i) => {
        const r = rows.find((x) => x.kind === key.kind && x.strategy === key.strategy && x.step === key.step && x.fault === c);
        return (r ? `${CELL[r.outcome]}${MARK[r.observed]}` : '').padEnd(widths[i]!);
      }),
    ]),
  );
  return [head, head.replace(/[^|]/g, '-'), ...body].join('\n');
}

function notable(rows: readonly MatrixRow[]): string[] {
  return rows
    .filter((r) => r.outcome !== 'converged' || RANK[r.observed] > RANK.window || r.notes.some((n) => n.startsWith('left behind')))
    .map((r) => {
      const seen = new Map<string, string[]>();
      for (const o of r.observations.filter((x) => x.state !== 'current')) {
        const key = `${o.state}: ${o.note ?? ''}`;
        seen.set(key, [...(seen.get(key) ?? []), o.at]);
      }
      const where = [...seen].map(([what, at]) => `${what.split(':')[0]} (${[...new Set(at)].join(', ')}):${what.slice(what.indexOf(':') + 1)}`);
      return `  ${r.kind}/${r.strategy} ${r.step} × ${r.fault}: ${r.outcome}; ${[...where, ...r.notes].join('; ')}`;
    });
}
