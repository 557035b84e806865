import { Duration, Token } from 'aws-cdk-lib';
import { Bounds, DEFAULT_GRACE_HOURS } from '../lambdas/contract/index.js';
import type { RotorSchedule } from './rotation-schedule.js';

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

/**
 * Consumers read a secret through caches: the Secrets Manager Lambda extension and Agent keep a
 * value 300 s by default, the SDK caching clients (aws-secretsmanager-caching) 1 hour. A consumer
 * may keep using the previous value that long after a rotation, so a grace window shorter than
 * the cache TTL the consumers declare would retire a value still served from their caches.
 * Refused at synth time, naming the props and both values. `names` are the props as the caller
 * spells them (RotorStack's config fields).
 */
export function validateConsumerCacheTtl(
  id: string,
  grace: Duration,
  ttl: Duration | undefined,
  names: { readonly grace: string; readonly ttl: string } = { grace: 'gracePeriod', ttl: 'consumerCacheTtl' },
): void {
  if (ttl === undefined) return;
  if (Token.isUnresolved(ttl.toMilliseconds())) throw new Error(`${id}: ${names.ttl} must be a concrete duration, not a token`);
  if (ttl.toMilliseconds() <= 0) throw new Error(`${id}: ${names.ttl} must be longer than 0, got ${ttl.toHumanString()}`);
  if (grace.toMilliseconds() < ttl.toMilliseconds()) {
    throw new Error(
      `${id}: ${names.grace} must not be shorter than ${names.ttl} (consumers may use the previous value from their cache ` +
        `that long after a rotation), got ${names.grace} ${grace.toHumanString()} and ${names.ttl} ${ttl.toHumanString()}`,
    );
  }
}
