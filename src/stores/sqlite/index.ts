/**
 * The SQLite backend, on better-sqlite3. Suited to one server process or a few on one machine: writers take turns
 * on the database lock (WAL mode lets readers proceed meanwhile).
 *
 * better-sqlite3 is synchronous: every call runs to completion before the method's promise is returned, and a call
 * that has to wait for another process's write lock blocks the event loop for up to `busyTimeoutMs`.
 */
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { StoreUnavailableError, UserExistsError } from '../../core/store/errors.js';
import type {
  BlacklistPage,
  BlacklistResult,
  BlacklistSource,
  FlushProgress,
  IdentityStore,
  ImportUserResult,
  LinkedIdentity,
  LinkResult,
  NewUser,
  OneTimeStore,
  OutstandingState,
  OutstandingToken,
  RotateOptions,
  RotateResult,
  SessionRecord,
  SessionStore,
  SessionUse,
  Store,
  TokenListing,
  UnlinkOptions,
  UnlinkResult,
  UserImportStore,
  UserLookupField,
  UserRecord,
} from '../../core/store/types.js';
import { migrate as applyMigrations } from './migrations.js';
import { OneTimeKeyExistsError } from '../shared/errors.js';
import {
  checkBatchSize,
  checkPage,
  checkTokenListing,
  deleteInBatches,
  identityFromRow,
  isOneTimeLive,
  linkResult,
  newTokenVersion,
  outstandingStateFromRow,
  sessionFromRow,
  rotationUse,
  sessionUseValues,
  successorFamily,
  toMillis,
  tokenListingFromRow,
  unlinkVerdict,
  type IdentityRow,
  type SessionRow,
  type SessionUseValues,
  type TokenListingRow,
} from '../shared/values.js';

export { appliedMigrations, migrate, migrations, MIGRATIONS_TABLE, type Migration } from './migrations.js';
export { isSqliteUrl, sqliteFilenameFromUrl } from './url.js';

/** Options for {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Path of the database file (created if missing), or `:memory:`. See `sqliteFilenameFromUrl` for URLs. */
  filename: string;
  /** Apply pending migrations while opening. Default true; pass false when a deploy step runs `migrate` instead. */
  migrate?: boolean;
  /** How long a write waits for another connection's lock before failing with `StoreUnavailableError`. Default 5000. */
  busyTimeoutMs?: number;
}

export { DEFAULT_FLUSH_BATCH_SIZE } from '../shared/values.js';

interface UserRow {
  id: number;
  username: string;
  email: string;
  password: string;
  is_active: number;
  is_staff: number;
  last_login: number | null;
  date_joined: number;
  token_version: string;
}

interface OutstandingStateRow {
  jti: string;
  user_id: number | null;
  token_type: 'refresh' | 'sliding';
  family_id: string | null;
  created_at: number;
  expires_at: number;
  replaced_by: string | null;
  blacklisted_at: number | null;
}

/** jti, user id, token type, family id, created at, expires at. */
type OutstandingParams = [string, number | null, string, string | null, number, number];
type Stmt<P extends unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;
/** The successor's family, given the presented token's recorded one (see `successorFamily`). */
type FamilyOf = (recorded: string | null) => string | null;

/** family id, created at, last used at, client address, user agent, user id. */
type SessionParams = [string, number, number, string | null, string | null, number];
/** provider, subject, email, created at, last used at, user id. */
type IdentityParams = [string, string, string | null, number, number, number];
/** `listTokens`'s filters: by user or not, and blacklisted (`yes`), live (`no`) or either (`any`). */
type TokenFilter = `${'user' | 'all'}:${'yes' | 'no' | 'any'}`;

/** Every statement and transaction the store runs, prepared once (when the schema exists). */
interface Prepared {
  userById: Stmt<[number], UserRow>;
  userByUsername: Stmt<[string], UserRow>;
  userByEmail: Stmt<[string], UserRow>;
  insertUser: Stmt<[string, string, string, number, number, number, string], UserRow>;
  updatePasswordHash: Stmt<[string, number]>;
  setPassword: Stmt<[string, string, number]>;
  activate: Stmt<[number]>;
  deactivate: Stmt<[string, number]>;
  renewTokenVersion: Stmt<[string, number]>;
  revokeAccess: Stmt<[string, number]>;
  isAccessRevoked: Stmt<[string], number>;
  flushRevokedAccess: Stmt<[number]>;
  findOutstanding: Stmt<[string], OutstandingStateRow>;
  revokeFamily: BetterSqlite3.Transaction<(familyId: string, now: number) => number>;
  revokeUser: BetterSqlite3.Transaction<(userId: number, now: number) => number>;
  updateLastLogin: Stmt<[number, number]>;
  listUsers: Stmt<[number, number], UserRow>;
  insertOutstanding: Stmt<OutstandingParams>;
  insertBlacklist: Stmt<[number, number]>;
  isBlacklisted: Stmt<[string], number>;
  countTokens: Stmt<[], { outstanding: number; blacklisted: number }>;
  listBlacklisted: Stmt<[number, number, number, number], { id: number; jti: string; expires_at: number }>;
  blacklist: BetterSqlite3.Transaction<(token: OutstandingParams, now: number) => BlacklistResult>;
  rotate: BetterSqlite3.Transaction<
    (presented: OutstandingParams, successor: OutstandingParams, now: number, family: FamilyOf, use: SessionUseValues | null) => RotateResult
  >;
  flushBatch: BetterSqlite3.Transaction<(before: number, limit: number) => number>;
  // The optional capabilities (migration 0004_sessions_identities).
  insertSession: Stmt<SessionParams>;
  touchSession: Stmt<[number, string | null, string | null, string, number]>;
  listSessions: Stmt<[{ now: number; userId: number; all: number }], SessionRow>;
  sessionOwner: Stmt<[string], number>;
  listTokens: Record<TokenFilter, Stmt<[{ userId: number | null; limit: number; offset: number }], TokenListingRow>>;
  countUsers: Stmt<[], number>;
  findIdentity: Stmt<[string, string], IdentityRow>;
  linkIdentity: BetterSqlite3.Transaction<(identity: IdentityParams) => { owner: number | undefined; inserted: boolean }>;
  touchIdentity: Stmt<[number, string | null, string, string]>;
  unlinkIdentity: BetterSqlite3.Transaction<(userId: number, provider: string, subject: string, options: UnlinkOptions | undefined) => UnlinkResult>;
  listIdentities: Stmt<[number], IdentityRow>;
  putOneTime: Stmt<[string, string, number]>;
  takeOneTime: Stmt<[string], { value: string; expires_at: number }>;
  flushOneTime: Stmt<[number]>;
  flushSessionBatch: BetterSqlite3.Transaction<(limit: number) => number>;
}

