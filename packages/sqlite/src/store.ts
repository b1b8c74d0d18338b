/**
 * The SQLite backend, on better-sqlite3. Suited to one server process or a few on one machine: writers take turns
 * on the database lock (WAL mode lets readers proceed meanwhile). The statements are in `statements.ts`.
 *
 * better-sqlite3 is synchronous: every call runs to completion before the method's promise is returned, and a call
 * that has to wait for another process's write lock blocks the event loop for up to `busyTimeoutMs`.
 */
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { ConfigurationError, UserExistsError } from '@restjwt/core';
import { IN_PROCESS_CAPABILITIES, type WithCapabilities, type Audited, type FactorRecord, type NewFactor, CredentialExistsError, checkCounter, checkRecoveryHashes, factorFromRow, newFactorValues, type AuditCount, type AuditEvent, type AuditPage, type AuditQuery, type AuditValues, auditCountFromRow, auditFromRow, auditPage, auditValues, checkAuditQuery, checkAuditRange, type BlacklistPage, type BlacklistResult, type BlacklistSource, type FlushProgress, type ImportUserResult, type LinkedIdentity, type LinkResult, type NewUser, type OutstandingState, type OutstandingToken, type RotateOptions, type RotateResult, type SessionRecord, type SessionUse, type Store, type TokenListing, type UnlinkOptions, type UnlinkResult, type UserLookupField, type UserRecord, OneTimeKeyExistsError, checkBatchSize, deleteInBatches, blacklistPage, copyUser, identityFromRow, outstandingStateFromRow, sessionFromRow, tokenListingFromRow, userFromRow, checkBlacklistListing, checkPage, checkTokenListing, requestUseValues, sessionUseValues, toMillis, isOneTimeLive, linkResult, newTokenVersion, successorFamily, userChanges, type UserChange } from '@restjwt/core/store-kit';
import { sqliteClosed, translateSqliteError } from './errors.js';
import { migrate as applyMigrations } from './migrations.js';
import { factorParams, parseId, prepareStatements, tokenParams, userChangeParams, type Prepared, type TokenFilter } from './statements.js';
import { UserCache } from './user-cache.js';

/** Options for {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Path of the database file (created if missing), or `:memory:`. See `sqliteFilenameFromUrl` for URLs. */
  filename: string;
  /** Apply pending migrations while opening. Default true; pass false when a deploy step runs `migrate` instead. */
  migrate?: boolean;
  /** How long a write waits for another connection's lock before failing with `StoreUnavailableError`. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * A {@link Store} on one SQLite database file, with every optional capability (sessions, linked identities, one-time
 * values, the audit log, second factors). Create it with {@link openSqliteStore}.
 *
 * `rotate` and `blacklist` are atomic across connections and processes: each runs in one IMMEDIATE transaction
 * whose `INSERT ... ON CONFLICT DO NOTHING` on the unique blacklist row decides the single winner. `linkIdentity`
 * and `takeOneTime` are decided the same way, by a unique index and a single statement.
 */
export class SqliteStore implements Store, WithCapabilities<(typeof IN_PROCESS_CAPABILITIES)[number]> {
  /** The file this store opened (`:memory:` for an in-memory database). */
  readonly filename: string;
  private readonly db: BetterSqlite3.Database;
  private readonly busyTimeoutMs: number;
  private readonly pingStatement: BetterSqlite3.Statement<[], number>;
  /** Null until the schema exists (a store opened with `migrate: false` on an empty database). */
  private prepared: Prepared | null = null;
  /** `findUser('id', …)`'s rows, re-read whenever the database may have changed (see user-cache.ts). */
  private readonly usersById: UserCache<NonNullable<ReturnType<Prepared['userById']['get']>>, UserRecord>;

