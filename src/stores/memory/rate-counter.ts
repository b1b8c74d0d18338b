/**
 * Login-throttling counters for one process (tests, single-instance servers). Several instances need the Redis
 * counter (`restjwt/stores/redis`), or each would count only its own share of the attempts.
 */
import type { RateCounter } from '../../core/store/types.js';

interface Window {
  count: number;
  /** When the window closes (ms since the epoch). */
  endsAt: number;
}

/** Sweep closed windows once the map holds this many keys. */
const SWEEP_THRESHOLD = 10_000;

/** A {@link RateCounter} in a `Map`: fixed windows that open at a key's first hit. */
export class MemoryRateCounter implements RateCounter {
  private readonly windows = new Map<string, Window>();

  /** `clock` returns the current time in milliseconds (injectable for tests). */
  constructor(private readonly clock: () => number = Date.now) {}

  async hit(key: string, windowSeconds: number): Promise<number> {
    if (typeof key !== 'string' || key === '') throw new RangeError('key must be a non-empty string');
    if (typeof windowSeconds !== 'number' || !Number.isFinite(windowSeconds) || windowSeconds <= 0) {
      throw new RangeError(`windowSeconds must be a positive number, got ${String(windowSeconds)}`);
    }
    const now = this.clock();
    if (this.windows.size >= SWEEP_THRESHOLD) this.sweep(now);
    const current = this.windows.get(key);
    if (current === undefined || current.endsAt <= now) {
      this.windows.set(key, { count: 1, endsAt: now + Math.max(1, Math.ceil(windowSeconds * 1000)) });
      return 1;
    }
    current.count++;
    return current.count;
  }

  async peek(key: string): Promise<number> {
    const current = this.windows.get(key);
    return current === undefined || current.endsAt <= this.clock() ? 0 : current.count;
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  /** Number of keys held (closed windows included until the next sweep). */
  get size(): number {
    return this.windows.size;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}

/** A new, empty {@link MemoryRateCounter}. */
export function createMemoryRateCounter(clock?: () => number): MemoryRateCounter {
  return new MemoryRateCounter(clock);
}
