/**
 * The one username rule, as Django keeps it: `AbstractBaseUser.normalize_username` stores the NFKC form
 * (`unicodedata.normalize('NFKC', username)`), so `ａｌｉｃｅ` (fullwidth) and `alice` are one name. Every path that
 * creates a user (the admin API, `restjwt createuser`, `restjwt importdjango`, social sign-up) and the login lookup
 * use these helpers, so that no look-alike of an existing account can be created or logged in to as someone else.
 */
import { UserExistsError } from '../store/errors.js';
import type { NewUser, UserRecord, UserStore } from '../store/types.js';

/**
 * Django's `AbstractBaseUser.normalize_username`: the NFKC form of `username`. Strings of JavaScript and Python agree
 * on NFKC up to the Unicode version each runtime ships.
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC');
}

/**
 * The user a submitted `username` names, by exact lookups: its NFKC form first, then the form as given, only when
 * it differs and the NFKC form named nobody.
 *
 * The second lookup keeps legacy rows stored before normalisation (a non-NFKC name written by SQL or an old
 * release) reachable by their own exact spelling, and nothing else: when an NFKC row exists it always wins, so one
 * spelling never reaches two accounts and a look-alike can only reach the account its NFKC form names. Looking up
 * the NFKC form of stored names would need a scan; `restjwt checkusernames` reports those rows instead.
 */
export async function findUserByUsername(store: Pick<UserStore, 'findUser'>, username: string): Promise<UserRecord | null> {
  const normal = normalizeUsername(username);
  const user = await store.findUser('username', normal);
  if (user !== null || normal === username) return user;
  return store.findUser('username', username);
}

/**
 * Creates `user` under the NFKC form of its username. A name {@link findUserByUsername} already finds (the same
 * NFKC form, or the legacy row of this exact spelling) is refused with `UserExistsError`, as is one taken by a
 * concurrent creation (the store's unique index).
 *
 * @throws UserExistsError naming the existing user, and the submitted spelling when it differs.
 */
export async function createUserNormalized(store: Pick<UserStore, 'findUser' | 'createUser'>, user: NewUser): Promise<UserRecord> {
  const username = normalizeUsername(user.username);
  const taken = await findUserByUsername(store, user.username);
  if (taken !== null) throw new UserExistsError(taken.username, user.username);
  try {
    return await store.createUser({ ...user, username });
  } catch (error) {
    if (error instanceof UserExistsError && username !== user.username) throw new UserExistsError(username, user.username);
    throw error;
  }
}
