/**
 * Value checks every store applies at its boundary, written once: dates, paging, token versions, flush batches.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { OutstandingState, TokenKindName } from '../../core/store/types.js';

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

/** An outstanding-token row joined with its blacklist row, as the SQL stores read it (times as ms, Date or text). */
export interface OutstandingStateRow {
  jti: string;
  user_id: string | number | bigint | null;
  token_type: TokenKindName;
  family_id: string | null;
  created_at: number | string | Date;
  expires_at: number | string | Date;
  blacklisted_at: number | string | Date | null;
  replaced_by: string | null;
}

/** The contract's view of such a row: string ids, Date times. */
export function outstandingStateFromRow(row: OutstandingStateRow): OutstandingState {
  return {
    jti: row.jti,
    userId: row.user_id === null ? null : String(row.user_id),
    tokenType: row.token_type,
    familyId: row.family_id,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    blacklistedAt: row.blacklisted_at === null ? null : new Date(row.blacklisted_at),
    replacedBy: row.replaced_by,
  };
}

/** `flushExpired`'s batch size, validated (default {@link DEFAULT_FLUSH_BATCH_SIZE}). */
export function checkBatchSize(options: { batchSize?: number }): number {
  const batchSize = options.batchSize ?? DEFAULT_FLUSH_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${String(options.batchSize)}`);
  }
  return batchSize;
}

/**
 * `flushExpired`'s loop, for every store: runs `deleteBatch` (one transaction deleting at most `batchSize` rows) until
 * a batch comes back short, reports the running total, and lets queued requests run between batches so that a large
 * flush never stalls the server.
 */
export async function deleteInBatches(
  batchSize: number,
  onProgress: ((p: { deleted: number }) => void) | undefined,
  deleteBatch: () => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await deleteBatch();
    if (deleted === 0) break;
    total += deleted;
    onProgress?.({ deleted: total });
    if (deleted < batchSize) break;
    await nextTurn();
  }
  return total;
}