/**
 * A {@link Store} on one SQLite database file, with every optional capability (sessions, linked identities, one-time
 * values). Create it with {@link openSqliteStore}.
 *
 * `rotate` and `blacklist` are atomic across connections and processes: each runs in one IMMEDIATE transaction
 * whose `INSERT ... ON CONFLICT DO NOTHING` on the unique blacklist row decides the single winner. `linkIdentity`
 * and `takeOneTime` are decided the same way, by a unique index and a single statement.
 */
export class SqliteStore implements Store, UserImportStore, SessionStore, IdentityStore, OneTimeStore {
  /** The file this store opened (`:memory:` for an in-memory database). */
  readonly filename: string;
  private readonly db: BetterSqlite3.Database;
  private readonly busyTimeoutMs: number;
  private readonly pingStatement: Stmt<[], number>;
  /** Null until the schema exists (a store opened with `migrate: false` on an empty database). */
  private prepared: Prepared | null = null;

  private constructor(db: BetterSqlite3.Database, filename: string, busyTimeoutMs: number) {
    this.db = db;
    this.filename = filename;
    this.busyTimeoutMs = busyTimeoutMs;
    // Reads page 1, so it fails when the file has become unreadable, yet needs no restjwt table.
    this.pingStatement = db.prepare<[], number>('SELECT count(*) FROM sqlite_master').pluck();
  }

