/**
 * The storage contract. The core speaks only to these interfaces; every backend (memory, SQLite, PostgreSQL and
 * MariaDB through the SQL store, and the Redis cache in front of them) implements them and runs the one shared
 * contract suite in `test/stores/`.
 *
 * Rules every implementation keeps:
 * - Operations that must be atomic are single methods (`rotate`, `blacklist`), so each backend can use its own
 *   database's guarantee (a conditional write in one transaction), never a read followed by a write in the core.
 * - Lookups key on `jti`, never on the token string; the token string itself is never stored.
 * - Identifiers cross the boundary as strings, whatever the column type.
 * - The optional capabilities a store implements are declared in its `capabilities` (see `capabilities.ts`).
 */

/** A user as the core sees it. */
export interface UserRecord {
  /** Primary key, as a string (an integer column is rendered in decimal). */
  id: string;
  username: string;
  email: string;
  /** A PHC string (`$argon2id$…`) or a Django hash (`pbkdf2_sha256$…`). Empty string: the user has no usable password. */
  passwordHash: string;
  isActive: boolean;
  isStaff: boolean;
  lastLogin: Date | null;
  dateJoined: Date;
  /**
   * Changes whenever every existing token of this user must stop working (password change, deactivation,
   * "log out everywhere"). Put in tokens as the revoke claim when `checkRevokeToken` is on.
   */
  tokenVersion: string;
}

/** What `createUser` needs; the store fills `id`, `dateJoined`, `lastLogin` and `tokenVersion`. */
export interface NewUser {
  username: string;
  email?: string;
  passwordHash: string;
  isActive?: boolean;
  isStaff?: boolean;
}

/** Fields a user lookup may key on (`userIdField`, the login `usernameField`). */
export type UserLookupField = 'id' | 'username' | 'email';

/**
 * What a change that is audited carries: a store with the `audit` capability ({@link AuditStore}) writes `audit` in
 * the same transaction as the change, and only when the change happens; a failed change leaves no row. Other stores
 * ignore it.
 */
export interface Audited {
  audit?: AuditEvent;
}

export interface UserStore {
  /** The user whose `field` equals `value` exactly (case-sensitive, like Django's default backend), or null. */
  findUser(field: UserLookupField, value: string): Promise<UserRecord | null>;
  /**
   * Creates a user. Throws `UserExistsError` when the username is taken. An `audit` event gets the new user's id and
   * username.
   */
  createUser(user: NewUser, options?: Audited): Promise<UserRecord>;
  /** Replaces the password hash only (a rehash on login): sessions stay valid. */
  updatePasswordHash(id: string, passwordHash: string): Promise<void>;
  /** Sets a new password and a new `tokenVersion`, so every earlier token stops working where revocation is checked. */
  setPassword(id: string, passwordHash: string, options?: Audited): Promise<void>;
  setActive(id: string, isActive: boolean, options?: Audited): Promise<void>;
  /** A new `tokenVersion` only (password and activity unchanged): every token carrying the old one stops working. */
  renewTokenVersion(id: string): Promise<void>;
  updateLastLogin(id: string, at: Date): Promise<void>;
  listUsers(options?: { limit?: number; offset?: number }): Promise<UserRecord[]>;
}

export type TokenKindName = 'refresh' | 'sliding';

