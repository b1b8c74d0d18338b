import type { Duration } from './types.js';

const UNIT_SECONDS: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1 };

/**
 * Turns a duration into whole seconds, or returns an explanation of why it is not one.
 * Accepts seconds (`300`), compact strings (`"5m"`, `"1d"`, `"2h30m"`) and timedelta-like objects
 * (`{"minutes": 5}`), the last so that a SIMPLE_JWT dict translates word for word.
 */
export function parseDuration(value: Duration | unknown): number | string {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? value : 'a non-negative number of seconds';
  }
  if (typeof value === 'string') {
    const s = value.trim();
    if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
    if (!/^(\d+[dhms])+$/.test(s)) return 'a duration such as "300", "5m", "1d" or "2h30m"';
    let total = 0;
    for (const m of s.matchAll(/(\d+)([dhms])/g)) total += Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] ?? 1);
    return total;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    let total = 0;
    for (const [k, v] of Object.entries(value)) {
      const unit = { days: 86400, hours: 3600, minutes: 60, seconds: 1 }[k];
      if (unit === undefined || typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        return 'an object with days/hours/minutes/seconds numbers, e.g. {"minutes": 5}';
      }
      total += v * unit;
    }
    return total;
  }
  return 'a number of seconds, a string such as "5m", or {"minutes": 5}';
}