  /** Synchronous open, for callers that cannot await (prefer {@link openSqliteStore}). */
  static open(options: SqliteStoreOptions): SqliteStore {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${String(options.busyTimeoutMs)}`);
    }
    let db: BetterSqlite3.Database;
    try {
      db = new Database(options.filename, { timeout: busyTimeoutMs });
    } catch (error) {
      throw translateError(error, options.filename, busyTimeoutMs);
    }
    try {
      // busy_timeout first, so that switching to WAL waits for a lock held by another process.
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      const store = new SqliteStore(db, options.filename, busyTimeoutMs);
      if (options.migrate ?? true) applyMigrations(db);
      store.tryPrepare();
      return store;
    } catch (error) {
      db.close();
      throw translateError(error, options.filename, busyTimeoutMs);
    }
  }

  // --- lifecycle -------------------------------------------------------------------------------------------------

  /** Applies pending migrations (see `migrations.ts`); returns their names, `[]` when the schema is current. */
  migrate(): Promise<string[]> {
    return this.settle(() => {
      const applied = applyMigrations(this.db);
      this.tryPrepare();
      return applied;
    });
  }

  /** Resolves when the database file can be read. */
  ping(): Promise<void> {
    return this.settle(() => {
      this.pingStatement.get();
    });
  }

  /** Closes the connection. Idempotent; later calls reject with `StoreUnavailableError`. */
  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }

  /**
   * The `EXPLAIN QUERY PLAN` details of the prepared `isBlacklisted` lookup, e.g.
   * `SEARCH o USING COVERING INDEX restjwt_outstanding_token_jti_uniq (jti=?)`. For diagnostics and tests.
   */
  explainIsBlacklisted(): string[] {
    const source = this.statements().isBlacklisted.source;
    return this.db
      .prepare<[string], { detail: string }>(`EXPLAIN QUERY PLAN ${source}`)
      .all('')
      .map((row) => row.detail);
  }

  // --- users -----------------------------------------------------------------------------------------------------

  findUser(field: UserLookupField, value: string): Promise<UserRecord | null> {
    return this.call((q) => {
      let row: UserRow | undefined;
      if (field === 'id') {
        const id = parseId(value);
        row = id === null ? undefined : q.userById.get(id);
      } else if (field === 'username') {
        row = q.userByUsername.get(value);
      } else {
        row = q.userByEmail.get(value);
      }
      return row === undefined ? null : toUser(row);
    });
  }

  createUser(user: NewUser): Promise<UserRecord> {
    return this.call((q) => {
      try {
        const row = q.insertUser.get(
          user.username,
          user.email ?? '',
          user.passwordHash,
          (user.isActive ?? true) ? 1 : 0,
          user.isStaff ? 1 : 0,
          Date.now(),
          newTokenVersion(),
        );
        if (row === undefined) throw new Error('INSERT ... RETURNING returned no row');
        return toUser(row);
      } catch (error) {
        if (
          error instanceof Database.SqliteError &&
          error.code === 'SQLITE_CONSTRAINT_UNIQUE' &&
          error.message.includes('restjwt_user.username')
        ) {
          throw new UserExistsError(user.username);
        }
        throw error;
      }
    });
  }

  updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    return this.call((q) => {
      const key = parseId(id);
      if (key !== null) q.updatePasswordHash.run(passwordHash, key);
    });
  }

  setPassword(id: string, passwordHash: string): Promise<void> {
    return this.call((q) => {
      const key = parseId(id);
      if (key !== null) q.setPassword.run(passwordHash, newTokenVersion(), key);
    });
  }

  /** Deactivating also renews `tokenVersion`, so the user's outstanding tokens stop working where it is checked. */
  setActive(id: string, isActive: boolean): Promise<void> {
    return this.call((q) => {
      const key = parseId(id);
      if (key === null) return;
      if (isActive) q.activate.run(key);
      else q.deactivate.run(newTokenVersion(), key);
    });
  }

  renewTokenVersion(id: string): Promise<void> {
    return this.call((q) => {
      const key = parseId(id);
      if (key !== null) q.renewTokenVersion.run(newTokenVersion(), key);
    });
  }

  updateLastLogin(id: string, at: Date): Promise<void> {
    return this.call((q) => {
      const ms = toMillis(at, 'at');
      const key = parseId(id);
      if (key !== null) q.updateLastLogin.run(ms, key);
    });
  }

  /** Users in id (creation) order. */
  listUsers(options: { limit?: number; offset?: number } = {}): Promise<UserRecord[]> {
    return this.call((q) => {
      const { limit, offset } = checkPage(options);
      // LIMIT -1: no limit.
      return q.listUsers.all(limit ?? -1, offset).map(toUser);
    });
  }

  /**
   * Inserts a user with its own id, dates and token version (for `restjwt importdjango`), unless the id or the
   * username is taken; never changes an existing row. See {@link UserImportStore}.
   */
  importUser(user: UserRecord): Promise<ImportUserResult> {
    return this.call(() => {
      const id = parseId(user.id);
      if (id === null || id < 1) throw new RangeError(`A SQLite user id must be a positive integer, got ${JSON.stringify(user.id)}`);
      const lastLogin = user.lastLogin === null ? null : toMillis(user.lastLogin, 'lastLogin');
      const dateJoined = toMillis(user.dateJoined, 'dateJoined');
      const db = this.db;
      const run = db.transaction((): ImportUserResult => {
        const byId = db.prepare<[number], string>('SELECT username FROM restjwt_user WHERE id = ?').pluck().get(id);
        if (byId !== undefined) return byId === user.username ? 'exists' : 'conflict';
        const byName = db.prepare<[string], number>('SELECT id FROM restjwt_user WHERE username = ?').pluck().get(user.username);
        if (byName !== undefined) return 'conflict';
        db.prepare(
          `INSERT INTO restjwt_user (id, username, email, password, is_active, is_staff, last_login, date_joined, token_version)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(id, user.username, user.email, user.passwordHash, user.isActive ? 1 : 0, user.isStaff ? 1 : 0, lastLogin, dateJoined, user.tokenVersion);
        return 'imported';
      });
      return run.immediate();
    });
  }

  // --- tokens ----------------------------------------------------------------------------------------------------

  recordOutstanding(token: OutstandingToken): Promise<void> {
    return this.call((q) => {
      q.insertOutstanding.run(...tokenParams(token));
    });
  }

  isBlacklisted(jti: string): Promise<boolean> {
    return this.call((q) => q.isBlacklisted.get(jti) !== undefined);
  }

  blacklist(token: OutstandingToken): Promise<BlacklistResult> {
    return this.call((q) => q.blacklist.immediate(tokenParams(token), Date.now()));
  }

  rotate(presented: OutstandingToken, successor: OutstandingToken, options: RotateOptions = {}): Promise<RotateResult> {
    return this.call((q) =>
      q.rotate.immediate(
        tokenParams(presented),
        tokenParams(successor),
        Date.now(),
        (recorded) => successorFamily(presented, successor, options, recorded),
        rotationUse(options),
      ),
    );
  }

  revokeAccess(jti: string, expiresAt: Date): Promise<void> {
    return this.call((q) => {
      q.revokeAccess.run(jti, toMillis(expiresAt, 'expiresAt'));
    });
  }

  isAccessRevoked(jti: string): Promise<boolean> {
    return this.call((q) => q.isAccessRevoked.get(jti) !== undefined);
  }

  findOutstanding(jti: string): Promise<OutstandingState | null> {
    return this.call((q) => {
      const row = q.findOutstanding.get(jti);
      if (row === undefined) return null;
      return outstandingStateFromRow(row);
    });
  }

  /** One IMMEDIATE transaction: a concurrent `rotate` either committed before (its successor is revoked here) or after (it finds its token blacklisted). */
  revokeFamily(familyId: string): Promise<number> {
    return this.call((q) => q.revokeFamily.immediate(familyId, Date.now()));
  }

  revokeUser(userId: string): Promise<number> {
    return this.call((q) => {
      const key = parseId(userId);
      return key === null ? 0 : q.revokeUser.immediate(key, Date.now());
    });
  }

  /**
   * Deletes tokens that expired before `now`, `batchSize` rows per transaction (default 1000), so that other writers
   * get the lock between batches; their blacklist rows go with them (ON DELETE CASCADE). Also deletes expired access
   * revocations and one-time values, then (in batches too) the sessions whose family has no token left.
   */
  async flushExpired(now: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    const batchSize = checkBatchSize(options);
    const before = toMillis(now, 'now');
    await this.call((q) => {
      q.flushRevokedAccess.run(before);
      q.flushOneTime.run(before);
    });
    const deleted = await deleteInBatches(batchSize, options.onProgress, () => this.call((q) => q.flushBatch.immediate(before, batchSize)));
    await deleteInBatches(batchSize, undefined, () => this.call((q) => q.flushSessionBatch.immediate(batchSize)));
    return deleted;
  }

  countTokens(): Promise<{ outstanding: number; blacklisted: number }> {
    return this.call((q) => {
      const row = q.countTokens.get();
      return { outstanding: row?.outstanding ?? 0, blacklisted: row?.blacklisted ?? 0 };
    });
  }

  /** Blacklisted tokens in outstanding-id order, for a revocation cache to load (see `BlacklistSource`). */
  listBlacklisted(
    options: { expiresAfter?: Date; expiresBefore?: Date; cursor?: string | null; limit?: number } = {},
  ): Promise<BlacklistPage> {
    return this.call((q) => {
      const limit = options.limit ?? 1000;
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${String(options.limit)}`);
      const cursor = options.cursor ?? null;
      const after = cursor === null ? 0 : parseId(cursor);
      if (after === null) throw new RangeError('cursor must be the `next` of a previous page');
      const from = options.expiresAfter === undefined ? Number.MIN_SAFE_INTEGER : toMillis(options.expiresAfter, 'expiresAfter');
      const to = options.expiresBefore === undefined ? Number.MAX_SAFE_INTEGER : toMillis(options.expiresBefore, 'expiresBefore');
      const rows = q.listBlacklisted.all(after, from, to, limit);
      const last = rows.at(-1);
      return {
        entries: rows.map((row) => ({ jti: row.jti, expiresAt: new Date(row.expires_at) })),
        next: rows.length === limit && last !== undefined ? String(last.id) : null,
      };
    });
  }

  // --- sessions (SessionStore) -----------------------------------------------------------------------------------

  /** Records a login; a second record of the family, or one for an unknown user, is a no-op. */
  recordSession(userId: string, use: SessionUse): Promise<void> {
    return this.call((q) => {
      const values = sessionUseValues(use);
      const key = parseId(userId);
      if (key !== null) q.insertSession.run(values.familyId, values.at, values.at, values.clientAddress, values.userAgent, key);
    });
  }

  /** Records a refresh unless an equal or later one is recorded; a null address or user agent keeps the known one. */
  touchSession(use: SessionUse): Promise<void> {
    return this.call((q) => {
      const values = sessionUseValues(use);
      q.touchSession.run(values.at, values.clientAddress, values.userAgent, values.familyId, values.at);
    });
  }

  /** `userId`'s sessions, newest login first, with their family's expiry and state; ended ones only with `includeEnded`. */
  listSessions(userId: string, options: { includeEnded?: boolean; now?: Date } = {}): Promise<SessionRecord[]> {
    return this.call((q) => {
      const now = toMillis(options.now ?? new Date(Date.now()), 'now');
      const key = parseId(userId);
      if (key === null) return [];
      return q.listSessions.all({ now, userId: key, all: options.includeEnded === true ? 1 : 0 }).map(sessionFromRow);
    });
  }

  sessionOwner(familyId: string): Promise<string | null> {
    return this.call((q) => {
      const owner = q.sessionOwner.get(familyId);
      return owner === undefined ? null : String(owner);
    });
  }

  /** Outstanding tokens, newest first (by `createdAt`, then the later recorded), at most 1000 per call (default 100). */
  listTokens(options: { userId?: string; blacklisted?: boolean; limit?: number; offset?: number } = {}): Promise<TokenListing[]> {
    return this.call((q) => {
      const { limit, offset } = checkTokenListing(options);
      const userId = options.userId === undefined ? null : parseId(options.userId);
      if (options.userId !== undefined && userId === null) return [];
      const filter: TokenFilter = `${userId === null ? 'all' : 'user'}:${options.blacklisted === undefined ? 'any' : options.blacklisted ? 'yes' : 'no'}`;
      return q.listTokens[filter].all({ userId, limit, offset }).map(tokenListingFromRow);
    });
  }

  countUsers(): Promise<number> {
    return this.call((q) => q.countUsers.get() ?? 0);
  }

  // --- linked identities (IdentityStore) -------------------------------------------------------------------------

  findIdentity(provider: string, subject: string): Promise<LinkedIdentity | null> {
    return this.call((q) => {
      const row = q.findIdentity.get(provider, subject);
      return row === undefined ? null : identityFromRow(row);
    });
  }

  /**
   * Links the identity with an insert-if-absent on its unique (provider, subject) index, then reads who owns it, in
   * one IMMEDIATE transaction.
   *
   * @throws RangeError when `userId` names no user.
   */
  linkIdentity(identity: { provider: string; subject: string; userId: string; email: string | null; at: Date }): Promise<LinkResult> {
    return this.call((q) => {
      const at = toMillis(identity.at, 'at');
      const key = parseId(identity.userId);
      // -1 matches no user: the insert adds nothing and the pair's owner, if any, still answers.
      const { owner, inserted } = q.linkIdentity.immediate([identity.provider, identity.subject, identity.email, at, at, key ?? -1]);
      return linkResult(owner, identity.userId, inserted);
    });
  }

  touchIdentity(provider: string, subject: string, email: string | null, at: Date): Promise<void> {
    return this.call((q) => {
      q.touchIdentity.run(toMillis(at, 'at'), email, provider, subject);
    });
  }

  unlinkIdentity(userId: string, provider: string, subject: string, options?: UnlinkOptions): Promise<UnlinkResult> {
    return this.call((q) => {
      const key = parseId(userId);
      return key === null ? 'not_found' : q.unlinkIdentity.immediate(key, provider, subject, options);
    });
  }

  /** `userId`'s linked identities, by provider then subject. */
  listIdentities(userId: string): Promise<LinkedIdentity[]> {
    return this.call((q) => {
      const key = parseId(userId);
      return key === null ? [] : q.listIdentities.all(key).map(identityFromRow);
    });
  }

  // --- one-time values (OneTimeStore) ----------------------------------------------------------------------------

  /** @throws OneTimeKeyExistsError when `key` is taken (even by an expired value not yet flushed). */
  putOneTime(key: string, value: string, expiresAt: Date): Promise<void> {
    return this.call((q) => {
      if (q.putOneTime.run(key, value, toMillis(expiresAt, 'expiresAt')).changes !== 1) throw new OneTimeKeyExistsError();
    });
  }

  /** One `DELETE … RETURNING`: of concurrent takes (in any process) only the one that deleted the row gets it. */
  takeOneTime(key: string, now?: Date): Promise<string | null> {
    return this.call((q) => {
      const at = toMillis(now ?? new Date(Date.now()), 'now');
      const row = q.takeOneTime.get(key);
      return row !== undefined && isOneTimeLive(row.expires_at, at) ? row.value : null;
    });
  }

  // --- internals -------------------------------------------------------------------------------------------------

  /** Runs `fn` against the prepared statements (see {@link settle}). */
  private call<T>(fn: (q: Prepared) => T): Promise<T> {
    return this.settle(() => fn(this.statements()));
  }

  /** Runs `fn` now (better-sqlite3 is synchronous) and settles a promise with its result or translated error. */
  private settle<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(translateError(error, this.filename, this.busyTimeoutMs));
    }
  }

  private statements(): Prepared {
    if (this.prepared !== null) return this.prepared;
    if (!this.db.open) {
      throw new StoreUnavailableError(`The SQLite store for ${this.filename} is closed. Open a new one with openSqliteStore().`);
    }
    // The schema may have been created since open (by `restjwt migrate` in another process).
    this.tryPrepare();
    if (this.prepared === null) {
      throw new Error(
        `The database ${this.filename} has no restjwt schema. Run "restjwt migrate", or open the store with migrate: true.`,
      );
    }
    return this.prepared;
  }

  /** Prepares every statement, or leaves `prepared` null when the restjwt tables do not exist yet. */
  private tryPrepare(): void {
    if (this.prepared !== null) return;
    const tables = this.db
      .prepare<[], number>(
        `SELECT count(*) FROM sqlite_master WHERE type = 'table'
           AND name IN ('restjwt_user', 'restjwt_outstanding_token', 'restjwt_blacklisted_token')`,
      )
      .pluck()
      .get();
    if (tables !== 3) return;
    // Opened with migrate: false on an older schema (before 0002_families … 0004_sessions_identities): wait for `restjwt migrate`.
    const columns = this.db.prepare<[], string>(`SELECT name FROM pragma_table_info('restjwt_outstanding_token')`).pluck().all();
    if (!columns.includes('replaced_by')) return;
    const later = this.db
      .prepare<[], number>(
        `SELECT count(*) FROM sqlite_master WHERE type = 'table'
           AND name IN ('restjwt_revoked_access', 'restjwt_session', 'restjwt_identity', 'restjwt_one_time')`,
      )
      .pluck()
      .get();
    if (later !== 4) return;
    this.prepared = prepareAll(this.db);
  }
}

/**
 * Opens (creating if needed) the SQLite database `filename`, sets WAL journaling, a 5 s busy timeout and foreign
 * keys, and applies pending migrations unless `migrate: false`.
 *
 * @throws StoreUnavailableError when the file cannot be opened or is locked for longer than the busy timeout.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  return SqliteStore.open(options);
}

function prepareAll(db: BetterSqlite3.Database): Prepared {
  const user = 'SELECT * FROM restjwt_user';
  const insertOutstanding = db.prepare<OutstandingParams>(
    // An unknown user id is stored as NULL (as simplejwt does), instead of failing the foreign key.
    `INSERT INTO restjwt_outstanding_token (jti, user_id, token_type, family_id, created_at, expires_at)
     VALUES (?, (SELECT id FROM restjwt_user WHERE id = ?), ?, ?, ?, ?)
     ON CONFLICT (jti) DO NOTHING`,
  );
  const outstandingRow = db.prepare<[string], { id: number; family_id: string | null }>('SELECT id, family_id FROM restjwt_outstanding_token WHERE jti = ?');
  const insertBlacklist = db.prepare<[number, number]>(
    `INSERT INTO restjwt_blacklisted_token (token_id, blacklisted_at) VALUES (?, ?) ON CONFLICT (token_id) DO NOTHING`,
  );
  const setReplacedBy = db.prepare<[string, string]>('UPDATE restjwt_outstanding_token SET replaced_by = ? WHERE jti = ?');
  // Blacklist rows for every live token matching the condition, in one statement.
  const revokeWhere = (condition: string) =>
    db.prepare<[number, string | number]>(
      `INSERT INTO restjwt_blacklisted_token (token_id, blacklisted_at)
       SELECT o.id, ? FROM restjwt_outstanding_token o
       WHERE ${condition} AND NOT EXISTS (SELECT 1 FROM restjwt_blacklisted_token b WHERE b.token_id = o.id)
       ON CONFLICT (token_id) DO NOTHING`,
    );
  const revokeFamily = revokeWhere('o.family_id = ?');
  const revokeUser = revokeWhere('o.user_id = ?');
  const flush = db.prepare<[number, number]>(
    `DELETE FROM restjwt_outstanding_token WHERE id IN (
       SELECT id FROM restjwt_outstanding_token WHERE expires_at < ? LIMIT ?)`,
  );

  // The optional capabilities.
  const insertIdentity = db.prepare<IdentityParams>(
    // INSERT … SELECT from the user: an unknown user inserts nothing (instead of failing the foreign key). The WHERE
    // is also what lets SQLite parse the upsert after a SELECT.
    `INSERT INTO restjwt_identity (provider, subject, user_id, email, created_at, last_used_at)
     SELECT ?, ?, id, ?, ?, ? FROM restjwt_user WHERE id = ?
     ON CONFLICT (provider, subject) DO NOTHING`,
  );
  const identityOwner = db.prepare<[string, string], number>('SELECT user_id FROM restjwt_identity WHERE provider = ? AND subject = ?').pluck();
  const deadSessions = db.prepare<[number]>(
    `DELETE FROM restjwt_session WHERE id IN (
       SELECT s.id FROM restjwt_session s
       WHERE NOT EXISTS (SELECT 1 FROM restjwt_outstanding_token o WHERE o.family_id = s.family_id) LIMIT ?)`,
  );
  /** A token of the session's family that is neither blacklisted nor expired at @now. */
  const liveToken = `SELECT 1 FROM restjwt_outstanding_token o
       WHERE o.family_id = s.family_id AND o.expires_at > @now
         AND NOT EXISTS (SELECT 1 FROM restjwt_blacklisted_token b WHERE b.token_id = o.id)`;
  const listTokens = (filter: TokenFilter) => {
    const [who, state] = filter.split(':');
    const where = [who === 'user' ? 'o.user_id = @userId' : '', state === 'yes' ? 'b.id IS NOT NULL' : state === 'no' ? 'b.id IS NULL' : '']
      .filter((c) => c !== '')
      .join(' AND ');
    return db.prepare<[{ userId: number | null; limit: number; offset: number }], TokenListingRow>(
      `SELECT o.jti, o.user_id, o.token_type, o.family_id, o.created_at, o.expires_at, o.replaced_by, b.blacklisted_at, u.username
       FROM restjwt_outstanding_token o
       LEFT JOIN restjwt_blacklisted_token b ON b.token_id = o.id
       LEFT JOIN restjwt_user u ON u.id = o.user_id
       ${where === '' ? '' : `WHERE ${where}`}
       ORDER BY o.created_at DESC, o.id DESC LIMIT @limit OFFSET @offset`,
    );
  };
  const filters: TokenFilter[] = ['all:any', 'all:yes', 'all:no', 'user:any', 'user:yes', 'user:no'];
  const identity = 'SELECT provider, subject, user_id, email, created_at, last_used_at FROM restjwt_identity';
  const identitiesOf = db.prepare<[number], IdentityRow>(`${identity} WHERE user_id = ? ORDER BY provider, subject`);
  const passwordOf = db.prepare<[number], string>('SELECT password FROM restjwt_user WHERE id = ?').pluck();
  const deleteIdentity = db.prepare<[number, string, string]>('DELETE FROM restjwt_identity WHERE user_id = ? AND provider = ? AND subject = ?');

  /**
   * Records `token` unless present and blacklists it. The recorded row's family when this call inserted the blacklist
   * row; undefined when the token was blacklisted already.
   */
  const blacklistRow = (token: OutstandingParams, now: number): { familyId: string | null } | undefined => {
    insertOutstanding.run(...token);
    const row = outstandingRow.get(token[0]);
    if (row === undefined) throw new Error(`Outstanding token ${token[0]} vanished inside its transaction`);
    // The unique token_id decides: only the call that inserts the row wins.
    return insertBlacklist.run(row.id, now).changes === 1 ? { familyId: row.family_id } : undefined;
  };
  const touchSession = db.prepare<[number, string | null, string | null, string, number]>(
    // An older use (refreshes finishing out of order) changes nothing; unknown metadata keeps the known one.
    `UPDATE restjwt_session
     SET last_used_at = ?, client_address = coalesce(?, client_address), user_agent = coalesce(?, user_agent)
     WHERE family_id = ? AND last_used_at <= ?`,
  );

  return {
    userById: db.prepare<[number], UserRow>(`${user} WHERE id = ?`),
    userByUsername: db.prepare<[string], UserRow>(`${user} WHERE username = ?`),
    userByEmail: db.prepare<[string], UserRow>(`${user} WHERE email = ? ORDER BY id LIMIT 1`),
    insertUser: db.prepare<[string, string, string, number, number, number, string], UserRow>(
      `INSERT INTO restjwt_user (username, email, password, is_active, is_staff, last_login, date_joined, token_version)
       VALUES (?, ?, ?, ?, ?, NULL, ?, ?) RETURNING *`,
    ),
    updatePasswordHash: db.prepare<[string, number]>('UPDATE restjwt_user SET password = ? WHERE id = ?'),
    setPassword: db.prepare<[string, string, number]>('UPDATE restjwt_user SET password = ?, token_version = ? WHERE id = ?'),
    activate: db.prepare<[number]>('UPDATE restjwt_user SET is_active = 1 WHERE id = ?'),
    deactivate: db.prepare<[string, number]>('UPDATE restjwt_user SET is_active = 0, token_version = ? WHERE id = ?'),
    renewTokenVersion: db.prepare<[string, number]>('UPDATE restjwt_user SET token_version = ? WHERE id = ?'),
    revokeAccess: db.prepare<[string, number]>(
      'INSERT INTO restjwt_revoked_access (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING',
    ),
    isAccessRevoked: db.prepare<[string], number>('SELECT 1 FROM restjwt_revoked_access WHERE jti = ? LIMIT 1').pluck(),
    flushRevokedAccess: db.prepare<[number]>('DELETE FROM restjwt_revoked_access WHERE expires_at < ?'),
    findOutstanding: db.prepare<[string], OutstandingStateRow>(
      `SELECT o.jti, o.user_id, o.token_type, o.family_id, o.created_at, o.expires_at, o.replaced_by, b.blacklisted_at
       FROM restjwt_outstanding_token o LEFT JOIN restjwt_blacklisted_token b ON b.token_id = o.id
       WHERE o.jti = ?`,
    ),
    revokeFamily: db.transaction((familyId: string, now: number): number => revokeFamily.run(now, familyId).changes),
    revokeUser: db.transaction((userId: number, now: number): number => revokeUser.run(now, userId).changes),
    updateLastLogin: db.prepare<[number, number]>('UPDATE restjwt_user SET last_login = ? WHERE id = ?'),
    listUsers: db.prepare<[number, number], UserRow>(`${user} ORDER BY id LIMIT ? OFFSET ?`),
    insertOutstanding,
    insertBlacklist,
    isBlacklisted: db
      .prepare<[string], number>(
        // Two index searches: jti → outstanding id (unique index), id → blacklist row (unique index).
        `SELECT 1 FROM restjwt_outstanding_token o
         JOIN restjwt_blacklisted_token b ON b.token_id = o.id
         WHERE o.jti = ? LIMIT 1`,
      )
      .pluck(),
    countTokens: db.prepare<[], { outstanding: number; blacklisted: number }>(
      `SELECT (SELECT count(*) FROM restjwt_outstanding_token) AS outstanding,
              (SELECT count(*) FROM restjwt_blacklisted_token) AS blacklisted`,
    ),
    listBlacklisted: db.prepare<[number, number, number, number], { id: number; jti: string; expires_at: number }>(
      `SELECT o.id, o.jti, o.expires_at FROM restjwt_outstanding_token o
       JOIN restjwt_blacklisted_token b ON b.token_id = o.id
       WHERE o.id > ? AND o.expires_at > ? AND o.expires_at < ?
       ORDER BY o.id LIMIT ?`,
    ),
    blacklist: db.transaction((token: OutstandingParams, now: number): BlacklistResult =>
      blacklistRow(token, now) !== undefined ? 'blacklisted' : 'already_blacklisted',
    ),
    rotate: db.transaction(
      (presented: OutstandingParams, successor: OutstandingParams, now: number, family: FamilyOf, use: SessionUseValues | null): RotateResult => {
        const won = blacklistRow(presented, now);
        if (won === undefined) return 'already_blacklisted';
        const familyId = family(won.familyId);
        insertOutstanding.run(successor[0], successor[1], successor[2], familyId, successor[4], successor[5]);
        setReplacedBy.run(successor[0], presented[0]);
        if (use !== null && familyId !== null) touchSession.run(use.at, use.clientAddress, use.userAgent, familyId, use.at);
        return 'rotated';
      },
    ),
    flushBatch: db.transaction((before: number, limit: number): number => flush.run(before, limit).changes),
    insertSession: db.prepare<SessionParams>(
      `INSERT INTO restjwt_session (family_id, user_id, created_at, last_used_at, client_address, user_agent)
       SELECT ?, id, ?, ?, ?, ? FROM restjwt_user WHERE id = ?
       ON CONFLICT (family_id) DO NOTHING`,
    ),
    touchSession,
    listSessions: db.prepare<[{ now: number; userId: number; all: number }], SessionRow>(
      `SELECT s.family_id, s.user_id, s.created_at, s.last_used_at, s.client_address, s.user_agent,
              (SELECT max(o.expires_at) FROM restjwt_outstanding_token o WHERE o.family_id = s.family_id) AS expires_at,
              EXISTS (${liveToken}) AS active
       FROM restjwt_session s
       WHERE s.user_id = @userId AND (@all = 1 OR EXISTS (${liveToken}))
       ORDER BY s.created_at DESC, s.id DESC`,
    ),
    sessionOwner: db.prepare<[string], number>('SELECT user_id FROM restjwt_session WHERE family_id = ?').pluck(),
    listTokens: Object.fromEntries(filters.map((f) => [f, listTokens(f)])) as Prepared['listTokens'],
    countUsers: db.prepare<[], number>('SELECT count(*) FROM restjwt_user').pluck(),
    findIdentity: db.prepare<[string, string], IdentityRow>(`${identity} WHERE provider = ? AND subject = ?`),
    linkIdentity: db.transaction((values: IdentityParams) => {
      // The unique (provider, subject) index decides; the owner read afterwards is whoever won.
      const inserted = insertIdentity.run(...values).changes === 1;
      return { owner: identityOwner.get(values[0], values[1]), inserted };
    }),
    touchIdentity: db.prepare<[number, string | null, string, string]>(
      'UPDATE restjwt_identity SET last_used_at = ?, email = ? WHERE provider = ? AND subject = ?',
    ),
    unlinkIdentity: db.transaction((userId: number, provider: string, subject: string, options: UnlinkOptions | undefined): UnlinkResult => {
      // Run with .immediate(): the write lock is taken before the reads, so another process's unlink waits for it.
      const verdict = unlinkVerdict(passwordOf.get(userId) ?? null, identitiesOf.all(userId), provider, subject, options);
      if (verdict !== 'remove') return verdict;
      deleteIdentity.run(userId, provider, subject);
      return 'unlinked';
    }),
    listIdentities: identitiesOf,
    putOneTime: db.prepare<[string, string, number]>(
      `INSERT INTO restjwt_one_time ("key", value, expires_at) VALUES (?, ?, ?) ON CONFLICT ("key") DO NOTHING`,
    ),
    takeOneTime: db.prepare<[string], { value: string; expires_at: number }>(
      `DELETE FROM restjwt_one_time WHERE "key" = ? RETURNING value, expires_at`,
    ),
    flushOneTime: db.prepare<[number]>('DELETE FROM restjwt_one_time WHERE expires_at < ?'),
    flushSessionBatch: db.transaction((limit: number): number => deadSessions.run(limit).changes),
  };
}

/** Maps lock and I/O failures to `StoreUnavailableError` (HTTP 503) with what to do; other errors pass through. */
function translateError(error: unknown, filename: string, busyTimeoutMs: number): unknown {
  if (error instanceof StoreUnavailableError) return error;
  if (error instanceof Database.SqliteError) {
    const code = error.code;
    if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
      return new StoreUnavailableError(
        `The SQLite database ${filename} stayed locked by another connection for more than ${busyTimeoutMs} ms (${code}). ` +
          'Retry the request; if this keeps happening, look for a long-running writer (a backup, a stuck process) ' +
          'or move to a server database for many concurrent writers.',
        { cause: error },
      );
    }
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) {
      return new StoreUnavailableError(
        `The SQLite database ${filename} is damaged or not a SQLite database (${code}). Restore it from a backup.`,
        { cause: error },
      );
    }
    if (/^SQLITE_(IOERR|CANTOPEN|FULL|READONLY|PROTOCOL|NOMEM|PERM)/.test(code)) {
      return new StoreUnavailableError(
        `The SQLite database ${filename} cannot be read or written (${code}: ${error.message}). Check that the file ` +
          'and its directory exist and are writable by this process, and that the disk is not full.',
        { cause: error },
      );
    }
    return error;
  }
  if (error instanceof TypeError) {
    if (error.message.includes('database connection is not open')) {
      return new StoreUnavailableError(`The SQLite store for ${filename} is closed. Open a new one with openSqliteStore().`, {
        cause: error,
      });
    }
    if (error.message.includes('directory does not exist')) {
      return new StoreUnavailableError(
        `Cannot open the SQLite database ${filename}: its directory does not exist. Create the directory or fix the database URL.`,
        { cause: error },
      );
    }
  }
  return error;
}

function toUser(row: UserRow): UserRecord {
  return {
    id: String(row.id),
    username: row.username,
    email: row.email,
    passwordHash: row.password,
    isActive: row.is_active === 1,
    isStaff: row.is_staff === 1,
    lastLogin: row.last_login === null ? null : new Date(row.last_login),
    dateJoined: new Date(row.date_joined),
    tokenVersion: row.token_version,
  };
}

function tokenParams(token: OutstandingToken): OutstandingParams {
  return [
    token.jti,
    token.userId === null ? null : parseId(token.userId),
    token.tokenType,
    token.familyId,
    toMillis(token.createdAt, 'createdAt'),
    toMillis(token.expiresAt, 'expiresAt'),
  ];
}

/** User ids are canonical decimal integers; anything else matches no row. */
function parseId(id: string): number | null {
  if (!/^(0|[1-9][0-9]*)$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}

