import type { RequestMeta } from './context.js';
import { AuthenticationFailed, Throttled } from '../errors.js';
import { readStringFields } from '../http/fields.js';
import type { UserRecord } from '../store/types.js';
import type { HandlerContext } from './context.js';

/**
 * Checks credentials like Django's ModelBackend + simplejwt's TokenObtainSerializer. Unknown user, wrong password
 * and a user the authentication rule refuses all get the same error, and an unknown user still pays for one hash
 * so that timing does not tell them apart. A Django hash that verifies is upgraded to argon2id, unless
 * `rehashPasswords` is off.
 */
export async function checkCredentials(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<UserRecord> {
  const field = ctx.settings.usernameField;
  const creds = readStringFields(data, [
    { name: field, trim: true, maxLength: 254 },
    { name: 'password', trim: false, maxLength: 4096 },
  ]);
  const username = creds[field];
  const password = creds.password;
  const throttle = ctx.throttle;
  // Checked before the password: a locked-out attacker learns nothing, not even from a right guess.
  const wait = throttle === undefined ? null : await throttle.check(username, meta.address);
  if (wait !== null) {
    ctx.log({ event: 'login_throttled', level: 'warn', reason: 'too_many_failures' });
    throw new Throttled(wait);
  }
  const fail = async (reason: string, userId: string | null): Promise<never> => {
    await throttle?.failed(username, meta.address);
    ctx.log({ event: 'login_failed', level: 'info', userId, reason });
    throw new AuthenticationFailed('no_active_account');
  };
  const user = await ctx.store.findUser(field, username);
  if (user === null) {
    await ctx.hasher.burn(password);
    return fail('unknown_user', null);
  }
  const ok = await ctx.hasher.verify(user.passwordHash, password);
  if (!ok || !ctx.settings.userAuthenticationRule(user)) return fail(ok ? 'rule_refused' : 'bad_password', user.id);
  await throttle?.succeeded(username, meta.address);
  // Off when the user table is shared with a system (Django) that must keep reading the hash it wrote.
  if (ctx.settings.rehashPasswords && ctx.hasher.needsRehash(user.passwordHash)) {
    await ctx.store.updatePasswordHash(user.id, await ctx.hasher.hash(password));
  }
  return user;
}
