/**
 * The server-database backend: one Kysely implementation of the store for PostgreSQL and MariaDB/MySQL, for several
 * restjwt instances sharing one database. Its statements are in `statements.ts` (and `pg-rotate.ts`), how they run
 * in `transaction.ts`.
 *
 * - One row per token (migration 0005_token_state): a token's blacklisting is its row's `blacklisted_at`.
 * - `rotate` and `blacklist` are one READ COMMITTED transaction each (on PostgreSQL `rotate` is usually one
 *   statement). The single winner of concurrent calls is decided by the database: an update of the presented row
 *   `WHERE blacklisted_at IS NULL`, whose affected-row count is checked; the row lock orders concurrent updates and each
 *   later one reads the row's committed state again. Nothing is read and then written on the strength of that read.
 *   Deadlocks and serialization failures are retried.
 * - Every call is bounded by the connection's timeouts and a deadline; outages surface as `StoreUnavailableError`.
 * - An audited change (`Audited`) writes its event in its own transaction, only when the change happens; a method
 *   that is one statement without an event gets a transaction only when it has one, so the unaudited path costs what
 *   it did.
 */
import { sql, type Kysely } from 'kysely';
import { UserExistsError } from '@restjwt/core';
import { ALL_CAPABILITIES, type WithCapabilities, type Audited, type FactorRecord, type NewFactor, CredentialExistsError, MAX_CREDENTIAL_ID, MAX_RECOVERY_HASH, checkCounter, checkRecoveryHashes, factorFromRow, newFactorValues, type AuditCount, type AuditEvent, type AuditPage, type AuditQuery, type AuditValues, type BlacklistPage, type BlacklistResult, type BlacklistSource, type FlushProgress, type ImportUserResult, type LinkedIdentity, type LinkResult, type NewUser, type OutstandingState, type OutstandingToken, type RotateOptions, type RotateResult, type SessionRecord, type SessionUse, type Store, type TokenListing, type UnlinkOptions, type UnlinkResult, type UserLookupField, type UserRecord, OneTimeKeyExistsError, checkBatchSize, deleteInBatches, blacklistPage, identityFromRow, outstandingStateFromRow, sessionFromRow, tokenListingFromRow, userFromRow, checkBlacklistListing, checkLength, checkPage, checkTokenListing, requestUseValues, sessionUseValues, toMillis, isOneTimeLive, linkResult, newTokenVersion, successorFamily, unlinkVerdict, userChanges, type UserChange, auditCountFromRow, auditFromRow, auditPage, auditValues, checkAuditQuery, checkAuditRange, withRevoked } from '@restjwt/core/store-kit';
import { createKysely, type SqlConnectOptions, type SqlDialect } from './connect.js';
import { translateSqlError, uniqueViolation } from './errors.js';
import { MAX_ONE_TIME_VALUE, migrateToLatest } from './migrations.js';
import { rotateInOneStatement } from './pg-rotate.js';
import {
  MAX_EMAIL,
  MAX_JTI,
  MAX_ONE_TIME_KEY,
  MAX_PASSWORD_HASH,
  MAX_PROVIDER,
  MAX_SUBJECT,
  MAX_USERNAME,
  checkAsciiKey,
  checkAuditIds,
  isAsciiKey,
  parseId,
  tokenValues,
  userColumns,
} from './rows.js';
import type { RestJwtDatabase } from './schema.js';
import { SqlStatements } from './statements.js';
import { SqlExecutor, type Db, type Trx } from './transaction.js';

/** Options for {@link openSqlStore}. */
export interface SqlStoreOptions extends SqlConnectOptions {
  /** `postgres://…`, `postgresql://…`, `mysql://…` or `mariadb://…` (see `createKysely` for the query parameters). */
  url: string;
  /** Apply pending migrations while opening. Default true; pass false when a deploy step runs `migrate` instead. */
  migrate?: boolean;
  /** The PostgreSQL schema (MariaDB/MySQL: database) of the tables; default the URL's `?schema=`, else the default one. */
  schema?: string;
}

/**
 * A {@link Store} on PostgreSQL or MariaDB/MySQL, with every optional capability (sessions, linked identities,
 * one-time values, the audit log, second factors). Create it with {@link openSqlStore}; share one per process (it holds a connection pool).
 */