  private constructor(db: BetterSqlite3.Database, filename: string, busyTimeoutMs: number) {
    this.db = db;
    this.filename = filename;
    this.busyTimeoutMs = busyTimeoutMs;
    // Reads page 1, so it fails when the file has become unreadable, yet needs no restjwt table.
    this.pingStatement = db.prepare<[], number>('SELECT count(*) FROM sqlite_master').pluck();
    this.usersById = new UserCache(db, userFromRow, copyUser);
  }

  /** The optional capabilities: all of them. */
  get capabilities(): typeof IN_PROCESS_CAPABILITIES {
    return IN_PROCESS_CAPABILITIES;
  }

  /** Synchronous open, for callers that cannot await (prefer {@link openSqliteStore}). */
  static open(options: SqliteStoreOptions): SqliteStore {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${String(options.busyTimeoutMs)}`);
    }
    refuseUnsupportedRuntime();
    let db: BetterSqlite3.Database;
    try {
      db = new Database(options.filename, { timeout: busyTimeoutMs });
    } catch (error) {
      throw translateSqliteError(error, options.filename, busyTimeoutMs);
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
      throw translateSqliteError(error, options.filename, busyTimeoutMs);
    }
  }

  // --- lifecycle -------------------------------------------------------------------------------------------------

  /** Applies pending migrations (see `migrations.ts`); returns their names, `[]` when the schema is current. */
  migrate(): Promise<string[]> {
    return this.runAsPromise(() => {
      const applied = applyMigrations(this.db);
      this.tryPrepare();
      return applied;
    });
  }

  /** Resolves when the database file can be read. */
  ping(): Promise<void> {
    return this.runAsPromise(() => {
      this.pingStatement.get();
    });
  }

  /** Closes the connection. Idempotent; later calls reject with `StoreUnavailableError`. */
  close(): Promise<void> {
    if (this.db.open) this.db.close();
    // Nothing is answered from memory after close: the next call finds no statements and refuses.
    this.prepared = null;
    this.usersById.clear();
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
    return this.withStatements((q) => this.lookUpUser(q, field, value));
  }

  findUserNow(field: UserLookupField, value: string): UserRecord | null {
    try {
      return this.lookUpUser(this.statements(), field, value);
    } catch (error) {
      throw this.translated(error);
    }
  }

  /** Inserts the user and its `audit` event (given the new user's id and username) in one transaction. */
  createUser(user: NewUser, options: Audited = {}): Promise<UserRecord> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      try {
        const row = q.createUser.immediate(
          [user.username, user.email ?? '', user.passwordHash, (user.isActive ?? true) ? 1 : 0, user.isStaff ? 1 : 0, Date.now(), newTokenVersion()],
          audit,
        );
        return userFromRow(row);
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
    return this.withStatements((q) => this.updateUser(q, id, userChanges.rehash(passwordHash)));
  }

  /** With `audit`, the event is written in the update's transaction, and only when the user exists. */
  setPassword(id: string, passwordHash: string, options: Audited = {}): Promise<void> {
    return this.withStatements((q) => this.updateUser(q, id, userChanges.password(passwordHash), options));
  }

  /**
   * Deactivating also renews `tokenVersion`, so the user's outstanding tokens stop working where it is checked. With
   * `audit`, the event is written in the update's transaction, and only when the user exists.
   */
  setActive(id: string, isActive: boolean, options: Audited = {}): Promise<void> {
    return this.withStatements((q) => this.updateUser(q, id, userChanges.active(isActive), options));
  }

  renewTokenVersion(id: string): Promise<void> {
    return this.withStatements((q) => this.updateUser(q, id, userChanges.renewal()));
  }

  updateLastLogin(id: string, at: Date): Promise<void> {
    return this.withStatements((q) => this.updateUser(q, id, userChanges.lastLogin(at)));
  }

  /** Users in id (creation) order. */
  listUsers(options: { limit?: number; offset?: number } = {}): Promise<UserRecord[]> {
    return this.withStatements((q) => {
      const { limit, offset } = checkPage(options);
      // LIMIT -1: no limit.
      return q.listUsers.all(limit ?? -1, offset).map(userFromRow);
    });
  }

  /**
   * Inserts a user with its own id, dates and token version (for `restjwt importdjango`), unless the id or the
   * username is taken; never changes an existing row. See {@link UserImportStore}.
   */
  importUser(user: UserRecord): Promise<ImportUserResult> {
    return this.withStatements((q) => {
      const id = parseId(user.id);
      if (id === null || id < 1) throw new RangeError(`A SQLite user id must be a positive integer, got ${JSON.stringify(user.id)}`);
      const lastLogin = user.lastLogin === null ? null : toMillis(user.lastLogin, 'lastLogin');
      const dateJoined = toMillis(user.dateJoined, 'dateJoined');
      return q.importUser.immediate(id, user, lastLogin, dateJoined);
    });
  }

  // --- tokens ----------------------------------------------------------------------------------------------------

  /** With `audit`, the token and its event in one transaction; a jti recorded before writes neither. */
  recordOutstanding(token: OutstandingToken, options: Audited = {}): Promise<void> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      const params = tokenParams(token);
      // Without an event, the single statement is its own transaction.
      if (audit === undefined) q.insertOutstanding.run(...params);
      else q.recordOutstandingAudited.immediate(params, audit);
    });
  }

  isBlacklisted(jti: string): Promise<boolean> {
    return this.withStatements((q) => q.isBlacklisted.get(jti) !== undefined);
  }

  /** The `audit` event is written in the blacklisting's transaction, by the call that returns `blacklisted`. */
  blacklist(token: OutstandingToken, options: Audited = {}): Promise<BlacklistResult> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      return q.blacklist.immediate(tokenParams(token), Date.now(), audit);
    });
  }

  rotate(presented: OutstandingToken, successor: OutstandingToken, options: RotateOptions = {}): Promise<RotateResult> {
    return this.withStatements((q) =>
      q.rotate.immediate(
        tokenParams(presented),
        tokenParams(successor),
        Date.now(),
        (recorded) => successorFamily(presented, successor, options, recorded),
        requestUseValues(options),
      ),
    );
  }

  revokeAccess(jti: string, expiresAt: Date): Promise<void> {
    return this.withStatements((q) => {
      q.revokeAccess.run(jti, toMillis(expiresAt, 'expiresAt'));
    });
  }

  isAccessRevoked(jti: string): Promise<boolean> {
    return this.withStatements((q) => q.isAccessRevoked.get(jti) !== undefined);
  }

  findOutstanding(jti: string): Promise<OutstandingState | null> {
    return this.withStatements((q) => {
      const row = q.findOutstanding.get(jti);
      if (row === undefined) return null;
      return outstandingStateFromRow(row);
    });
  }

  /**
   * One IMMEDIATE transaction: a concurrent `rotate` either committed before (its successor is revoked here) or after
   * (it finds its token blacklisted). The `audit` event, with `detail.revoked`, is written in it.
   */
  revokeFamily(familyId: string, options: Audited = {}): Promise<number> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      return q.revokeFamily.immediate(familyId, Date.now(), audit);
    });
  }

  /** As {@link revokeFamily}, for every token of the user. */
  revokeUser(userId: string, options: Audited = {}): Promise<number> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      const key = parseId(userId);
      if (key === null && audit === undefined) return 0;
      // -1 matches no token: nothing is revoked, and the event is still written (with revoked: 0).
      return q.revokeUser.immediate(key ?? -1, Date.now(), audit);
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
    await this.withStatements((q) => {
      q.flushRevokedAccess.run(before);
      q.flushOneTime.run(before);
    });
    const deleted = await deleteInBatches(batchSize, options.onProgress, () => this.withStatements((q) => q.flushBatch.immediate(before, batchSize)));
    await deleteInBatches(batchSize, undefined, () => this.withStatements((q) => q.flushSessionBatch.immediate(batchSize)));
    return deleted;
  }

  countTokens(): Promise<{ outstanding: number; blacklisted: number }> {
    return this.withStatements((q) => {
      const row = q.countTokens.get();
      return { outstanding: row?.outstanding ?? 0, blacklisted: row?.blacklisted ?? 0 };
    });
  }

  /** Blacklisted tokens in outstanding-id order, for a revocation cache to load (see `BlacklistSource`). */
  listBlacklisted(options: Parameters<BlacklistSource['listBlacklisted']>[0] = {}): Promise<BlacklistPage> {
    return this.withStatements((q) => {
      const { limit, cursor, after, before } = checkBlacklistListing(options, parseId);
      const rows = q.listBlacklisted.all(cursor ?? 0, after ?? Number.MIN_SAFE_INTEGER, before ?? Number.MAX_SAFE_INTEGER, limit);
      return blacklistPage(rows, limit);
    });
  }

  // --- sessions (SessionStore) -----------------------------------------------------------------------------------

  /** Records a login; a second record of the family, or one for an unknown user, is a no-op. */
  recordSession(userId: string, use: SessionUse): Promise<void> {
    return this.withStatements((q) => {
      const values = sessionUseValues(use);
      const key = parseId(userId);
      if (key !== null) q.insertSession.run(values.familyId, values.at, values.at, values.clientAddress, values.userAgent, key);
    });
  }

  /** Records a refresh unless an equal or later one is recorded; a null address or user agent keeps the known one. */
  touchSession(use: SessionUse): Promise<void> {
    return this.withStatements((q) => {
      const values = sessionUseValues(use);
      q.touchSession.run(values.at, values.clientAddress, values.userAgent, values.familyId, values.at);
    });
  }

  /** `userId`'s sessions, newest login first, with their family's expiry and state; ended ones only with `includeEnded`. */
  listSessions(userId: string, options: { includeEnded?: boolean; now?: Date } = {}): Promise<SessionRecord[]> {
    return this.withStatements((q) => {
      const now = toMillis(options.now ?? new Date(Date.now()), 'now');
      const key = parseId(userId);
      if (key === null) return [];
      return q.listSessions.all({ now, userId: key, all: options.includeEnded === true ? 1 : 0 }).map(sessionFromRow);
    });
  }

  countLiveSessions(options: { now?: Date } = {}): Promise<number> {
    return this.withStatements((q) => q.countLiveSessions.get({ now: toMillis(options.now ?? new Date(Date.now()), 'now') }) ?? 0);
  }

  sessionOwner(familyId: string): Promise<string | null> {
    return this.withStatements((q) => {
      const owner = q.sessionOwner.get(familyId);
      return owner === undefined ? null : String(owner);
    });
  }

  /** Outstanding tokens, newest first (by `createdAt`, then the later recorded), at most 1000 per call (default 100). */
  listTokens(options: { userId?: string; blacklisted?: boolean; limit?: number; offset?: number } = {}): Promise<TokenListing[]> {
    return this.withStatements((q) => {
      const { limit, offset } = checkTokenListing(options);
      const userId = options.userId === undefined ? null : parseId(options.userId);
      if (options.userId !== undefined && userId === null) return [];
      const filter: TokenFilter = `${userId === null ? 'all' : 'user'}:${options.blacklisted === undefined ? 'any' : options.blacklisted ? 'yes' : 'no'}`;
      return q.listTokens[filter].all({ userId, limit, offset }).map(tokenListingFromRow);
    });
  }

  countUsers(): Promise<number> {
    return this.withStatements((q) => q.countUsers.get() ?? 0);
  }

  // --- linked identities (IdentityStore) -------------------------------------------------------------------------

  findIdentity(provider: string, subject: string): Promise<LinkedIdentity | null> {
    return this.withStatements((q) => {
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
    return this.withStatements((q) => {
      const at = toMillis(identity.at, 'at');
      const key = parseId(identity.userId);
      // -1 matches no user: the insert adds nothing and the pair's owner, if any, still answers.
      const { owner, inserted } = q.linkIdentity.immediate([identity.provider, identity.subject, identity.email, at, at, key ?? -1]);
      return linkResult(owner, identity.userId, inserted);
    });
  }

  touchIdentity(provider: string, subject: string, email: string | null, at: Date): Promise<void> {
    return this.withStatements((q) => {
      q.touchIdentity.run(toMillis(at, 'at'), email, provider, subject);
    });
  }

  /** The `audit` event is written in the removal's transaction, only when the result is `unlinked`. */
  unlinkIdentity(userId: string, provider: string, subject: string, options?: UnlinkOptions): Promise<UnlinkResult> {
    return this.withStatements((q) => {
      const audit = auditOf(options ?? {});
      const key = parseId(userId);
      return key === null ? 'not_found' : q.unlinkIdentity.immediate(key, provider, subject, options, audit);
    });
  }

  /** `userId`'s linked identities, by provider then subject. */
  listIdentities(userId: string): Promise<LinkedIdentity[]> {
    return this.withStatements((q) => {
      const key = parseId(userId);
      return key === null ? [] : q.listIdentities.all(key).map(identityFromRow);
    });
  }

  // --- one-time values (OneTimeStore) ----------------------------------------------------------------------------

  /** @throws OneTimeKeyExistsError when `key` is taken (even by an expired value not yet flushed). */
  putOneTime(key: string, value: string, expiresAt: Date): Promise<void> {
    return this.withStatements((q) => {
      if (q.putOneTime.run(key, value, toMillis(expiresAt, 'expiresAt')).changes !== 1) throw new OneTimeKeyExistsError();
    });
  }

  /** One `DELETE … RETURNING`: of concurrent takes (in any process) only the one that deleted the row gets it. */
  takeOneTime(key: string, now?: Date): Promise<string | null> {
    return this.withStatements((q) => {
      const at = toMillis(now ?? new Date(Date.now()), 'now');
      const row = q.takeOneTime.get(key);
      return row !== undefined && isOneTimeLive(row.expires_at, at) ? row.value : null;
    });
  }

  // --- audit log (AuditStore) ------------------------------------------------------------------------------------

  /** Writes an event that records no change of the store's (a refused login). */
  appendAudit(event: AuditEvent): Promise<void> {
    return this.withStatements((q) => {
      q.insertAudit.run(auditValues(event));
    });
  }

  /** Events newest first (by id), filtered; a page walks the id order (or a user's index) down from the cursor. */
  listAudit(query: AuditQuery = {}): Promise<AuditPage> {
    return this.withStatements((q) => {
      const filter = checkAuditQuery(query);
      const rows = q.listAudit[filter.user === undefined ? 'all' : 'user'].all({
        user: filter.user ?? null,
        type: filter.type ?? null,
        since: filter.since ?? null,
        until: filter.until ?? null,
        // Above every id: the first page.
        beforeId: filter.beforeId ?? Number.MAX_SAFE_INTEGER,
        fetch: filter.limit + 1,
      });
      return auditPage(rows.map(auditFromRow), filter.limit);
    });
  }

  /** Counts per type and bucket, in one grouping query over the `at` index. */
  countAudit(range: { since: Date; until: Date; bucketSeconds: number }): Promise<AuditCount[]> {
    return this.withStatements((q) => q.countAudit.all(checkAuditRange(range)).map(auditCountFromRow));
  }

  /** Deletes the events before `before`, `batchSize` rows per transaction (default 1000), so other writers get the lock between batches. */
  async flushAudit(before: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    const batchSize = checkBatchSize(options);
    const cutoff = toMillis(before, 'before');
    return deleteInBatches(batchSize, options.onProgress, () => this.withStatements((q) => q.flushAuditBatch.immediate(cutoff, batchSize)));
  }

  // --- second factors (FactorStore) ------------------------------------------------------------------------------

  /**
   * Inserts the factor and its `audit` event in one transaction.
   *
   * @throws RangeError when `userId` names no user, or a value is out of bounds (checked before anything is written).
   * @throws CredentialExistsError when `credentialId` is registered already (the unique index decides).
   */
  addFactor(factor: NewFactor, options: Audited = {}): Promise<FactorRecord> {
    return this.withStatements((q) => {
      const values = newFactorValues(factor);
      const audit = auditOf(options);
      const key = parseId(values.userId);
      try {
        // -1 matches no user: nothing is inserted.
        const row = q.addFactor.immediate(factorParams(key ?? -1, values), audit);
        if (row === undefined) throw new RangeError(`no user with id ${values.userId}`);
        return factorFromRow(row);
      } catch (error) {
        if (
          error instanceof Database.SqliteError &&
          error.code === 'SQLITE_CONSTRAINT_UNIQUE' &&
          error.message.includes('restjwt_factor.credential_id')
        ) {
          throw new CredentialExistsError();
        }
        throw error;
      }
    });
  }

  /** `userId`'s factors, oldest first (by id). */
  listFactors(userId: string): Promise<FactorRecord[]> {
    return this.withStatements((q) => {
      const key = parseId(userId);
      return key === null ? [] : q.listFactors.all(key).map(factorFromRow);
    });
  }

  findFactorByCredential(credentialId: string): Promise<FactorRecord | null> {
    return this.withStatements((q) => {
      const row = q.findFactorByCredential.get(credentialId);
      return row === undefined ? null : factorFromRow(row);
    });
  }

  /** The `audit` event is written in the update's transaction, only when the factor was unconfirmed. */
  confirmFactor(userId: string, factorId: string, options: Audited = {}): Promise<boolean> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      const user = parseId(userId);
      const id = parseId(factorId);
      return user !== null && id !== null && q.confirmFactor.immediate([user, id], audit);
    });
  }

  /** One conditional UPDATE: of concurrent uses with one counter (in any process) at most one is accepted. */
  useFactor(factorId: string, counter: number, at: Date): Promise<boolean> {
    return this.withStatements((q) => {
      const next = checkCounter(counter);
      const ms = toMillis(at, 'at');
      const id = parseId(factorId);
      return id !== null && q.useFactor.run({ id, counter: next, at: ms }).changes === 1;
    });
  }

  /** The `audit` event is written in the removal's transaction, only when the factor was `userId`'s. */
  removeFactor(userId: string, factorId: string, options: Audited = {}): Promise<boolean> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      const user = parseId(userId);
      const id = parseId(factorId);
      return user !== null && id !== null && q.removeFactor.immediate([user, id], audit);
    });
  }

  /** Factors and recovery codes in one transaction, with the `audit` event (written even when there was none). */
  removeFactors(userId: string, options: Audited = {}): Promise<number> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      const key = parseId(userId);
      if (key === null && audit === undefined) return 0;
      // -1 matches no row: nothing is removed, and the event is still written (as revokeUser does).
      return q.removeFactors.immediate(key ?? -1, audit);
    });
  }

  /**
   * Replaces the codes (delete, then inserts) and writes the `audit` event, in one transaction.
   *
   * @throws RangeError when `userId` names no user or the hashes are refused (see `checkRecoveryHashes`).
   */
  setRecoveryCodes(userId: string, hashes: readonly string[], options: Audited = {}): Promise<void> {
    return this.withStatements((q) => {
      checkRecoveryHashes(hashes);
      const audit = auditOf(options);
      const key = parseId(userId);
      if (key === null || !q.setRecoveryCodes.immediate(key, hashes, audit)) throw new RangeError(`no user with id ${userId}`);
    });
  }

  /** One DELETE decides which of concurrent spends wins; the `audit` event is written in its transaction by that one. */
  useRecoveryCode(userId: string, hash: string, options: Audited = {}): Promise<boolean> {
    return this.withStatements((q) => {
      const audit = auditOf(options);
      const key = parseId(userId);
      return key !== null && q.useRecoveryCode.immediate([key, hash], audit);
    });
  }

  countRecoveryCodes(userId: string): Promise<number> {
    return this.withStatements((q) => {
      const key = parseId(userId);
      return key === null ? 0 : (q.countRecoveryCodes.get(key) ?? 0);
    });
  }

  // --- internals -------------------------------------------------------------------------------------------------

  private lookUpUser(q: Prepared, field: UserLookupField, value: string): UserRecord | null {
    if (field === 'id') {
      const id = parseId(value);
      return (id === null ? undefined : this.usersById.get(id, q.userById)) ?? null;
    }
    const row = field === 'username' ? q.userByUsername.get(value) : q.userByEmail.get(value);
    return row === undefined ? null : userFromRow(row);
  }

  /**
   * Applies a user change (see `userChanges`) and writes its audit event in the same transaction; an id that names no
   * row changes nothing and writes nothing. The one place of this connection that changes a user row, so the cached
   * rows are dropped here (see user-cache.ts).
   */
  private updateUser(q: Prepared, id: string, change: UserChange, options: Audited = {}): void {
    const audit = auditOf(options);
    const key = parseId(id);
    if (key === null) return;
    try {
      const params = userChangeParams(key, change);
      if (audit === undefined) q.updateUser.run(params);
      else q.updateUserAudited.immediate(params, audit);
    } finally {
      this.usersById.clear();
    }
  }

  /** Runs `fn` against the prepared statements (see {@link runAsPromise}). */
  private withStatements<T>(fn: (q: Prepared) => T): Promise<T> {
    return this.runAsPromise(() => fn(this.statements()));
  }

  /** Runs `fn` now (better-sqlite3 is synchronous): a promise settled with its result or its translated error. */
  private runAsPromise<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(this.translated(error));
    }
  }

  /** A better-sqlite3 error as the store contract's error (see errors.ts). */
  private translated(error: unknown): unknown {
    return translateSqliteError(error, this.filename, this.busyTimeoutMs);
  }

  private statements(): Prepared {
    if (this.prepared !== null) return this.prepared;
    if (!this.db.open) throw sqliteClosed(this.filename);
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
    this.prepared ??= prepareStatements(this.db);
  }
}

/** The audit event's values, validated and clipped before anything is written (a bad event changes nothing). */
function auditOf(options: Audited): AuditValues | undefined {
  return options.audit === undefined ? undefined : auditValues(options.audit);
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

/** The installed better-sqlite3's major version (its package.json, beside the module this store loads). */
function driverMajor(): number {
  const { version } = createRequire(import.meta.url)('better-sqlite3/package.json') as { version: string };
  return Number.parseInt(version, 10);
}

/**
 * Refuses, before opening anything and with what to do, the runtimes where better-sqlite3 would fail deep inside
 * native code rather than with an error: Bun cannot load it (a V8 addon), and better-sqlite3 12 aborts Node 24
 * (its statements' destructor trips an assertion Node 24 added to `ObjectWrap`, at a garbage collection soon after
 * start-up; upstream's fix is version 13, which Node-API makes safe on 22 and 24 but which crashes Node 20).
 */
function refuseUnsupportedRuntime(): void {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions;
  if (versions?.bun !== undefined) {
    throw new ConfigurationError(
      `restjwt: the SQLite store (@restjwt/sqlite, over better-sqlite3) does not run on Bun ${versions.bun}: better-sqlite3 is a native V8 addon that Bun cannot load. ` +
        'On Bun, use the PostgreSQL or MariaDB store (@restjwt/sql) or the memory store (@restjwt/core/memory), or run this app on Node.',
    );
  }
  const node = Number.parseInt(versions?.node ?? '0', 10);
  if (node >= 24 && driverMajor() < 13) {
    throw new ConfigurationError(
      `restjwt: better-sqlite3 ${driverMajor()} aborts Node ${versions?.node ?? ''} (a native assertion when its statements are collected), so the SQLite store does not open on it. ` +
        'On Node 24, use better-sqlite3 13: add "overrides": { "better-sqlite3": "^13.2.0" } to your package.json and run npm install; or run on Node 22.',
    );
  }
}
