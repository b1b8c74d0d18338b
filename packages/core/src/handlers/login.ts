import type { RequestMeta } from './context.js';
import { AuthenticationFailed, Throttled } from '../errors.js';
import { readStringFields } from '../http/fields.js';
import type { UserRecord } from '../store/types.js';
import { findUserByUsername, normalizeUsername } from '../users/username.js';
import { appendAudit, auditEvent } from '../audit/events.js';
import { nowDate, originOf, type HandlerContext } from './context.js';

/**
 * Checks credentials like Django's ModelBackend + simplejwt's TokenObtainSerializer. Unknown user, wrong password
 * and a user the authentication rule refuses all get the same error, and an unknown user still pays for one hash
 * so that timing does not tell them apart. A hash that verifies is upgraded to the hasher's format and parameters
 * (argon2id; pbkdf2_sha256 on Workers), unless `rehashPasswords` is off. A username is looked up by its NFKC form,
 * as Django stores it ({@link findUserByUsername}).
 */
export async function checkCredentials(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<CheckedLogin> {
  const field = ctx.settings.usernameField;
  const creds = readStringFields(data, [
    { name: field, trim: true, maxLength: 254 },
    { name: 'password', trim: false, maxLength: 4096 },
  ]);
  const submitted = creds[field];
  // Usernames are one NFKC name (Django's normalize_username): throttled under that name, so look-alike spellings
  // share one budget. Emails are stored as given (by Django too) and looked up exactly: a look-alike names nobody.
  const username = field === 'username' ? normalizeUsername(submitted) : submitted;
  const password = creds.password;
  // Counted before the password is checked, atomically with the limit: a burst of parallel guesses gets no more
  // password checks than the limit, and a locked-out attacker learns nothing, not even from a right guess.
  const reserved = ctx.throttle === undefined ? undefined : await ctx.throttle.reserve(username, meta.address);
  // The name as attempted (normalized), for the audit log: "which user is being brute-forced" needs it.
  const refused = (reason: string, userId: string | null): Promise<void> =>
    appendAudit(ctx, auditEvent('login_failed', nowDate(ctx), originOf(meta), { userId, username, detail: { reason } }), ctx.log);
  if (reserved !== undefined && 'wait' in reserved) {
    ctx.log({ event: 'login_throttled', level: 'warn', reason: 'too_many_failures' });
    await refused('throttled', null);
    throw new Throttled(reserved.wait);
  }
  const attempt = reserved?.attempt;
  // The reservation already counts this attempt as a failure.
  const fail = async (reason: string, userId: string | null): Promise<never> => {
    ctx.log({ event: 'login_failed', level: 'info', userId, reason });
    await refused(reason, userId);
    throw new AuthenticationFailed('no_active_account');
  };
  let user: UserRecord | null;
  let ok: boolean;
  try {
    user = field === 'username' ? await findUserByUsername(ctx.store, submitted) : await ctx.store.findUser(field, username);
    if (user === null) await ctx.hasher.burn(password);
    ok = user !== null && (await ctx.hasher.verify(user.passwordHash, password));
  } catch (error) {
    // No verdict on the password (the store is down): the attempt does not count.
    await attempt?.abandoned().catch(() => undefined);
    throw error;
  }
  if (user === null) return fail('unknown_user', null);
  if (!ok || !ctx.settings.userAuthenticationRule(user)) return fail(ok ? 'rule_refused' : 'bad_password', user.id);
  // Off when the user table is shared with a system (Django) that must keep reading the hash it wrote.
  if (ctx.settings.rehashPasswords && ctx.hasher.needsRehash(user.passwordHash)) {
    await ctx.store.updatePasswordHash(user.id, await ctx.hasher.hash(password));
  }
  // The right password is not a failure; whether it clears this name's failures waits for the login's end (a second
  // step still to pass clears nothing: wrong codes over repeated logins keep counting).
  await attempt?.abandoned();
  return { user, succeeded: async () => ctx.throttle?.succeeded(username, meta.address) };
}

/** A user whose password was right, and the call that clears their throttle failures once the login is complete. */
export interface CheckedLogin {
  user: UserRecord;
  succeeded(): Promise<void>;
}
