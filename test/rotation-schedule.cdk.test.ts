import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { shortestCronIntervalHours } from '../lib/cron-interval.js';
import { RotorSchedule } from '../lib/rotation-schedule.js';

const shortest = (expression: string) => RotorSchedule.expression(expression).shortestInterval?.toHours();

describe('RotorSchedule.shortestInterval', () => {
  it('is the rate of a rate schedule', () => {
    expect(shortest('rate(7 days)')).toBe(7 * 24);
    expect(shortest('rate(12 hours)')).toBe(12);
    expect(RotorSchedule.rate(Duration.days(30)).shortestInterval?.toHours()).toBe(30 * 24);
  });

  it('is the shortest gap a cron calendar produces', () => {
    expect(shortest('cron(0 4 ? * SUN *)')).toBe(7 * 24);
    expect(shortest('cron(0 4 * * ? *)')).toBe(24);
    expect(shortest('cron(0 */6 * * ? *)')).toBe(6);
    // Across midnight: 23:00 then 02:00 the next day.
    expect(shortest('cron(0 2,23 * * ? *)')).toBe(3);
    expect(shortest('cron(0 4 ? * MON-FRI *)')).toBe(24);
    expect(shortest('cron(0 4 1,15 * ? *)')).toBe(14 * 24);
    // Monthly: February is the shortest month.
    expect(shortest('cron(0 4 1 * ? *)')).toBe(28 * 24);
    expect(shortest('cron(0 4 L * ? *)')).toBe(28 * 24);
    expect(shortest('cron(0 4 ? * MON#1 *)')).toBe(28 * 24);
    expect(shortest('cron(0 4 ? JAN,JUL MON#1 *)')).toBeGreaterThanOrEqual(175 * 24);
  });

  it('is undefined for a cron that fires at most once', () => {
    expect(RotorSchedule.cron('cron(0 4 1 1 ? 2030)').shortestInterval).toBeUndefined();
  });

  it('falls back to the documented conservative bound for syntax it does not model', () => {
    // A wrapping weekday range: one fixed hour fires at most daily.
    expect(shortestCronIntervalHours(['0', '4', '?', '*', 'FRI-MON', '*'])).toBe(24);
    // Anything else: Secrets Manager's shortest interval.
    expect(shortestCronIntervalHours(['0', '4-2', '*', '*', '?', '*'])).toBe(4);
  });
});
