/**
 * Users, as Django's admin manages them: list (paged), look up, create, deactivate / activate, reset the password.
 * Every operation that takes access away also ends the user's sessions, so it is effective at once, not at the next
 * token expiry.
 */
import { NotFound } from '../errors.js';
import { endSessions } from '../handlers/logout-all.js';
import { hasSessions } from '../store/capabilities.js';
import type { UserRecord } from '../store/types.js';
import { UserExistsError } from '../store/errors.js';
import { changePassword } from '../users/change-password.js';
import { findUserByUsername, normalizeUsername } from '../users/username.js';
import type { AdminContext } from './context.js';
import { CannotDeactivateSelf } from './errors.js';
import { FieldErrors, readBoolean, readQueryInteger, readString, type QueryValue } from './fields.js';
import { publicUser, type PublicUser } from '../users/public-user.js';

/** Django's `username` column: 150 characters of letters, digits and `@.+-_` (UnicodeUsernameValidator). */
export const USERNAME_MAX_LENGTH = 150;
/** Django's `email` column. */
export const EMAIL_MAX_LENGTH = 254;
/** Django's MinimumLengthValidator default. */
export const PASSWORD_MIN_LENGTH = 8;
/** The login endpoint's limit: a longer password could be set but never used to log in. */
export const PASSWORD_MAX_LENGTH = 4096;
/** Page size of the admin lists unless `limit` says otherwise, and the largest `limit` accepted. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

const USERNAME_RE = /^[\p{L}\p{N}_.@+-]+$/u;
// Close to Django's EmailValidator without its IDN handling: one @, no spaces, dot-separated domain labels.
const EMAIL_RE = /^[^\s@"(),:;<>[\\\]]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)*[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;

/** A user as the admin API shows one: the same view as `GET /api/me/`. */
export type AdminUserView = PublicUser;

/** @see publicUser */
export const userView = publicUser;

/** One page of a list, as DRF's LimitOffsetPagination sees it before rendering `next`/`previous` links. */
export interface AdminPage<T> {
  /** The total across all pages, or null when the store cannot count it cheaply. */
  count: number | null;
  limit: number;
  offset: number;
  /** Whether a page follows this one. */
  hasMore: boolean;
  results: T[];
}

/** Reads `limit` and `offset` from a query string (400 field errors for non-integers or out-of-range values). */
export function readPaging(errors: FieldErrors, query: Readonly<Record<string, QueryValue>>): { limit: number; offset: number } {
  const limit = readQueryInteger(errors, query, 'limit', { min: 1, max: MAX_PAGE_SIZE, fallback: DEFAULT_PAGE_SIZE });
  const offset = readQueryInteger(errors, query, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 });
  return { limit, offset };
}

/** `GET users/`: users in creation order, `?limit=&offset=`. */
export async function listUsers(ctx: AdminContext, query: Readonly<Record<string, QueryValue>>): Promise<AdminPage<AdminUserView>> {
  const errors = new FieldErrors();
  const { limit, offset } = readPaging(errors, query);
  errors.done();
  // One row more than the page tells whether another page follows, without a count.
  const rows = await ctx.store.listUsers({ limit: limit + 1, offset });
  const count = hasSessions(ctx.store) ? await ctx.store.countUsers() : null;
  return { count, limit, offset, hasMore: rows.length > limit, results: rows.slice(0, limit).map(userView) };
}

/** The user `id`, or 404 `not_found`. */
export async function requireUser(ctx: AdminContext, id: string): Promise<UserRecord> {
  const user = await ctx.store.findUser('id', id);
  if (user === null) throw new NotFound();
  return user;
}

/** `GET users/{id}/`. */
export async function getUser(ctx: AdminContext, id: string): Promise<AdminUserView> {
  return userView(await requireUser(ctx, id));
}

/** A validated `POST users/` body. */
export interface NewUserInput {
  username: string;
  email: string;
  password: string;
  isStaff: boolean;
  isActive: boolean;
}

/**
 * Validates a `POST users/` body: `username` (required, Django's rules, unique; returned in NFKC form), `email` (optional, unless users log
 * in by email: then required and unique), `password` (required, {@link PASSWORD_MIN_LENGTH}–{@link PASSWORD_MAX_LENGTH}
 * characters, not trimmed), `is_staff` (default false), `is_active` (default true). Throws one 400 listing every field
 * error.
 */
