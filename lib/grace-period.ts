import { Duration, Token } from 'aws-cdk-lib';
import { Bounds, DEFAULT_GRACE_HOURS } from '../lambdas/contract';
import type { RotorSchedule } from './rotation-schedule';

/** Defaults of the grace window of dual-active kinds (KIND_TRAITS `dualActive`), in one place. */
export const gracePeriodDefaults = {
  gracePeriod: Duration.hours(DEFAULT_GRACE_HOURS),
  /** The longest grace window the handlers accept (Bounds.graceHours). */
  maxGracePeriod: Duration.hours(Bounds.graceHours.max),
} as const;

/** When the rotation after the one that starts a grace window can come. */
export type GraceScheduleCheck =
  | { readonly schedule: RotorSchedule; readonly automaticallyAfter?: never }
  | { readonly automaticallyAfter: Duration; readonly schedule?: never };

/**
 * Checks a dual-active kind's grace window at synth time: a concrete duration, at most
 * Bounds.graceHours.max, and shorter than the shortest interval between two rotations of the
 * effective schedule (`schedule`, a rate or a cron, or the `automaticallyAfter` rate), since the
 * next rotation would cut it short. Messages name the construct, the prop and both values.
 */
export function validateGracePeriod(id: string, grace: Duration, check: GraceScheduleCheck): void {
  if (Token.isUnresolved(grace.toMilliseconds())) throw new Error(`${id}: gracePeriod must be a concrete duration, not a token`);
  const max = gracePeriodDefaults.maxGracePeriod;
  if (grace.toMilliseconds() > max.toMilliseconds()) {
    throw new Error(`${id}: gracePeriod must be at most ${max.toHumanString()}, got ${grace.toHumanString()}`);
  }
  if (check.automaticallyAfter) {
    if (grace.toMilliseconds() >= check.automaticallyAfter.toMilliseconds()) {
      throw new Error(
        `${id}: gracePeriod must be shorter than automaticallyAfter (the next rotation would cut it short), ` +
          `got gracePeriod ${grace.toHumanString()} and automaticallyAfter ${check.automaticallyAfter.toHumanString()}`,
      );
    }
    return;
  }
  const interval = check.schedule.shortestInterval;
  if (interval && grace.toMilliseconds() >= interval.toMilliseconds()) {
    throw new Error(
      `${id}: gracePeriod must be shorter than the interval between rotations of schedule (the next rotation would cut it short), ` +
        `got gracePeriod ${grace.toHumanString()} and schedule '${check.schedule.expression}', whose rotations can be ${interval.toHumanString()} apart`,
    );
  }
}
