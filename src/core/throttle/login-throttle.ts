import type { LoginThrottleSettings, ThrottleRuleSetting } from '../settings/types.js';
import type { RateCounter } from '../store/types.js';

/**
 * Decides whether a login attempt may proceed and records failures. Only failures count; windows are fixed and
 * expire on their own, so a lockout never outlasts one window after the last failure; a locked-out correct password
 * is refused too; and the answer is the same whether or not the user exists. The per username+address limit is the
 * tight one, so an attacker at one address cannot lock the user out of every other address.
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

  /** Null when the attempt may proceed, else the seconds to wait (a whole window: the client cannot do better). */
  async check(username: string, address: string): Promise<number | null> {
    let wait = 0;
    for (const [key, rule] of this.keys(username, address)) {
      if ((await this.counter.peek(key)) >= rule.limit) wait = Math.max(wait, rule.windowSeconds);
    }
    return wait > 0 ? wait : null;
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