/** One issued refresh or sliding token, as simplejwt's OutstandingToken row (without the token text). */
export interface OutstandingToken {
  jti: string;
  /** Null when the token's user is unknown (simplejwt records rotated tokens that way). */
  userId: string | null;
  tokenType: TokenKindName;
  /** The login this token descends from: every rotation keeps it. */
  familyId: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/** An outstanding token as the store holds it now: whether (and when) it was blacklisted, and its successor. */
export interface OutstandingState extends OutstandingToken {
  /** When the token was blacklisted; null while it is live. */
  blacklistedAt: Date | null;
  /** The jti of the token `rotate` recorded as its successor; null when it was never rotated. */
  replacedBy: string | null;
}

export type BlacklistResult = 'blacklisted' | 'already_blacklisted';
export type RotateResult = 'rotated' | 'already_blacklisted';

/**
 * What {@link TokenStore.rotate} does besides the rotation itself, so that a refresh costs one store call (on a
 * database server: one round trip) instead of a read before it and a write after it.
 */
export interface RotateOptions {
  /**
   * The successor joins the family recorded for `presented`; when `presented` is not recorded yet (or recorded
   * without a family), `presented.familyId`, else `presented.jti`. `successor.familyId` is then ignored: the caller
   * does not have to read the presented token's row first.
   */
  inheritFamily?: boolean;
  /**
   * A store with sessions ({@link SessionStore}) records this use on the successor's family's session in the same
   * transaction, as `touchSession` would; only when the rotation succeeds. Other stores ignore it.
   */
  requestUse?: RequestUse;
}

export interface FlushProgress {
  deleted: number;
}

/** One blacklisted token, as a revocation cache loads it. */
export interface BlacklistEntry {
  jti: string;
  expiresAt: Date;
}

/** A page of {@link BlacklistSource.listBlacklisted}; `next` is the cursor of the following page, null at the end. */
export interface BlacklistPage {
  entries: BlacklistEntry[];
  next: string | null;
}

/**
 * A store that can list its blacklist, so that a cache in front of it (`@restjwt/redis`) can load the full set
 * of revocations. Pages follow an opaque cursor in a stable order; rows added while paging may or may not appear.
 */
export interface BlacklistSource {
  listBlacklisted(options: {
    /** Only tokens whose `expiresAt` is after this instant. */
    expiresAfter?: Date;
    /** Only tokens whose `expiresAt` is before this instant. */
    expiresBefore?: Date;
    /** The `next` of the previous page; omit for the first page. */
    cursor?: string | null;
    /** Page size (default 1000). */
    limit?: number;
  }): Promise<BlacklistPage>;
}

/**
 * Counters shared by every instance, for login throttling: a fixed window per key that starts at its first hit.
 * Memory (one process) and Redis (several instances) implement it.
 */
export interface RateCounter {
  /**
   * Counts one hit for `key` and returns the number of hits in its current window, this one included. A window
   * opens at the first hit after the previous one closed and lasts `windowSeconds`.
   *
   * @throws StoreUnavailableError when the backend cannot answer (the caller decides whether to fail closed).
   */
  hit(key: string, windowSeconds: number): Promise<number>;
  /** The hits in `key`'s current window without counting one (0 when no window is open). */
  peek(key: string): Promise<number>;
  /** Forgets `key`'s hits (e.g. after a successful login). */
  reset(key: string): Promise<void>;
  /**
   * Check-and-count in one atomic step, for limits that must hold under concurrency: when every slot's key holds
   * fewer than its `limit` hits in its current window, counts one hit on each (opening windows as {@link RateCounter.hit} does)
   * and answers `reserved: true`; when any key is at its limit, counts nothing and answers the keys that are. Of N
   * concurrent reservations over the same keys — from one process or, with a shared backend, from several — at most
   * `limit` succeed per window for each key, which a `peek` followed by a separate `hit` cannot promise.
   *
   * @throws RangeError for an empty key, a window that is not a positive number, a limit that is not a positive
   *   whole number, or a key given twice.
   * @throws StoreUnavailableError when the backend cannot answer (nothing is counted).
   */
  reserve(slots: readonly RateSlot[]): Promise<RateReservation>;
  /**
   * Takes one hit back from `key`'s current window (a reserved attempt that turned out not to count), never going
   * below zero and leaving the window's end where it was; does nothing when no window is open.
   *
   * @throws StoreUnavailableError when the backend cannot answer.
   */
  release(key: string): Promise<void>;
}

/** One key {@link RateCounter.reserve} checks and counts. */
export interface RateSlot {
  key: string;
  /** Hits allowed per window: a reservation is refused while the key already holds this many. */
  limit: number;
  /** The window a first hit opens, as for {@link RateCounter.hit}. */
  windowSeconds: number;
}

/** What {@link RateCounter.reserve} answers. */
export type RateReservation =
  | {
      readonly reserved: true;
      /** Each slot's count in its current window, this hit included, in the order of the slots. */
      readonly counts: readonly number[];
    }
  | {
      readonly reserved: false;
      /** The keys that were at their limit, in the order of the slots; no key was counted. */
      readonly full: readonly string[];
    };

export interface TokenStore {
  /** Records an issued token. Recording the same `jti` twice is a no-op (and writes no `audit` event). */
  recordOutstanding(token: OutstandingToken, options?: Audited): Promise<void>;
  isBlacklisted(jti: string): Promise<boolean>;
  /**
   * Blacklists `token` (recording it as outstanding first when it was not), atomically: of several concurrent
   * calls for one jti exactly one returns `blacklisted` (and writes the `audit` event).
   */
  blacklist(token: OutstandingToken, options?: Audited): Promise<BlacklistResult>;
  /**
   * Rotation in one atomic step: blacklist `presented` and record `successor`, only if `presented` was not
   * blacklisted yet. Of N concurrent calls with the same presented jti exactly one returns `rotated`; the others
   * return `already_blacklisted` and record nothing. `options` folds the family lookup and the session touch into
   * the same atomic step.
   */
  rotate(presented: OutstandingToken, successor: OutstandingToken, options?: RotateOptions): Promise<RotateResult>;
  /**
   * The recorded token `jti` with its blacklist state and successor (`replacedBy`, set by `rotate` in the same
   * transaction that blacklists it), or null when unknown.
   */
  findOutstanding(jti: string): Promise<OutstandingState | null>;
  /**
   * Blacklists every not-yet-blacklisted token of the family `familyId` in one transaction, and returns how many.
   * A `rotate` racing with it either committed first (its successor is then blacklisted here) or finds its presented
   * token blacklisted and records nothing: no live successor survives. The `audit` event is written with
   * `detail.revoked` set to the count.
   */
  revokeFamily(familyId: string, options?: Audited): Promise<number>;
  /**
   * Blacklists every not-yet-blacklisted token of user `userId` in one transaction ("log out everywhere"); the
   * `audit` event as for `revokeFamily`.
   */
  revokeUser(userId: string, options?: Audited): Promise<number>;
  /**
   * Refuses the access token `jti` until `expiresAt` (setting `revokeAccessTokens`). Idempotent. Access tokens are
   * not outstanding tokens: these entries live in their own table and never count in `countTokens`.
   */
  revokeAccess(jti: string, expiresAt: Date): Promise<void>;
  /** Whether the access token `jti` was revoked (one indexed lookup; checked on every authenticated request). */
  isAccessRevoked(jti: string): Promise<boolean>;
  /**
   * Deletes outstanding (and their blacklist) rows whose `expiresAt` is before `now`, in batches, and the access
   * revocations that expired before `now`. Returns the count of outstanding rows deleted. A store with the optional
   * capabilities also deletes the one-time values that expired before `now` and the sessions whose family has no
   * outstanding token left (not counted).
   */
  flushExpired(now: Date, options?: { batchSize?: number; onProgress?: (p: FlushProgress) => void }): Promise<number>;
  /** Counts for operators and tests. */
  countTokens(): Promise<{ outstanding: number; blacklisted: number }>;
}

/** What {@link UserImportStore.importUser} did with one user. */
export type ImportUserResult = 'imported' | 'exists' | 'conflict';

/**
 * Optional capability of a store: take a user exactly as another system keeps it — same id, dates and token
 * version — so that tokens that system issued (they name the user by id) keep pointing at the same person.
 * Used by `restjwt importdjango`.
 */
export interface UserImportStore {
  /**
   * Inserts `user` as given, unless a user with its id exists (`exists` when that user has the same username,
   * `conflict` otherwise) or its username belongs to another id (`conflict`). Never changes an existing user.
   */
  importUser(user: UserRecord): Promise<ImportUserResult>;
}

/** A complete backend: users and tokens, with a lifecycle. */
export interface Store extends UserStore, TokenStore {
  /** Creates or upgrades the schema; safe to run on every start. Returns the migration names it applied. */
  migrate(): Promise<string[]>;
  /** Cheap liveness probe for `/healthz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** One login session: a refresh-token family, as the admin page lists it. */
export interface SessionRecord {
  /** The family id (the jti of the login's first refresh token). */
  familyId: string;
  userId: string;
  /** When the login happened. */
  createdAt: Date;
  /** The last refresh (rotation) of the family; equal to `createdAt` until then. */
  lastUsedAt: Date;
  /** The client address at the last login or refresh that reported one; null when unknown. */
  clientAddress: string | null;
  /** The User-Agent header at the last login or refresh that sent one (at most 512 characters); null when unknown. */
  userAgent: string | null;
  /** The latest `expiresAt` among the family's tokens (`lastUsedAt` when none is left, until `flushExpired` runs). */
  expiresAt: Date;
  /** True while the family has a token that is neither blacklisted nor expired (`expiresAt` after `now`). */
  active: boolean;
}

/** When and from where a request used a session's refresh token, as the handler saw it (the session not yet known). */
export interface RequestUse {
  at: Date;
  clientAddress: string | null;
  userAgent: string | null;
}

/** A {@link RequestUse} of the session (refresh-token family) `familyId`: what `recordSession` and `touchSession` record. */
export interface SessionUse extends RequestUse {
  familyId: string;
}

/** An outstanding token with its user's name, for the admin page's token lists. */
export interface TokenListing extends OutstandingState {
  username: string | null;
}

/**
 * Optional capability: sessions (refresh-token families) with where and when they were used, and token listings,
 * for the admin page. Memory, SQLite and the SQL store implement it (and the Redis wrapper through its inner store).
 */
export interface SessionStore {
  /**
   * Records a login (a new family owned by `userId`), after its first token was recorded. Recording the same family
   * twice is a no-op, and so is recording one for a user that does not exist. A user agent longer than 512
   * characters (an address longer than 255) is cut.
   */
  recordSession(userId: string, use: SessionUse): Promise<void>;
  /**
   * Records a refresh of the family: last used, and the address/user agent it came from (a null one keeps the known
   * value). Unknown family: no-op. A use older than the recorded `lastUsedAt` (concurrent refreshes finishing out of
   * order) changes nothing.
   */
  touchSession(use: SessionUse): Promise<void>;
  /**
   * `userId`'s sessions, newest login first; ended ones (every token blacklisted or expired) only with `includeEnded`.
   * `now` (default: the current time) decides which tokens have expired.
   */
  listSessions(userId: string, options?: { includeEnded?: boolean; now?: Date }): Promise<SessionRecord[]>;
  /** The user owning `familyId`, or null when there is no such session. */
  sessionOwner(familyId: string): Promise<string | null>;
  /**
   * How many sessions are live at `now` (default: the current time): a token of the family neither blacklisted nor
   * expired. Every user's, for a gauge (`restjwt_live_sessions`); one counting query.
   */
  countLiveSessions(options?: { now?: Date }): Promise<number>;
  /**
   * Outstanding tokens, newest first (by `createdAt`, then the later recorded), filtered by user and/or blacklist
   * state, with their user's name. `limit` defaults to 100 and is lowered to 1000 when larger.
   *
   * @throws RangeError when `limit` or `offset` is not a non-negative integer.
   */
  listTokens(options?: { userId?: string; blacklisted?: boolean; limit?: number; offset?: number }): Promise<TokenListing[]>;
  /** How many users there are (for paging the admin page's user list). */
  countUsers(): Promise<number>;
}

/** A user's link to an account at an OpenID Connect / OAuth 2.0 provider. */
export interface LinkedIdentity {
  /** The provider's configured name (`github`, `google`, …). */
  provider: string;
  /** The provider's stable id for the account (`sub`, or the numeric id for GitHub). */
  subject: string;
  userId: string;
  /** The email the provider asserted at the last sign-in, if any. */
  email: string | null;
  createdAt: Date;
  lastUsedAt: Date;
}

/** What {@link IdentityStore.unlinkIdentity} did. */
export type UnlinkResult = 'unlinked' | 'not_found' | 'last_login_method';

/** Options of {@link IdentityStore.unlinkIdentity}. */
export interface UnlinkOptions extends Audited {
  /** Refuse to remove the user's last way to sign in (no usable password, no other identity). Default: false. */
  keepLastWayToSignIn?: boolean;
}

/** What {@link IdentityStore.linkIdentity} did. */
export type LinkResult = 'linked' | 'already_linked' | 'linked_to_other_user';

/**
 * Optional capability: linked identities for social login. Memory, SQLite and the SQL store implement it (and the
 * Redis wrapper through its inner store).
 */
export interface IdentityStore {
  /** The identity `(provider, subject)`, or null. Both compare exactly (case-sensitive). */
  findIdentity(provider: string, subject: string): Promise<LinkedIdentity | null>;
  /**
   * Links `(provider, subject)` to `userId`, atomically: of concurrent calls for one pair exactly one links.
   * `already_linked` when it is linked to this user, `linked_to_other_user` when to someone else (nothing changes).
   *
   * @throws RangeError when `userId` names no user (nothing is linked).
   */
  linkIdentity(identity: { provider: string; subject: string; userId: string; email: string | null; at: Date }): Promise<LinkResult>;
  /** Records a sign-in through the identity: last used, and the email asserted now (null: none). Unknown identity: no-op. */
  touchIdentity(provider: string, subject: string, email: string | null, at: Date): Promise<void>;
  /**
   * Removes the link if it belongs to `userId`: `unlinked`, else `not_found`. With `keepLastWayToSignIn`, refuses
   * with `last_login_method` (removing nothing) when it is the user's last way to sign in (no usable password, no
   * other identity), judged atomically with the removal: of two concurrent unlinks of a passwordless user's last two
   * identities one succeeds, and a concurrent password change is seen before or after, never in between.
   */
  unlinkIdentity(userId: string, provider: string, subject: string, options?: UnlinkOptions): Promise<UnlinkResult>;
  /** `userId`'s linked identities, by provider then subject. */
  listIdentities(userId: string): Promise<LinkedIdentity[]>;
}

/**
 * Optional capability: {@link UserStore.findUser}'s answer without a promise, for a store whose lookups never wait
 * (memory, SQLite: better-sqlite3 is synchronous). Authentication uses it when the store declares it, so that a guarded
 * request allocates no promise and waits for no microtask turn.
 */
export interface ImmediateUserLookup {
  /** The same answer as `findUser(field, value)`, now; throws what `findUser` would reject with. */
  findUserNow(field: UserLookupField, value: string): UserRecord | null;
}

/**
 * Optional capability: single-use values that expire (OAuth state + nonce + PKCE verifier, one-time login codes),
 * shared by every instance. `take` is atomic: of concurrent takes of one key at most one gets the value.
 */
export interface OneTimeStore {
  /**
   * Stores `value` under `key` until `expiresAt`. Throws an error with code `one_time_key_exists` when `key` exists,
   * even expired and not yet flushed (keys are random; a clash is a bug).
   */
  putOneTime(key: string, value: string, expiresAt: Date): Promise<void>;
  /**
   * Removes `key` and returns its value, or null when absent or expired (`expiresAt` not after `now`, default the
   * current time; an expired value is removed too). `flushExpired` removes the ones nobody took.
   */
  takeOneTime(key: string, now?: Date): Promise<string | null>;
}

/** The security events the audit log records. */
export const AUDIT_EVENT_TYPES = [
  /** A login issued tokens (`detail.method`: `password`, or the social provider's name). */
  'login',
  /** A login was refused (`detail.reason`: `unknown_user`, `bad_password`, `rule_refused`, `throttled`). */
  'login_failed',
  /** A blacklisted refresh token was presented: its family (`familyId`) was revoked (`detail.revoked`). */
  'refresh_reuse',
  /** A refresh token was blacklisted at `POST /api/token/blacklist/`. */
  'logout',
  /** "Log out everywhere": every token of the user blacklisted (`detail.revoked`). */
  'logout_all',
  /** A new password was set (by the user, the CLI or an admin: `actorId`). */
  'password_changed',
  /** A user was created by an admin (`actorId`). */
  'user_created',
  'user_activated',
  'user_deactivated',
  /** An admin ended one session (`familyId`, `detail.revoked`). */
  'session_revoked',
  /** An admin ended every session of a user (`detail.revoked`). */
  'sessions_revoked',
  /** A linked social identity was removed (`detail.provider`). */
  'identity_unlinked',
  /** A second factor was added and confirmed (`detail.kind`: `totp` or `webauthn`). */
  'factor_added',
  /** A second factor was removed (`detail.kind`). */
  'factor_removed',
  /** Every second factor and recovery code of a user was removed (by an admin: `actorId`). */
  'factors_reset',
  /** New recovery codes replaced the old ones (`detail.count`). */
  'recovery_codes_generated',
  /** A recovery code was spent at sign-in (`detail.left`). */
  'recovery_code_used',
  /** A second-factor step was refused (`detail.reason`: `code_invalid`, `code_reused`, `assertion_invalid`, …). */
  'mfa_failed',
] as const;

/** One of {@link AUDIT_EVENT_TYPES}. */
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** One security event, as the core hands it to the store. Never a token, a password or a request body. */
export interface AuditEvent {
  type: AuditEventType;
  at: Date;
  /** The user the event is about; null when unknown (a failed login for a name nobody has). */
  userId: string | null;
  /** The username attempted or the user's name then (cut at 150 characters); null when not known. */
  username: string | null;
  /** The staff user who did it (admin actions); null when the user acted themselves. */
  actorId: string | null;
  /** The session (refresh-token family) concerned, if any. */
  familyId: string | null;
  /** The client address (cut at 255 characters); null when unknown. */
  clientAddress: string | null;
  /** The User-Agent header (cut at 512 characters); null when absent. */
  userAgent: string | null;
  /** Small facts about the event (`reason`, `revoked`, `provider`, …): at most 16 keys, strings cut at 200. */
  detail: Readonly<Record<string, string | number | boolean | null>>;
}

/** A stored {@link AuditEvent}: `id` increases with every event written. */
export interface AuditRecord extends AuditEvent {
  id: string;
}

/** What {@link AuditStore.listAudit} selects: every filter is optional and they combine with AND. */
export interface AuditQuery {
  /** Events about this user: its id or its username (matches `userId` or `username` exactly). */
  user?: string;
  type?: AuditEventType;
  /** Events at or after this instant. */
  since?: Date;
  /** Events before this instant. */
  until?: Date;
  /** The `next` of the previous page; omit for the first (newest) page. */
  cursor?: string | null;
  /** Page size: default 50, at most 500. */
  limit?: number;
}

/** A page of audit events, newest first; `next` is the cursor of the following (older) page, null at the end. */
export interface AuditPage {
  events: AuditRecord[];
  next: string | null;
}

/** How many events of one type fell in one bucket of {@link AuditStore.countAudit}. */
export interface AuditCount {
  type: AuditEventType;
  /** The bucket's index: 0 is the one starting at `since`. */
  bucket: number;
  count: number;
}

/**
 * Optional capability: the audit log. Memory, SQLite and the SQL store implement it (and the Redis wrapper through
 * its inner store); audited changes ({@link Audited}) write their event in their own transaction.
 */
export interface AuditStore {
  /** Writes an event that records no change of the store's (a refused login). */
  appendAudit(event: AuditEvent): Promise<void>;
  /**
   * Events, newest first (by `id`), filtered as `query` says.
   *
   * @throws RangeError for a limit that is not a whole number from 1 to 500, or a cursor this store did not give.
   */
  listAudit(query?: AuditQuery): Promise<AuditPage>;
  /**
   * Counts of events per type in the buckets of `bucketSeconds` from `since` (inclusive) to `until` (exclusive), for
   * the admin dashboard: one grouping query. Buckets and types with no event are left out.
   *
   * @throws RangeError when `bucketSeconds` is not a positive whole number or `until` is not after `since`.
   */
  countAudit(range: { since: Date; until: Date; bucketSeconds: number }): Promise<AuditCount[]>;
  /** Deletes the events before `before`, in batches (default 1000 per transaction), and returns how many. */
  flushAudit(before: Date, options?: { batchSize?: number; onProgress?: (p: FlushProgress) => void }): Promise<number>;
}

/** The kinds of second factor: a TOTP authenticator app, a WebAuthn credential (passkey, security key). */
export type FactorKind = 'totp' | 'webauthn';

/** One second factor of a user. */
export interface FactorRecord {
  id: string;
  userId: string;
  kind: FactorKind;
  /** What the user called it ("Phone", "YubiKey"); at most 100 characters. */
  label: string;
  /** False until a first valid code confirms it (TOTP); only confirmed factors are asked for at login. */
  confirmed: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
  /**
   * TOTP: the shared secret as the factor's implementation keeps it (encrypted by `@restjwt/mfa`: the store never
   * holds it in clear); WebAuthn: the credential's public key (COSE, base64url). At most 4000 characters.
   */
  secret: string;
  /** WebAuthn: the credential id (base64url), unique across every user; null for TOTP. At most 1023 characters. */
  credentialId: string | null;
  /** The last accepted use: the TOTP time step (so a code is never accepted twice), or the WebAuthn signature counter. */
  counter: number;
  /** What else the implementation keeps (WebAuthn transports, device type), JSON text of at most 2000 characters. */
  meta: string;
}

/** What {@link FactorStore.addFactor} takes; the store fills `id`, `lastUsedAt` (null) and `counter` (0). */
export interface NewFactor {
  userId: string;
  kind: FactorKind;
  label: string;
  confirmed: boolean;
  secret: string;
  credentialId: string | null;
  meta: string;
  createdAt: Date;
}

/**
 * Optional capability: second factors and recovery codes (`@restjwt/mfa`). Memory, SQLite and the SQL store
 * implement it (and the Redis wrapper through its inner store); the Django store has none.
 */
export interface FactorStore {
  /**
   * Adds a factor, with its `audit` event in the same transaction.
   *
   * @throws RangeError when `userId` names no user, or a value is too long.
   * @throws an error with code `credential_exists` when `credentialId` is already registered (to anyone).
   */
  addFactor(factor: NewFactor, options?: Audited): Promise<FactorRecord>;
  /** `userId`'s factors, oldest first (confirmed or not). */
  listFactors(userId: string): Promise<FactorRecord[]>;
  /** The factor registered with `credentialId` (WebAuthn), or null. */
  findFactorByCredential(credentialId: string): Promise<FactorRecord | null>;
  /** Confirms `userId`'s factor `factorId`; true when it was unconfirmed and now is (then `audit` is written). */
  confirmFactor(userId: string, factorId: string, options?: Audited): Promise<boolean>;
  /**
   * Accepts one use of the factor, atomically: only when `counter` is greater than the stored one (or both are 0: a
   * WebAuthn authenticator without a counter), then stores it and `lastUsedAt`. Of concurrent uses with one counter (a
   * replayed TOTP code, a cloned authenticator) at most one is accepted.
   */
  useFactor(factorId: string, counter: number, at: Date): Promise<boolean>;
  /** Removes `userId`'s factor `factorId`; true when it did (then `audit` is written). */
  removeFactor(userId: string, factorId: string, options?: Audited): Promise<boolean>;
  /** Removes every factor and recovery code of `userId` in one transaction and returns the factors removed. */
  removeFactors(userId: string, options?: Audited): Promise<number>;
  /** Replaces `userId`'s recovery codes by these hashes (distinct; at most 20, each at most 128 characters). */
  setRecoveryCodes(userId: string, hashes: readonly string[], options?: Audited): Promise<void>;
  /** Spends one recovery code, atomically: true when `hash` was one of `userId`'s and is now gone (then `audit` is written). */
  useRecoveryCode(userId: string, hash: string, options?: Audited): Promise<boolean>;
  /** How many recovery codes `userId` has left. */
  countRecoveryCodes(userId: string): Promise<number>;
}