export class SqlStore implements Store, WithCapabilities<(typeof ALL_CAPABILITIES)[number]> {
  readonly dialect: SqlDialect;
  /** `host:port/database` (no credentials), for messages. */
  readonly target: string;
  readonly schema: string | undefined;
  private readonly exec: SqlExecutor;
  private readonly q: SqlStatements;

  private constructor(options: SqlStoreOptions) {
    const connection = createKysely<RestJwtDatabase>(options.url, options);
    this.dialect = connection.dialect;
    this.target = connection.target;
    this.schema = options.schema ?? connection.schema;
    this.exec = new SqlExecutor(connection, this.schema);
    this.q = new SqlStatements(this.exec.db, this.dialect, this.schema);
  }

  /** The optional capabilities: all of them. */
  get capabilities(): typeof ALL_CAPABILITIES {
    return ALL_CAPABILITIES;
  }

  /** Connects (lazily), and applies pending migrations unless `migrate: false`. */
  static async open(options: SqlStoreOptions): Promise<SqlStore> {
    const store = new SqlStore(options);
    try {
      if (options.migrate ?? true) await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  // --- lifecycle -------------------------------------------------------------------------------------------------

  /** Applies pending migrations under the migrator's lock; returns their names, `[]` when the schema is current. */
  async migrate(): Promise<string[]> {
    this.exec.assertOpen();
    try {
      return await migrateToLatest(this.exec.root as Kysely<unknown>, this.dialect, this.schema);
    } catch (error) {
      throw translateSqlError(error, this.dialect, this.target, 'unknown');
    }
  }

  /** Resolves when the database answers a trivial query. */
  async ping(): Promise<void> {
    return this.exec.withDeadline(async () => {
      await sql`select 1`.execute(this.exec.db);
    });
  }

  /** Closes the pool (waiting for checked-out connections). Idempotent; later calls reject with `StoreUnavailableError`. */
  close(): Promise<void> {
    return this.exec.close();
  }

  /**
   * The plan of the `isBlacklisted` query, one line per plan row, for diagnostics and tests: PostgreSQL's `EXPLAIN`
   * text, or MariaDB/MySQL's `EXPLAIN` rows as `table=o type=const key=restjwt_outstanding_token_jti_uniq …`.
   */
  async explainIsBlacklisted(jti = ''): Promise<string[]> {
    const rows = await this.exec.withDeadline(() => this.q.isBlacklisted(jti).explain<Record<string, unknown>>());
    return rows.map((row) => {
      if (typeof row['QUERY PLAN'] === 'string') return row['QUERY PLAN'];
      return Object.entries(row)
        .filter(([, value]) => value !== null && value !== undefined)
        .map(([key, value]) => `${key}=${String(value)}`)
        .join(' ');
    });
  }

  // --- users -----------------------------------------------------------------------------------------------------

  async findUser(field: UserLookupField, value: string): Promise<UserRecord | null> {
    return this.exec.withDeadline(async () => {
      const key = field === 'id' ? parseId(value) : value;
      if (key === null) return null;
      // On every authenticated request and refresh.
      const [row] = await this.exec.executePrepared(`restjwt_user_by_${field}`, this.q.userBy(field, key));
      return row === undefined ? null : userFromRow(row);
    });
  }

  /** With an `audit` event, the insert and the event (given the new user's id and username) share a transaction. */
  async createUser(user: NewUser, options: Audited = {}): Promise<UserRecord> {
    checkLength(user.username, MAX_USERNAME, 'username');
    checkLength(user.email ?? '', MAX_EMAIL, 'email');
    checkLength(user.passwordHash, MAX_PASSWORD_HASH, 'passwordHash');
    const audit = this.auditOf(options.audit);
    const values = {
      username: user.username,
      email: user.email ?? '',
      password: user.passwordHash,
      is_active: user.isActive ?? true,
      is_staff: user.isStaff ?? false,
      last_login: null,
      date_joined: new Date(Date.now()),
      token_version: newTokenVersion(),
    };
    const insert = async (db: Db): Promise<UserRecord> => {
      try {
        return userFromRow(await this.q.insertUser(values, db));
      } catch (error) {
        const violation = uniqueViolation(error);
        if (violation !== null && (violation.index === '' || violation.index.includes('username'))) {
          throw new UserExistsError(user.username);
        }
        throw error;
      }
    };
    if (audit === undefined) return this.exec.withDeadline(() => insert(this.exec.db));
    return this.exec.inTransaction(async (trx) => {
      const created = await insert(trx);
      await this.q.insertAudit(trx, { ...audit, userId: created.id, username: created.username });
      return created;
    });
  }

  /**
   * Imports a user with its own id (`restjwt importdjango`), in one transaction: `exists` when that id already holds
   * that username, `conflict` when the id or the username belongs to someone else, `imported` otherwise. On
   * PostgreSQL the id sequence is moved past the imported ids, so later `createUser` calls never collide.
   */
  async importUser(user: UserRecord): Promise<ImportUserResult> {
    const id = parseId(user.id);
    if (id === null || id === '0') throw new RangeError(`A user id must be a positive integer, got ${JSON.stringify(user.id)}`);
    checkLength(user.username, MAX_USERNAME, 'username');
    checkLength(user.email, MAX_EMAIL, 'email');
    checkLength(user.passwordHash, MAX_PASSWORD_HASH, 'passwordHash');
    return this.exec.inTransaction((trx) => this.q.importUser(trx, id, user));
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    checkLength(passwordHash, MAX_PASSWORD_HASH, 'passwordHash');
    return this.updateUser(id, userChanges.rehash(passwordHash));
  }

  async setPassword(id: string, passwordHash: string, options: Audited = {}): Promise<void> {
    checkLength(passwordHash, MAX_PASSWORD_HASH, 'passwordHash');
    return this.updateUser(id, userChanges.password(passwordHash), options.audit);
  }

  /** Deactivating also renews `tokenVersion`, so the user's outstanding tokens stop working where it is checked. */
  async setActive(id: string, isActive: boolean, options: Audited = {}): Promise<void> {
    return this.updateUser(id, userChanges.active(isActive), options.audit);
  }

  async renewTokenVersion(id: string): Promise<void> {
    return this.updateUser(id, userChanges.renewal());
  }

  async updateLastLogin(id: string, at: Date): Promise<void> {
    return this.updateUser(id, userChanges.lastLogin(at));
  }

  /** Users in id (creation) order. */
  async listUsers(options: { limit?: number; offset?: number } = {}): Promise<UserRecord[]> {
    const { limit, offset } = checkPage(options);
    return this.exec.withDeadline(async () => (limit === 0 ? [] : (await this.q.listUsers(limit, offset)).map(userFromRow)));
  }

  // --- tokens ----------------------------------------------------------------------------------------------------

  /** The `audit` event only when this call recorded the jti (a login's first token, not a repeat). */
  async recordOutstanding(token: OutstandingToken, options: Audited = {}): Promise<void> {
    const values = tokenValues(token);
    const audit = this.auditOf(options.audit);
    if (audit === undefined) {
      await this.exec.inTransaction((trx) => this.q.insertOutstanding(trx, values));
      return;
    }
    await this.exec.inTransaction(async (trx) => {
      if (await this.q.insertOutstanding(trx, values)) await this.q.insertAudit(trx, audit);
    });
  }

  async isBlacklisted(jti: string): Promise<boolean> {
    return this.exec.withDeadline(async () => (await this.exec.executePrepared('restjwt_is_blacklisted', this.q.isBlacklisted(jti).compile())).length > 0);
  }

  /** The `audit` event only from the one call that blacklisted the token, in its transaction. */
  async blacklist(token: OutstandingToken, options: Audited = {}): Promise<BlacklistResult> {
    const values = tokenValues(token);
    const audit = this.auditOf(options.audit);
    return this.exec.inTransaction(async (trx) => {
      if ((await this.q.blacklistRow(trx, values)) === undefined) return 'already_blacklisted';
      if (audit !== undefined) await this.q.insertAudit(trx, audit);
      return 'blacklisted';
    });
  }

  /**
   * On PostgreSQL one statement (one round trip, see `pg-rotate.ts`); on MariaDB/MySQL, and on PostgreSQL when the
   * presented token is being recorded by a concurrent transaction, one READ COMMITTED transaction.
   */
  async rotate(presented: OutstandingToken, successor: OutstandingToken, options: RotateOptions = {}): Promise<RotateResult> {
    // Validate everything before writing anything.
    const presentedValues = tokenValues(presented);
    const successorValues = tokenValues(successor);
    const use = requestUseValues(options);
    if (this.dialect === 'postgres') {
      const fallback = successorFamily(presented, successor, options, null);
      const result = await rotateInOneStatement(this.exec, this.q, presentedValues, successorValues, options, use, fallback);
      if (result !== 'not_found') return result;
    }
    return this.exec.inTransaction(async (trx) => {
      const won = await this.q.blacklistRow(trx, presentedValues, successorValues.jti);
      if (won === undefined) return 'already_blacklisted';
      const familyId = successorFamily(presented, successor, options, won.familyId);
      await this.q.insertOutstanding(trx, { ...successorValues, familyId });
      if (use !== null && familyId !== null) await this.q.touchSession(trx, { ...use, familyId });
      return 'rotated';
    });
  }

  async revokeAccess(jti: string, expiresAt: Date): Promise<void> {
    checkLength(jti, MAX_JTI, 'jti');
    const expires = new Date(toMillis(expiresAt, 'expiresAt'));
    return this.exec.inTransaction((trx) => this.q.revokeAccess(trx, jti, expires));
  }

  async isAccessRevoked(jti: string): Promise<boolean> {
    return this.exec.withDeadline(() => this.q.isAccessRevoked(jti));
  }

  async findOutstanding(jti: string): Promise<OutstandingState | null> {
    return this.exec.withDeadline(async () => {
      const row = await this.q.findOutstanding(jti);
      return row === undefined ? null : outstandingStateFromRow(row);
    });
  }

  async revokeFamily(familyId: string, options: Audited = {}): Promise<number> {
    checkLength(familyId, MAX_JTI, 'familyId');
    const audit = this.auditOf(options.audit);
    return this.exec.inTransaction((trx) => this.revokeWhere(trx, 'family_id', familyId, audit));
  }

  async revokeUser(userId: string, options: Audited = {}): Promise<number> {
    const audit = this.auditOf(options.audit);
    const key = parseId(userId);
    if (key === null) {
      // No such user, so nothing to revoke; the event is written all the same (revoked: 0), as every store does.
      if (audit !== undefined) await this.exec.withDeadline(() => this.q.insertAudit(this.exec.db, withRevoked(audit, 0)));
      return 0;
    }
    return this.exec.inTransaction((trx) => this.revokeWhere(trx, 'user_id', key, audit));
  }

  /**
   * Deletes tokens that expired before `now`, `batchSize` rows per transaction (default 1000): each batch selects
   * the lowest ids of expired rows and deletes exactly those, so locks stay short and other writers proceed
   * between batches. A token's blacklisting is its own row's state, so it goes with it. Also deletes expired access
   * revocations and one-time values, then (in batches too) the sessions whose family has no token left.
   */
  async flushExpired(now: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    const batchSize = checkBatchSize(options);
    const before = new Date(toMillis(now, 'now'));
    await this.exec.inTransaction((trx) => this.q.flushRevokedAndOneTime(trx, before));
    const deleted = await deleteInBatches(batchSize, options.onProgress, () => this.exec.inTransaction((trx) => this.q.flushTokenBatch(trx, before, batchSize)));
    await deleteInBatches(batchSize, undefined, () => this.exec.inTransaction((trx) => this.q.flushSessionBatch(trx, batchSize)));
    return deleted;
  }

  async countTokens(): Promise<{ outstanding: number; blacklisted: number }> {
    return this.exec.withDeadline(() => this.q.countTokens());
  }

  /** Blacklisted tokens in outstanding-id order, for a revocation cache to load (see `BlacklistSource`). */
  async listBlacklisted(options: Parameters<BlacklistSource['listBlacklisted']>[0] = {}): Promise<BlacklistPage> {
    const { limit, cursor, after, before } = checkBlacklistListing(options, parseId);
    const bounds = { after: after === undefined ? undefined : new Date(after), before: before === undefined ? undefined : new Date(before) };
    return this.exec.withDeadline(async () => blacklistPage(await this.q.listBlacklisted({ cursor, limit, ...bounds }), limit));
  }

  // --- sessions (SessionStore) -----------------------------------------------------------------------------------

  /** Records a login with an insert-if-absent on the unique family id; an unknown user inserts nothing. */
  async recordSession(userId: string, use: SessionUse): Promise<void> {
    const values = sessionUseValues(use);
    checkLength(values.familyId, MAX_JTI, 'familyId');
    const key = parseId(userId);
    if (key === null) return;
    return this.exec.inTransaction((trx) => this.q.insertSession(trx, key, values));
  }

  /** Records a refresh unless an equal or later one is recorded; a null address or user agent keeps the known one. */
  async touchSession(use: SessionUse): Promise<void> {
    const values = sessionUseValues(use);
    return this.exec.inTransaction((trx) => this.q.touchSession(trx, values));
  }

  /** `userId`'s sessions, newest login first, with their family's expiry and state; ended ones only with `includeEnded`. */
  async listSessions(userId: string, options: { includeEnded?: boolean; now?: Date } = {}): Promise<SessionRecord[]> {
    const now = new Date(toMillis(options.now ?? new Date(Date.now()), 'now'));
    const key = parseId(userId);
    if (key === null) return [];
    return this.exec.withDeadline(async () => (await this.q.listSessions(key, now, options.includeEnded === true)).map(sessionFromRow));
  }

  async sessionOwner(familyId: string): Promise<string | null> {
    return this.exec.withDeadline(() => this.q.sessionOwner(familyId));
  }

  async countLiveSessions(options: { now?: Date } = {}): Promise<number> {
    const now = new Date(toMillis(options.now ?? new Date(Date.now()), 'now'));
    return this.exec.withDeadline(() => this.q.countLiveSessions(now));
  }

  /** Outstanding tokens, newest first (by `createdAt`, then the later recorded), at most 1000 per call (default 100). */
  async listTokens(options: { userId?: string; blacklisted?: boolean; limit?: number; offset?: number } = {}): Promise<TokenListing[]> {
    const { limit, offset } = checkTokenListing(options);
    const userId = options.userId === undefined ? undefined : parseId(options.userId);
    if (userId === null || limit === 0) return [];
    return this.exec.withDeadline(async () => (await this.q.listTokens({ userId, blacklisted: options.blacklisted, limit, offset })).map(tokenListingFromRow));
  }

  async countUsers(): Promise<number> {
    return this.exec.withDeadline(() => this.q.countUsers());
  }

  // --- linked identities (IdentityStore) -------------------------------------------------------------------------

  async findIdentity(provider: string, subject: string): Promise<LinkedIdentity | null> {
    return this.exec.withDeadline(async () => {
      const row = await this.q.findIdentity(provider, subject);
      return row === undefined ? null : identityFromRow(row);
    });
  }

  /**
   * Links the identity with an insert-if-absent on its unique (provider, subject) index, then reads who owns it, in
   * one transaction: a concurrent link of the same pair waits for ours and then inserts nothing.
   *
   * @throws RangeError when `userId` names no user.
   */
  async linkIdentity(identity: { provider: string; subject: string; userId: string; email: string | null; at: Date }): Promise<LinkResult> {
    checkLength(identity.provider, MAX_PROVIDER, 'provider');
    checkLength(identity.subject, MAX_SUBJECT, 'subject');
    if (identity.email !== null) checkLength(identity.email, MAX_EMAIL, 'email');
    const at = new Date(toMillis(identity.at, 'at'));
    const key = parseId(identity.userId);
    return this.exec.inTransaction(async (trx) => {
      const inserted = key === null ? false : await this.q.insertIdentity(trx, identity, key, at);
      return linkResult(await this.q.identityOwner(trx, identity.provider, identity.subject), identity.userId, inserted);
    });
  }

  async touchIdentity(provider: string, subject: string, email: string | null, at: Date): Promise<void> {
    if (email !== null) checkLength(email, MAX_EMAIL, 'email');
    const when = new Date(toMillis(at, 'at'));
    return this.exec.inTransaction((trx) => this.q.touchIdentity(trx, provider, subject, email, when));
  }

  /** The `audit` event only when the link is removed, in the transaction that removes it. */
  async unlinkIdentity(userId: string, provider: string, subject: string, options?: UnlinkOptions): Promise<UnlinkResult> {
    const audit = this.auditOf(options?.audit);
    const key = parseId(userId);
    if (key === null) return 'not_found';
    return this.exec.inTransaction(async (trx) => {
      const { passwordHash, identities } = await this.q.lockedSignInMethods(trx, key);
      const verdict = unlinkVerdict(passwordHash, identities, provider, subject, options);
      if (verdict !== 'remove') return verdict;
      await this.q.deleteIdentity(trx, key, provider, subject);
      if (audit !== undefined) await this.q.insertAudit(trx, audit);
      return 'unlinked';
    });
  }

  /** `userId`'s linked identities, by provider then subject. */
  async listIdentities(userId: string): Promise<LinkedIdentity[]> {
    const key = parseId(userId);
    if (key === null) return [];
    return this.exec.withDeadline(async () => (await this.q.listIdentities(key)).map(identityFromRow));
  }

  // --- one-time values (OneTimeStore) ----------------------------------------------------------------------------

  /**
   * Stores a single-use value (at most 65,535 characters).
   *
   * @throws OneTimeKeyExistsError when `key` is taken (even by an expired value not yet flushed).
   */
  async putOneTime(key: string, value: string, expiresAt: Date): Promise<void> {
    checkLength(key, MAX_ONE_TIME_KEY, 'key');
    checkLength(value, MAX_ONE_TIME_VALUE, 'value');
    const expires = new Date(toMillis(expiresAt, 'expiresAt'));
    return this.exec.inTransaction(async (trx) => {
      if (!(await this.q.insertOneTime(trx, key, value, expires))) throw new OneTimeKeyExistsError();
    });
  }

  /** Removes `key` and returns its value unless expired; single-use under concurrency (see `SqlStatements.takeOneTime`). */
  async takeOneTime(key: string, now?: Date): Promise<string | null> {
    const at = toMillis(now ?? new Date(Date.now()), 'now');
    if (key.length > MAX_ONE_TIME_KEY) return null;
    return this.exec.inTransaction(async (trx) => {
      const row = await this.q.takeOneTime(trx, key);
      return row !== undefined && isOneTimeLive(row.expires_at, at) ? row.value : null;
    });
  }

  // --- audit log (AuditStore) ------------------------------------------------------------------------------------

  /** Writes an event that records no change (a refused login): one insert, committed on its own. */
  async appendAudit(event: AuditEvent): Promise<void> {
    const values = this.auditOf(event);
    return this.exec.withDeadline(() => this.q.insertAudit(this.exec.db, values));
  }

  /** Events newest first (by id), filtered; one query of `limit + 1` rows, the extra one telling whether a page follows. */
  async listAudit(query: AuditQuery = {}): Promise<AuditPage> {
    const filter = checkAuditQuery(query);
    return this.exec.withDeadline(async () => auditPage((await this.q.listAudit(filter)).map(auditFromRow), filter.limit));
  }

  /** Counts per type and bucket in one grouping query (see `SqlStatements.countAudit`). */
  async countAudit(range: { since: Date; until: Date; bucketSeconds: number }): Promise<AuditCount[]> {
    const bounds = checkAuditRange(range);
    return this.exec.withDeadline(async () => (await this.q.countAudit(bounds)).map(auditCountFromRow));
  }

  /** Deletes the events before `before`, `batchSize` rows per transaction (default 1000), as `flushExpired` does tokens. */
  async flushAudit(before: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    const batchSize = checkBatchSize(options);
    const cutoff = new Date(toMillis(before, 'before'));
    return deleteInBatches(batchSize, options.onProgress, () => this.exec.inTransaction((trx) => this.q.flushAuditBatch(trx, cutoff, batchSize)));
  }

  // --- second factors (FactorStore) ------------------------------------------------------------------------------

  /**
   * Adds a factor with one INSERT … SELECT from its user (no row: no such user); with an `audit` event, the insert and
   * the event share a transaction. Of concurrent registrations of one credential id the unique index lets one in.
   *
   * @throws RangeError when `userId` names no user or a value does not fit (credential ids: visible ASCII).
   * @throws CredentialExistsError when the credential id is registered already, to anyone.
   */
  async addFactor(factor: NewFactor, options: Audited = {}): Promise<FactorRecord> {
    const values = newFactorValues(factor);
    if (values.credentialId !== null) checkAsciiKey(values.credentialId, 'credentialId');
    const audit = this.auditOf(options.audit);
    const key = parseId(values.userId);
    if (key === null) throw noSuchUser('add a factor', values.userId);
    const insert = async (db: Db): Promise<FactorRecord> => {
      let id: string | undefined;
      try {
        id = await this.q.insertFactor(values, key, db);
      } catch (error) {
        const violation = uniqueViolation(error);
        if (violation !== null && (violation.index === '' || violation.index.includes('credential_id'))) throw new CredentialExistsError();
        throw error;
      }
      if (id === undefined) throw noSuchUser('add a factor', values.userId);
      // The row as inserted: every column is a value given here or its default.
      const { kind, label, confirmed, secret, credentialId, meta } = values;
      return { id, userId: key, kind, label, confirmed, createdAt: new Date(values.createdAt), lastUsedAt: null, secret, credentialId, counter: 0, meta };
    };
    if (audit === undefined) return this.exec.withDeadline(() => insert(this.exec.db));
    return this.exec.inTransaction(async (trx) => {
      const added = await insert(trx);
      await this.q.insertAudit(trx, audit);
      return added;
    });
  }

  /** `userId`'s factors in id (creation) order. */
  async listFactors(userId: string): Promise<FactorRecord[]> {
    const key = parseId(userId);
    if (key === null) return [];
    return this.exec.withDeadline(async () => (await this.q.listFactors(key)).map(factorFromRow));
  }

  /** One lookup in the unique credential index; the comparison is exact (binary on MariaDB/MySQL). */
  async findFactorByCredential(credentialId: string): Promise<FactorRecord | null> {
    // What the column cannot hold names no factor (and a space must not match by PAD SPACE).
    if (!isAsciiKey(credentialId) || credentialId.length > MAX_CREDENTIAL_ID) return null;
    return this.exec.withDeadline(async () => {
      const row = await this.q.factorByCredential(credentialId);
      return row === undefined ? null : factorFromRow(row);
    });
  }

  /** One conditional update; with an `audit` event, in a transaction with the event, written only when it confirmed. */
  async confirmFactor(userId: string, factorId: string, options: Audited = {}): Promise<boolean> {
    const audit = this.auditOf(options.audit);
    const user = parseId(userId);
    const id = parseId(factorId);
    if (user === null || id === null) return false;
    return this.auditedChange(audit, (db) => this.q.confirmFactor(user, id, db), (run) => this.exec.withDeadline(run));
  }

  /** One conditional update whose affected-row count decides (see `SqlStatements.useFactor`), atomic across instances. */
  async useFactor(factorId: string, counter: number, at: Date): Promise<boolean> {
    checkCounter(counter);
    const when = new Date(toMillis(at, 'at'));
    const id = parseId(factorId);
    if (id === null) return false;
    return this.exec.oneStatement(() => this.q.useFactor(id, counter, when));
  }

  /** One delete; with an `audit` event, in a transaction with the event, written only when it deleted. */
  async removeFactor(userId: string, factorId: string, options: Audited = {}): Promise<boolean> {
    const audit = this.auditOf(options.audit);
    const user = parseId(userId);
    const id = parseId(factorId);
    if (user === null || id === null) return false;
    return this.auditedChange(audit, (db) => this.q.deleteFactor(user, id, db), (run) => this.exec.withDeadline(run));
  }

  /** The factors and the recovery codes in one transaction, with the `audit` event (a reset is recorded even when empty). */
  async removeFactors(userId: string, options: Audited = {}): Promise<number> {
    const audit = this.auditOf(options.audit);
    const key = parseId(userId);
    if (key === null) {
      // No such user, so nothing to remove; the event is written all the same, as every store does.
      if (audit !== undefined) await this.exec.withDeadline(() => this.q.insertAudit(this.exec.db, audit));
      return 0;
    }
    return this.exec.inTransaction(async (trx) => {
      const removed = await this.q.deleteFactors(trx, key);
      if (audit !== undefined) await this.q.insertAudit(trx, audit);
      return removed;
    });
  }

  /**
   * Replaces the codes in one transaction with the user's row locked, so that concurrent replacements take turns.
   *
   * @throws RangeError when `userId` names no user, or for hashes that are not distinct visible-ASCII strings of at
   *   most 128 characters (at most 20); nothing changes then.
   */
  async setRecoveryCodes(userId: string, hashes: readonly string[], options: Audited = {}): Promise<void> {
    checkRecoveryHashes(hashes);
    for (const hash of hashes) checkAsciiKey(hash, 'recovery code hash');
    const audit = this.auditOf(options.audit);
    const key = parseId(userId);
    if (key === null) throw noSuchUser('set recovery codes', userId);
    await this.exec.inTransaction(async (trx) => {
      if (!(await this.q.lockUser(trx, key))) throw noSuchUser('set recovery codes', userId);
      await this.q.replaceRecoveryCodes(trx, key, hashes);
      if (audit !== undefined) await this.q.insertAudit(trx, audit);
    });
  }

  /** One delete whose affected-row count decides; with an `audit` event, in a transaction with it, written only when spent. */
  async useRecoveryCode(userId: string, hash: string, options: Audited = {}): Promise<boolean> {
    const audit = this.auditOf(options.audit);
    const key = parseId(userId);
    if (key === null || !isAsciiKey(hash) || hash.length > MAX_RECOVERY_HASH) return false;
    return this.auditedChange(audit, (db) => this.q.deleteRecoveryCode(key, hash, db), (run) => this.exec.oneStatement(run));
  }

  async countRecoveryCodes(userId: string): Promise<number> {
    const key = parseId(userId);
    if (key === null) return 0;
    return this.exec.withDeadline(() => this.q.countRecoveryCodes(key));
  }

  // --- internals -------------------------------------------------------------------------------------------------

  /** `event` checked and clipped (`auditValues`), its ids checked against their columns: before anything is written. */
  /**
   * One conditional change (`true` when it changed something): run by `alone` without an event; with one, in a
   * transaction with the event, which is written only when the change happened.
   */
  private auditedChange(audit: AuditValues | undefined, change: (db?: Trx) => Promise<boolean>, alone: (run: () => Promise<boolean>) => Promise<boolean>): Promise<boolean> {
    if (audit === undefined) return alone(() => change());
    return this.exec.inTransaction(async (trx) => {
      const changed = await change(trx);
      if (changed) await this.q.insertAudit(trx, audit);
      return changed;
    });
  }

  private auditOf(event: AuditEvent): AuditValues;
  private auditOf(event: AuditEvent | undefined): AuditValues | undefined;
  private auditOf(event: AuditEvent | undefined): AuditValues | undefined {
    if (event === undefined) return undefined;
    const values = auditValues(event);
    checkAuditIds(values);
    return values;
  }

  /**
   * Applies a user change (see `userChanges`); an id that names no row changes nothing. With an `audit` event the
   * update and the event share a transaction, and the event is written only when a row was updated.
   */
  private async updateUser(id: string, change: UserChange, event?: AuditEvent): Promise<void> {
    this.exec.assertOpen();
    const audit = this.auditOf(event);
    const key = parseId(id);
    if (key === null) return;
    const set = userColumns(change);
    if (audit === undefined) {
      await this.exec.withDeadline(() => this.q.updateUser(key, set));
      return;
    }
    await this.exec.inTransaction(async (trx) => {
      if ((await this.q.updateUser(key, set, trx)) > 0) await this.q.insertAudit(trx, audit);
    });
  }

  /** `revokeFamily`/`revokeUser` inside `trx`: the revocation, then its event with the count (`detail.revoked`). */
  private async revokeWhere(trx: Trx, column: 'family_id' | 'user_id', value: string, audit: AuditValues | undefined): Promise<number> {
    const revoked = await this.q.revokeWhere(trx, column, value);
    if (audit !== undefined) await this.q.insertAudit(trx, withRevoked(audit, revoked));
    return revoked;
  }
}

/** What a factor method throws for a user id that names no user. */
function noSuchUser(what: string, userId: string): RangeError {
  return new RangeError(`Cannot ${what} for user ${JSON.stringify(userId)}: there is no such user`);
}

/**
 * Opens a {@link SqlStore} and applies pending migrations unless `migrate: false`.
 *
 * @throws StoreUnavailableError when the database cannot be reached (with what to check), Error for a bad URL.
 */
export function openSqlStore(options: SqlStoreOptions): Promise<SqlStore> {
  return SqlStore.open(options);
}
