/**
 * Login-throttling counters for one process (tests, single-instance servers). Several instances need the Redis
 * counter (`@restjwt/redis`), or each would count only its own share of the attempts.
 */
import { checkRateArguments, checkRateKey, checkRateSlots, windowMs } from '../../store/rate-arguments.js';
import type { RateCounter, RateReservation, RateSlot } from '../../store/types.js';

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
    checkRateArguments(key, windowSeconds);
    return this.count(key, windowSeconds, this.clock());
  }

  async peek(key: string): Promise<number> {
    return this.current(key, this.clock())?.count ?? 0;
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  // Atomic because nothing between the check and the counting awaits: no other call runs in between.
  async reserve(slots: readonly RateSlot[]): Promise<RateReservation> {
    checkRateSlots(slots);
    const now = this.clock();
    const full = slots.filter((s) => (this.current(s.key, now)?.count ?? 0) >= s.limit).map((s) => s.key);
    if (full.length > 0) return { reserved: false, full };
    return { reserved: true, counts: slots.map((s) => this.count(s.key, s.windowSeconds, now)) };
  }

  async release(key: string): Promise<void> {
    checkRateKey(key);
    const current = this.current(key, this.clock());
    if (current !== undefined && current.count > 0) current.count--;
  }

  /** Number of keys held (closed windows included until the next sweep). */
  get size(): number {
    return this.windows.size;
  }

  /** `key`'s window when one is open at `now`. */
  private current(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    return window === undefined || window.endsAt <= now ? undefined : window;
  }

  /** Counts one hit for `key` at `now`, opening a window when none is. */
  private count(key: string, windowSeconds: number, now: number): number {
    if (this.windows.size >= SWEEP_THRESHOLD) this.sweep(now);
    const current = this.current(key, now);
    if (current === undefined) {
      this.windows.set(key, { count: 1, endsAt: now + windowMs(windowSeconds) });
      return 1;
    }
    current.count++;
    return current.count;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}

/** A new, empty {@link MemoryRateCounter}. */
export function createMemoryRateCounter(clock?: () => number): MemoryRateCounter {
  return new MemoryRateCounter(clock);
}
