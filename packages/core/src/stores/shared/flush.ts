/** `flushExpired`, written once: its batch size and its loop. */

// After the I/O and timers already queued: `setImmediate` where the runtime has it, else a zero-delay timer.
const nextTurn = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** Rows `flushExpired` deletes per transaction unless told otherwise. */
export const DEFAULT_FLUSH_BATCH_SIZE = 1000;

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
