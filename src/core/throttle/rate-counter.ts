/**
 * A counter of events in a fixed time window, shared by every instance when backed by Redis. Used for login
 * throttling; the memory implementation serves one process.
 */
export interface RateCounter {
  /** Counts one event under `key` and returns the count in the current window and the seconds until it ends. */
  hit(key: string, windowSeconds: number): Promise<{ count: number; resetInSeconds: number }>;
  /** The current count without counting (0 when the window is over). */
  peek(key: string): Promise<{ count: number; resetInSeconds: number }>;
  /** Forgets `key` (a successful login clears its failures). */
  reset(key: string): Promise<void>;
}

/** A RateCounter in this process's memory, with expired windows pruned as it goes. */
export class MemoryRateCounter implements RateCounter {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async hit(key: string, windowSeconds: number): Promise<{ count: number; resetInSeconds: number }> {
    const now = this.now();
    let w = this.windows.get(key);
    if (w === undefined || w.endsAt <= now) {
      if (this.windows.size > 100_000) this.prune(now);
      w = { count: 0, endsAt: now + windowSeconds * 1000 };
      this.windows.set(key, w);
    }
    w.count++;
    return { count: w.count, resetInSeconds: Math.ceil((w.endsAt - now) / 1000) };
  }

  async peek(key: string): Promise<{ count: number; resetInSeconds: number }> {
    const now = this.now();
    const w = this.windows.get(key);
    if (w === undefined || w.endsAt <= now) return { count: 0, resetInSeconds: 0 };
    return { count: w.count, resetInSeconds: Math.ceil((w.endsAt - now) / 1000) };
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (w.endsAt <= now) this.windows.delete(k);
  }
}
