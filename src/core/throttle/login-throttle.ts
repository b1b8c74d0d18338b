import type { RateCounter } from './rate-counter.js';

/** One limit: at most `limit` failed logins per `windowSeconds`. */
export interface ThrottleRule {
  limit: number;
  windowSeconds: number;
}

/** Login throttling settings. */
export interface LoginThrottleSettings {
  /** Failures for one username from one address (the tight limit). */
  perUsernameAndAddress: ThrottleRule;
  /** Failures for one username from anywhere (looser: an attacker alone cannot lock a user out). */
  perUsername: ThrottleRule;
  /** Failures from one address for any username (password spraying). */
  perAddress: ThrottleRule;
}

/** A throttled answer: how long the client should wait. */
export interface Throttled {
  retryAfterSeconds: number;
}

/**
 * Decides whether a login attempt may proceed and records failures. Only failures count, windows are fixed and
 * expire on their own (a lockout never lasts longer than one window after the last failure), a locked-out correct
 * password is refused too, and the answer is the same whether or not the user exists.
 */
export class LoginThrottle {
  constructor(
    private readonly counter: RateCounter,
    private readonly rules: LoginThrottleSettings,
  ) {}

  private keys(username: string, address: string): Array<[string, ThrottleRule]> {
    const u = username.toLowerCase();
    return [
      [`login:ua:${u}|${address}`, this.rules.perUsernameAndAddress],
      [`login:u:${u}`, this.rules.perUsername],
      [`login:a:${address}`, this.rules.perAddress],
    ];
  }

  /** Null when the attempt may proceed, else how long to wait. */
  async check(username: string, address: string): Promise<Throttled | null> {
    let wait = 0;
    for (const [key, rule] of this.keys(username, address)) {
      const { count, resetInSeconds } = await this.counter.peek(key);
      if (count >= rule.limit) wait = Math.max(wait, resetInSeconds);
    }
    return wait > 0 ? { retryAfterSeconds: wait } : null;
  }

  /** Records a failed attempt. */
  async failed(username: string, address: string): Promise<void> {
    for (const [key, rule] of this.keys(username, address)) await this.counter.hit(key, rule.windowSeconds);
  }

  /** A successful login clears this username's failures from this address. */
  async succeeded(username: string, address: string): Promise<void> {
    const first = this.keys(username, address)[0];
    if (first !== undefined) await this.counter.reset(first[0]);
  }
}
