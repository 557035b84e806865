/**
 * The shortest interval a Secrets Manager cron expression can produce between two rotation
 * windows, found by walking its calendar: every day from 2000 to 2060 (two full 28-year cycles
 * of weekdays and leap years), or the years the expression names, and every hour it fires on
 * them. The grace window of a dual-active kind must be shorter than this interval, or the next
 * rotation cuts it short.
 *
 * Syntax it understands (EventBridge/Secrets Manager cron): numbers, names (JAN-DEC, SUN-SAT),
 * `*`, `?`, ranges `a-b`, lists `a,b`, steps `*\/n`, `a/n`, `a-b/n`; in day-of-month `L`, `LW`
 * and `nW`; in day-of-week `L`, `nL` and `n#k`. For anything else it falls back to a
 * conservative bound: 24 hours when the hour field is one fixed hour (such a cron fires at most
 * daily), else 4 hours (the shortest interval Secrets Manager accepts).
 */
export function shortestCronIntervalHours(fields: readonly string[]): number {
  const [, hours = '', dayOfMonth = '', month = '', dayOfWeek = '', year = '*'] = fields;
  const fallback = /^\d+$/.test(hours) ? 24 : 4;
  try {
    const hourSet = valuesOf(hours, 0, 23);
    const monthOk = predicate(month, 1, 12, MONTHS);
    const yearOk = predicate(year, 1970, 2199);
    const dayOk = dayPredicate(dayOfMonth, dayOfWeek);
    const [from, to] = year === '*' ? [2000, 2060] : [1970, 2199];
    let last: number | undefined;
    let shortest = Infinity;
    for (let y = from; y <= to; y++) {
      if (!yearOk(y)) continue;
      for (let m = 1; m <= 12; m++) {
        if (!monthOk(m)) continue;
        const days = daysIn(y, m);
        for (let d = 1; d <= days; d++) {
          if (!dayOk(y, m, d)) continue;
          const base = Date.UTC(y, m - 1, d) / 3_600_000;
          for (const h of hourSet) {
            const at = base + h;
            if (last !== undefined) shortest = Math.min(shortest, at - last);
            last = at;
          }
        }
      }
    }
    // Infinity: it fires at most once, and no later rotation can cut a grace window short.
    return shortest;
  } catch {
    return fallback;
  }
}

class Unsupported extends Error {}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** AWS numbers weekdays 1 (SUN) to 7 (SAT). */
function weekday(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function number(text: string, min: number, max: number, names?: readonly string[]): number {
  const named = names?.indexOf(text.toUpperCase()) ?? -1;
  const n = named >= 0 ? named + min : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new Unsupported(text);
  return n;
}

/** The values of a field made of `*`, numbers, ranges, lists and steps, sorted. */
function valuesOf(field: string, min: number, max: number, names?: readonly string[]): number[] {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : number(stepText, 1, max - min + 1);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      [lo, hi] = [number(a, min, max, names), number(b, min, max, names)];
      if (lo > hi) throw new Unsupported(part);
    } else {
      lo = number(range, min, max, names);
      hi = stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

function predicate(field: string, min: number, max: number, names?: readonly string[]): (v: number) => boolean {
  const values = new Set(valuesOf(field, min, max, names));
  return (v) => values.has(v);
}

function nearestWeekday(year: number, month: number, day: number): number | undefined {
  const last = daysIn(year, month);
  if (day > last) return undefined;
  const wd = weekday(year, month, day);
  if (wd === 7) return day === 1 ? 3 : day - 1;
  if (wd === 1) return day === last ? day - 2 : day + 1;
  return day;
}

type DayTest = (year: number, month: number, day: number) => boolean;

function dayPredicate(dayOfMonth: string, dayOfWeek: string): DayTest {
  if (dayOfMonth === '?' && dayOfWeek === '?') throw new Unsupported('? ?');
  if (dayOfMonth === '?') {
    const tests = dayOfWeek.split(',').map((part): DayTest => {
      const nth = /^(\w+)#([1-5])$/.exec(part);
      if (nth) {
        const wd = number(nth[1]!, 1, 7, WEEKDAYS);
        const k = Number(nth[2]);
        return (y, m, d) => weekday(y, m, d) === wd && Math.ceil(d / 7) === k;
      }
      const lastOf = /^(\w+)L$/.exec(part);
      if (lastOf) {
        const wd = number(lastOf[1]!, 1, 7, WEEKDAYS);
        return (y, m, d) => weekday(y, m, d) === wd && d + 7 > daysIn(y, m);
      }
      const days = new Set(part === 'L' ? [7] : valuesOf(part, 1, 7, WEEKDAYS));
      return (y, m, d) => days.has(weekday(y, m, d));
    });
    return (y, m, d) => tests.some((t) => t(y, m, d));
  }
  if (dayOfWeek !== '?') throw new Unsupported('both day fields');
  const tests = dayOfMonth.split(',').map((part): DayTest => {
    if (part === 'L') return (y, m, d) => d === daysIn(y, m);
    if (part === 'LW') return (y, m, d) => d === nearestWeekday(y, m, daysIn(y, m));
    const w = /^(\d+)W$/.exec(part);
    if (w) {
      const target = number(w[1]!, 1, 31);
      return (y, m, d) => d === nearestWeekday(y, m, target);
    }
    const days = new Set(valuesOf(part, 1, 31));
    return (_y, _m, d) => days.has(d);
  });
  return (y, m, d) => tests.some((t) => t(y, m, d));
}
