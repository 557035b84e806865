import type { RotationRulesType } from '@aws-sdk/client-secrets-manager';

/** When a secret rotates next, and what that was worked out from. */
export interface NextRotation {
  /** Undefined when it cannot be computed (a cron schedule, a secret never rotated). */
  readonly at?: Date;
  /**
   * `service`: Secrets Manager's NextRotationDate; `automatically-after-days` and `rate`: the
   * last rotation plus the interval; `cron`: not computed, see `text`; `unknown`: no basis.
   */
  readonly basis: 'service' | 'automatically-after-days' | 'rate' | 'cron' | 'unknown';
  /** For people: the time, or why there is none. */
  readonly text: string;
}

export interface RotationSchedule {
  readonly rotationEnabled: boolean;
  readonly nextRotationDate?: Date;
  readonly lastRotatedDate?: Date;
  readonly rules?: RotationRulesType;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** `rate(4 hours)`, `rate(1 day)`, `rate(30 days)` as milliseconds; undefined for anything else. */
export function rateInterval(expression: string): number | undefined {
  const match = /^rate\(\s*(\d+)\s+(hour|hours|day|days)\s*\)$/.exec(expression.trim());
  if (!match) return undefined;
  return Number(match[1]) * (match[2]!.startsWith('hour') ? HOUR : DAY);
}

/**
 * The next rotation of a secret whose rotation is on: the service's NextRotationDate when it
 * gives one, else the last rotation plus AutomaticallyAfterDays or a rate() interval. A cron()
 * schedule is reported as such, not computed. Undefined when rotation is off.
 */
export function nextRotation(schedule: RotationSchedule): NextRotation | undefined {
  if (!schedule.rotationEnabled) return undefined;
  if (schedule.nextRotationDate) return { at: schedule.nextRotationDate, basis: 'service', text: schedule.nextRotationDate.toISOString() };
  const rules = schedule.rules ?? {};
  const expression = rules.ScheduleExpression?.trim();
  if (expression?.startsWith('cron(')) return { basis: 'cron', text: `per ${expression}` };
  const last = schedule.lastRotatedDate;
  const fromLast = (interval: number, basis: NextRotation['basis']): NextRotation => {
    if (!last) return { basis, text: 'unknown (never rotated)' };
    const at = new Date(last.getTime() + interval);
    return { at, basis, text: at.toISOString() };
  };
  if (expression) {
    const interval = rateInterval(expression);
    if (interval !== undefined) return fromLast(interval, 'rate');
    return { basis: 'unknown', text: `unknown (schedule '${expression.slice(0, 60)}')` };
  }
  if (rules.AutomaticallyAfterDays) return fromLast(rules.AutomaticallyAfterDays * DAY, 'automatically-after-days');
  return { basis: 'unknown', text: 'unknown (no rotation rules)' };
}