export async function readNewUser(ctx: AdminContext, data: Readonly<Record<string, unknown>>): Promise<NewUserInput> {
  const errors = new FieldErrors();
  const byEmail = ctx.settings.usernameField === 'email';
  const submitted = readString(errors, data, 'username', { required: true, trim: true, maxLength: USERNAME_MAX_LENGTH });
  // Django's UsernameField: stripped, then NFKC, then validated (NFKC may lengthen a name).
  const username = normalizeUsername(submitted);
  if (!errors.has('username') && username.length > USERNAME_MAX_LENGTH) errors.add('username', { key: 'field_too_long', params: { max: USERNAME_MAX_LENGTH } });
  if (!errors.has('username') && !USERNAME_RE.test(username)) errors.add('username', { key: 'username_invalid' });
  const email = readString(errors, data, 'email', { required: byEmail, trim: true, maxLength: EMAIL_MAX_LENGTH, allowBlank: !byEmail });
  if (!errors.has('email') && email !== '' && !EMAIL_RE.test(email)) errors.add('email', { key: 'email_invalid' });
  const password = readString(errors, data, 'password', { required: true, trim: false, maxLength: PASSWORD_MAX_LENGTH, minLength: PASSWORD_MIN_LENGTH });
  const isStaff = readBoolean(errors, data, 'is_staff', false);
  const isActive = readBoolean(errors, data, 'is_active', true);
  // Uniqueness after the format checks, as DRF runs validators: one answer lists every problem.
  // Taken when login would find a user by it: the same NFKC form (a look-alike), or a legacy row of this spelling.
  if (!errors.has('username') && (await findUserByUsername(ctx.store, submitted)) !== null) errors.add('username', { key: 'username_exists' });
  if (byEmail && !errors.has('email') && (await ctx.store.findUser('email', email)) !== null) errors.add('email', { key: 'email_exists' });
  errors.done();
  return { username, email, password, isStaff, isActive };
}

/** `POST users/`: creates the user (argon2id hash) and returns it. */
export async function createUser(ctx: AdminContext, data: Readonly<Record<string, unknown>>): Promise<AdminUserView> {
  const input = await readNewUser(ctx, data);
  const passwordHash = await ctx.hasher.hash(input.password);
  try {
    const user = await ctx.store.createUser({
      username: input.username,
      email: input.email,
      passwordHash,
      isStaff: input.isStaff,
      isActive: input.isActive,
    }, ctx.audit('user_created', { detail: { staff: input.isStaff, active: input.isActive } }));
    return userView(user);
  } catch (err) {
    // Lost a race with another creation of the same name after the check above.
    if (err instanceof UserExistsError) {
      const errors = new FieldErrors();
      errors.add('username', { key: 'username_exists' });
      errors.done();
    }
    throw err;
  }
}

/** What deactivating, activating or resetting a password did. */
export interface UserChange {
  user: AdminUserView;
  /** Refresh/sliding tokens blacklisted by it (0 for activation). */
  revoked: number;
}

/**
 * `POST users/{id}/deactivate/` and `…/activate/`. Deactivation refuses the acting staff user (400
 * `cannot_deactivate_self`), then ends every session: a new token version (access tokens die where `checkRevokeToken`
 * is on; `checkUserIsActive` refuses them anyway) and every refresh/sliding token blacklisted.
 */
export async function setUserActive(ctx: AdminContext, id: string, active: boolean): Promise<UserChange> {
  if (!active && id === ctx.actor.id) throw new CannotDeactivateSelf();
  const target = await requireUser(ctx, id);
  await ctx.store.setActive(id, active, ctx.audit(active ? 'user_activated' : 'user_deactivated', { userId: id, username: target.username }));
  // Explicit even where `setActive(false)` renews the version itself: the contract does not promise it.
  const revoked = active ? 0 : await endSessions(ctx, id);
  return { user: userView(await requireUser(ctx, id)), revoked };
}

/**
 * `POST users/{id}/password/` with `{"password"}`: sets the new password (validated as on creation) and ends every
 * session of the user (new token version, every refresh/sliding token blacklisted), as `changepassword` does.
 */
export async function resetPassword(ctx: AdminContext, id: string, data: Readonly<Record<string, unknown>>): Promise<UserChange> {
  // The user first, as DRF's detail views look up the object before validating the body.
  const target = await requireUser(ctx, id);
  const errors = new FieldErrors();
  const password = readString(errors, data, 'password', { required: true, trim: false, maxLength: PASSWORD_MAX_LENGTH, minLength: PASSWORD_MIN_LENGTH });
  errors.done();
  const revoked = await changePassword(ctx, id, password, ctx.audit('password_changed', { userId: id, username: target.username }));
  return { user: userView(await requireUser(ctx, id)), revoked };
}
