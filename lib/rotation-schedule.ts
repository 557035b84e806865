import { Duration, Token } from 'aws-cdk-lib';
import { shortestCronIntervalHours } from './cron-interval.js';

/** Shortest interval Secrets Manager accepts between rotations. */
export const MIN_ROTATION_INTERVAL = Duration.hours(4);
/** Longest interval Secrets Manager accepts between rotations. */
export const MAX_ROTATION_INTERVAL = Duration.days(1000);

/**
 * When Secrets Manager rotates a secret: a `rate()` or a `cron()` expression (Secrets Manager's
 * RotationRules.ScheduleExpression). aws-cdk-lib's RotationSchedule only takes a rate; this
 * class covers both and validates them against the service's rules at synth time.
 */
export class RotorSchedule {
  /** Every `interval` (at least 4 hours, whole hours, at most 1000 days). */
  public static rate(interval: Duration): RotorSchedule {
    if (Token.isUnresolved(interval.toSeconds())) {
      throw new Error('schedule: rate interval must be a concrete duration, not a token');
    }
    const hours = interval.toHours({ integral: false });
    if (hours < MIN_ROTATION_INTERVAL.toHours()) {
      throw new Error(`schedule: rate must be at least 4 hours, got ${interval.toHumanString()}`);
    }
    if (!Number.isInteger(hours)) {
      throw new Error(`schedule: rate must be a whole number of hours, got ${interval.toHumanString()}`);
    }
    if (hours > MAX_ROTATION_INTERVAL.toHours()) {
      throw new Error(`schedule: rate must be at most 1000 days, got ${interval.toHumanString()}`);
    }
    const expression = hours % 24 === 0 ? `rate(${hours / 24} days)` : `rate(${hours} hours)`;
    return new RotorSchedule(expression, hours, hours % 24 === 0 ? 0 : undefined, hours);
  }

  /**
   * A Secrets Manager cron expression with six fields: minutes hours day-of-month month
   * day-of-week year, e.g. `cron(0 4 ? * SUN *)`. Minutes must be 0: Secrets Manager rotates
   * within hours, not minutes.
   */
  public static cron(expression: string): RotorSchedule {
    const m = /^cron\((.*)\)$/.exec(expression.trim());
    const fields = m?.[1]?.trim().split(/\s+/) ?? [];
    if (!m || fields.length !== 6) {
      throw new Error(`schedule: cron expression must have six fields inside cron(...), got '${expression}'`);
    }
    const [minutes, hours, dayOfMonth, , dayOfWeek] = fields as [string, string, string, string, string, string];
    if (minutes !== '0') {
      throw new Error(`schedule: cron minutes must be 0 (Secrets Manager rotates on the hour), got '${minutes}' in '${expression}'`);
    }
    if (dayOfMonth !== '?' && dayOfWeek !== '?') {
      throw new Error(`schedule: cron needs '?' in day-of-month or day-of-week, got '${expression}'`);
    }
    // The interval is only known for simple hour fields: a fixed hour (daily or less often) or `*/N`.
    let interval: number | undefined;
    let startHour: number | undefined;
    if (/^\d+$/.test(hours)) {
      startHour = Number(hours);
      if (startHour > 23) throw new Error(`schedule: cron hour must be 0-23, got '${hours}' in '${expression}'`);
      interval = 24;
    } else {
      const step = /^(?:\*|0)\/(\d+)$/.exec(hours);
      if (step) {
        interval = Number(step[1]);
        if (interval < 4) {
          throw new Error(`schedule: cron must not rotate more often than every 4 hours, got '${hours}' in '${expression}'`);
        }
        startHour = 0;
      }
    }
    return new RotorSchedule(`cron(${fields.join(' ')})`, interval, startHour, shortestCronIntervalHours(fields));
  }

  /** A `rate(N hours|days)` or `cron(...)` expression as written in a config file. */
  public static expression(expression: string): RotorSchedule {
    const text = expression.trim();
    const rate = /^rate\((\d+) (hour|hours|day|days)\)$/.exec(text);
    if (rate) {
      const n = Number(rate[1]);
      return RotorSchedule.rate(rate[2]!.startsWith('hour') ? Duration.hours(n) : Duration.days(n));
    }
    if (text.startsWith('cron(')) return RotorSchedule.cron(text);
    throw new Error(`schedule: expected 'rate(N hours|days)' or 'cron(...)', got '${expression}'`);
  }

  private constructor(
    /** The ScheduleExpression. */
    public readonly expression: string,
    /** Hours between windows where the expression makes that plain (for window validation). */
    private readonly minIntervalHours: number | undefined,
    /** UTC hour the window opens, where known (midnight for rates in days). */
    private readonly startHour: number | undefined,
    /** Shortest time between two window starts, hours (Infinity: it rotates at most once). */
    private readonly shortestIntervalHours: number,
  ) {}

  /**
   * The shortest time between the starts of two rotation windows: the rate itself, or for a
   * cron the shortest interval its calendar produces (see `shortestCronIntervalHours`, which
   * falls back to a documented conservative bound for syntax it does not model). Undefined when
   * the schedule rotates at most once.
   */
  public get shortestInterval(): Duration | undefined {
    return Number.isFinite(this.shortestIntervalHours) ? Duration.hours(this.shortestIntervalHours) : undefined;
  }

  /**
   * The RotationRules.Duration for a window, validated: whole hours, 1 to 24, not reaching into
   * the next window or the next UTC day.
   */
  public windowDuration(window: Duration | undefined): string | undefined {
    if (window === undefined) return undefined;
    const hours = window.toHours({ integral: false });
    if (!Number.isInteger(hours) || hours < 1 || hours > 24) {
      throw new Error(`window must be a whole number of hours between 1 and 24, got ${window.toHumanString()}`);
    }
    if (this.minIntervalHours !== undefined && hours >= this.minIntervalHours) {
      throw new Error(
        `window must be shorter than the interval between rotations (${this.minIntervalHours} hours), got ${window.toHumanString()}`,
      );
    }
    if (this.startHour !== undefined && this.startHour + hours > 24) {
      throw new Error(
        `window must not extend into the next UTC day: it opens at ${this.startHour}:00, got ${window.toHumanString()}`,
      );
    }
    return `${hours}h`;
  }
}
