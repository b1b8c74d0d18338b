/** Argument checks shared by every `RateCounter` implementation, so that all refuse the same mistakes. */
import type { RateSlot } from './types.js';

/** @throws RangeError for a key that is not a non-empty string. */
export function checkRateKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw new RangeError('key must be a non-empty string');
}

/** @throws RangeError for an empty key or a window that is not a positive number of seconds. */
export function checkRateArguments(key: string, windowSeconds: number): void {
  checkRateKey(key);
  if (typeof windowSeconds !== 'number' || !Number.isFinite(windowSeconds) || windowSeconds <= 0) {
    throw new RangeError(`windowSeconds must be a positive number, got ${String(windowSeconds)}`);
  }
}

/**
 * The checks of `RateCounter.reserve`'s slots.
 *
 * @throws RangeError for a bad key or window, a limit that is not a positive whole number, or a key given twice (it
 *   would be checked once and counted twice).
 */
export function checkRateSlots(slots: readonly RateSlot[]): void {
  if (!Array.isArray(slots)) throw new RangeError('slots must be an array');
  const seen = new Set<string>();
  for (const { key, limit, windowSeconds } of slots) {
    checkRateArguments(key, windowSeconds);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive whole number, got ${String(limit)}`);
    if (seen.has(key)) throw new RangeError(`key "${key}" is given twice`);
    seen.add(key);
  }
}

/** Milliseconds of a window (at least 1, so that a tiny window still opens). */
export function windowMs(windowSeconds: number): number {
  return Math.max(1, Math.ceil(windowSeconds * 1000));
}
