import type { LoginThrottleSettings, ThrottleRuleSetting } from '../settings/types.js';
import type { RateCounter } from '../store/types.js';

/**
 * A login attempt {@link LoginThrottle.reserve} counted before its password was checked. Left alone it stays counted:
 * a failure needs no further call.
 */
export interface LoginAttempt {
  /** The password was right: the attempt is no failure, and this username's failures from this address are cleared. */
  succeeded(): Promise<void>;
  /** The attempt ended without a verdict on the password (an outage): it is not counted after all. */
  abandoned(): Promise<void>;
}

/**
 * Decides whether a login attempt may proceed and records failures. Only failures count; windows are fixed and
 * expire on their own, so a lockout never outlasts one window after the last failure; a locked-out correct password
 * is refused too; and the answer is the same whether or not the user exists. The per username+address limit is the
 * tight one, so an attacker at one address cannot lock the user out of every other address.
 *
 * {@link reserve} counts an attempt before its password is checked, atomically with the limit check, so that a burst
 * of parallel guesses gets no more password checks than the limit. {@link check} then {@link failed} count after the
 * check instead, for callers whose failures are known only once the attempt has run (social sign-in).
 */
export class LoginThrottle {
  constructor(
    private readonly counter: RateCounter,
    private readonly rules: LoginThrottleSettings,
  ) {}

  private keys(username: string, address: string): Array<[string, ThrottleRuleSetting]> {
    const u = username.toLowerCase();
    return [
      [`login:ua:${u}|${address}`, this.rules.perUsernameAndAddress],
      [`login:u:${u}`, this.rules.perUsername],
      [`login:a:${address}`, this.rules.perAddress],
    ];
  }

  /** A whole window of the longest full rule: the client cannot do better. */
  private static wait(full: Array<[string, ThrottleRuleSetting]>): number | null {
    return full.length === 0 ? null : Math.max(...full.map(([, rule]) => rule.windowSeconds));
  }

  /**
   * Counts an attempt on every key unless one of them is at its limit, in one atomic step of the counter: of N
   * parallel attempts at most the limit are let through, on one instance or (with a shared counter) on several.
   * Returns the attempt to report back, or the seconds to wait when it may not proceed (nothing was counted).
   */
  async reserve(username: string, address: string): Promise<{ attempt: LoginAttempt } | { wait: number }> {
    const keys = this.keys(username, address);
    const result = await this.counter.reserve(keys.map(([key, rule]) => ({ key, limit: rule.limit, windowSeconds: rule.windowSeconds })));
    if (!result.reserved) return { wait: LoginThrottle.wait(keys.filter(([key]) => result.full.includes(key))) ?? 1 };
    const [first, ...others] = keys.map(([key]) => key);
    return {
      attempt: {
        succeeded: async () => {
          // The username+address count holds this username's failures and this reservation: both go.
          if (first !== undefined) await this.counter.reset(first);
          for (const key of others) await this.counter.release(key);
        },
        abandoned: async () => {
          for (const [key] of keys) await this.counter.release(key);
        },
      },
    };
  }

  /** Null when the attempt may proceed, else the seconds to wait. Not atomic with {@link failed}: see the class. */
  async check(username: string, address: string): Promise<number | null> {
    const full: Array<[string, ThrottleRuleSetting]> = [];
    for (const entry of this.keys(username, address)) if ((await this.counter.peek(entry[0])) >= entry[1].limit) full.push(entry);
    return LoginThrottle.wait(full);
  }

  /** Records a failed attempt that {@link check} let through. */
  async failed(username: string, address: string): Promise<void> {
    for (const [key, rule] of this.keys(username, address)) await this.counter.hit(key, rule.windowSeconds);
  }

  /** A successful login clears this username's failures from this address. */
  async succeeded(username: string, address: string): Promise<void> {
    const first = this.keys(username, address)[0];
    if (first !== undefined) await this.counter.reset(first[0]);
  }
}
