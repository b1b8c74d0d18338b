/**
 * Value checks every store applies at its boundary, written once: dates, paging, token versions, flush batches.
 */
import { randomBytes } from 'node:crypto';

/** Rows `flushExpired` deletes per transaction unless told otherwise. */
export const DEFAULT_FLUSH_BATCH_SIZE = 1000;

/** Milliseconds of a Date, refusing an invalid one with a message naming the field. */
export function toMillis(date: Date, what: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new RangeError(`${what} must be a valid Date`);
  return ms;
}

/** `listUsers` paging, validated: non-negative integers, offset 0 by default. */
export function checkPage(options: { limit?: number; offset?: number }): { limit: number | undefined; offset: number } {
  const { limit, offset = 0 } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${String(offset)}`);
  return { limit, offset };
}

/** A new token version: 128 random bits as 32 hex characters. */
export function newTokenVersion(): string {
  return randomBytes(16).toString('hex');
}
