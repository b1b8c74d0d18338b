/**
 * The server-database backend: one Kysely implementation of the store for PostgreSQL and MariaDB/MySQL, for several
 * restjwt instances sharing one database.
 *
 * - `rotate` and `blacklist` are one READ COMMITTED transaction each. The single winner of concurrent calls is decided
 *   by the database: the unique index on `restjwt_blacklisted_token.token_id` and an insert-if-absent
 *   (`ON CONFLICT DO NOTHING` / `INSERT IGNORE`) whose affected-row count is checked. Nothing is read and then
 *   written on the strength of that read. Deadlocks and serialization failures are retried.
 * - Every call is bounded by the connection's timeouts and a deadline; outages surface as `StoreUnavailableError`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type CompiledQuery, type ExpressionBuilder, type InsertQueryBuilder, type InsertResult, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { StoreUnavailableError, UserExistsError } from '../../core/store/errors.js';
import type {
  BlacklistPage,
  BlacklistResult,
  BlacklistSource,
  FlushProgress,
  IdentityStore,
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
  UserLookupField,
  UserRecord,
  ImportUserResult,
  UserImportStore,
} from '../../core/store/types.js';
import { OneTimeKeyExistsError } from '../shared/errors.js';
import { createKysely, dialectLabel, type PgPrepared, type SqlConnectOptions, type SqlDialect } from './connect.js';
import { isRetryableConflict, translateSqlError, uniqueViolation } from './errors.js';
import { MAX_ONE_TIME_VALUE, migrateToLatest } from './migrations.js';
import type { RestJwtDatabase, SessionTable } from './schema.js';

export {
  createKysely,
  dialectLabel,
  isSqlUrl,
  parseSqlUrl,
  sqlDialectOf,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_POOL_SIZE,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  SQL_URL_EXAMPLES,
  type SqlConnection,
  type SqlConnectOptions,
  type SqlDialect,
} from './connect.js';
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
  rotationUse,
  sessionFromRow,
  sessionUseValues,
  successorFamily,
  type SessionUseValues,
  toMillis,
  tokenListingFromRow,
  unlinkVerdict,
} from '../shared/values.js';
export { createMigrator, migrateToLatest, sqlMigrations, MIGRATION_NAMES, MIGRATIONS_TABLE, MIGRATIONS_LOCK_TABLE } from './migrations.js';
export type { RestJwtDatabase } from './schema.js';

export { DEFAULT_FLUSH_BATCH_SIZE } from '../shared/values.js';
/** How often a transaction that hit a deadlock or serialization failure is tried in all. */
const MAX_ATTEMPTS = 5;
/** Column sizes, checked before writing so that a long value gets a clear message on every database. */
const MAX_USERNAME = 150;
const MAX_EMAIL = 254;
const MAX_PASSWORD_HASH = 255;
const MAX_JTI = 255;
const MAX_PROVIDER = 64;
const MAX_SUBJECT = 255;
const MAX_ONE_TIME_KEY = 255;

/** Options for {@link openSqlStore}. */
export interface SqlStoreOptions extends SqlConnectOptions {
  /** `postgres://…`, `postgresql://…`, `mysql://…` or `mariadb://…` (see `createKysely` for the query parameters). */
  url: string;
  /** Apply pending migrations while opening. Default true; pass false when a deploy step runs `migrate` instead. */
  migrate?: boolean;
  /** The PostgreSQL schema (MariaDB/MySQL: database) of the tables; default the URL's `?schema=`, else the default one. */
  schema?: string;
}

const USER_COLUMNS = ['id', 'username', 'email', 'password', 'is_active', 'is_staff', 'last_login', 'date_joined', 'token_version'] as const;

interface UserRow {
  id: string;
  username: string;
  email: string;
  password: string;
  is_active: boolean;
  is_staff: boolean;
  last_login: Date | null;
  date_joined: Date;
  token_version: string;
}

type Db = Kysely<RestJwtDatabase>;
/** Expressions inside a query on `restjwt_session as s`. */
type SessionScope = ExpressionBuilder<RestJwtDatabase & { s: SessionTable }, 's'>;

/**
 * A {@link Store} on PostgreSQL or MariaDB/MySQL, with every optional capability (sessions, linked identities,
 * one-time values). Create it with {@link openSqlStore}; share one per process (it holds a connection pool).
 */
export class SqlStore implements Store, BlacklistSource, UserImportStore, SessionStore, IdentityStore, OneTimeStore {
  readonly dialect: SqlDialect;
  /** `host:port/database` (no credentials), for messages. */
  readonly target: string;
  readonly schema: string | undefined;
  private readonly root: Db;
  private readonly db: Db;
  /** Upper bound of one call: however the driver behaves, nothing waits longer than this. */
  private readonly deadlineMs: number;
  /** Named prepared statements (PostgreSQL, unless turned off). */
  private readonly prepared: PgPrepared | undefined;
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(options: SqlStoreOptions) {
    const connection = createKysely<RestJwtDatabase>(options.url, options);
    this.dialect = connection.dialect;
    this.target = connection.target;
    this.schema = options.schema ?? connection.schema;
    this.root = connection.db;
    this.db = this.schema === undefined ? this.root : this.root.withSchema(this.schema);
    this.deadlineMs = connection.connectTimeoutMs + 2 * (connection.statementTimeoutMs + 1000) + 1000;
    this.prepared = connection.prepared;
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
    this.assertOpen();
    try {
      return await migrateToLatest(this.root as Kysely<unknown>, this.dialect, this.schema);
    } catch (error) {
      throw translateSqlError(error, this.dialect, this.target, 'unknown');
    }
  }

  /** Resolves when the database answers a trivial query. */
  async ping(): Promise<void> {
    return this.run(async () => {
      await sql`select 1`.execute(this.db);
    });
  }

  /** Closes the pool (waiting for checked-out connections). Idempotent; later calls reject with `StoreUnavailableError`. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.root.destroy().catch(() => undefined);
    return this.closing;
  }

  /**
   * The plan of the `isBlacklisted` query, one line per plan row, for diagnostics and tests: PostgreSQL's `EXPLAIN`
   * text, or MariaDB/MySQL's `EXPLAIN` rows as `table=o type=const key=restjwt_outstanding_token_jti_uniq …`.
   */
  async explainIsBlacklisted(jti = ''): Promise<string[]> {
    const rows = await this.run(() => this.isBlacklistedQuery(jti).explain<Record<string, unknown>>());
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
    return this.run(async () => {
      // Named columns, not `*`: a prepared `SELECT *` fails ("cached plan must not change result type") once another
      // instance's migration adds a column.
      let query = this.db.selectFrom('restjwt_user').select(USER_COLUMNS);
      if (field === 'id') {
        const id = parseId(value);
        if (id === null) return null;
        query = query.where('id', '=', id);
      } else if (field === 'username') {
        query = query.where('username', '=', value);
      } else {
        // Emails are not unique: the oldest user wins.
        query = query.where('email', '=', value).orderBy('id').limit(1);
      }
      // On every authenticated request and refresh.
      const [row] = await this.hot(`restjwt_user_by_${field}`, query.compile());
      return row === undefined ? null : toUser(row);
    });
  }

  async createUser(user: NewUser): Promise<UserRecord> {
    checkLength(user.username, MAX_USERNAME, 'username');
    checkLength(user.email ?? '', MAX_EMAIL, 'email');
    checkLength(user.passwordHash, MAX_PASSWORD_HASH, 'passwordHash');
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
    return this.run(async () => {
      try {
        let id: string;
        if (this.dialect === 'postgres') {
          const row = await this.db.insertInto('restjwt_user').values(values).returning('id').executeTakeFirstOrThrow();
          id = String(row.id);
        } else {
          const result = await this.db.insertInto('restjwt_user').values(values).executeTakeFirstOrThrow();
          if (result.insertId === undefined) throw new Error('INSERT returned no id');
          id = String(result.insertId);
        }
        const row = await this.db.selectFrom('restjwt_user').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        return toUser(row);
      } catch (error) {
        const violation = uniqueViolation(error);
        if (violation !== null && (violation.index === '' || violation.index.includes('username'))) {
          throw new UserExistsError(user.username);
        }
        throw error;
      }
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
    return this.write(async (trx) => {
      const byId = await trx.selectFrom('restjwt_user').select('username').where('id', '=', id).executeTakeFirst();
      if (byId !== undefined) return byId.username === user.username ? 'exists' : 'conflict';
      const byName = await trx.selectFrom('restjwt_user').select('id').where('username', '=', user.username).executeTakeFirst();
      if (byName !== undefined) return 'conflict';
      await trx
        .insertInto('restjwt_user')
        .values({
          id,
          username: user.username,
          email: user.email,
          password: user.passwordHash,
          is_active: user.isActive,
          is_staff: user.isStaff,
          last_login: user.lastLogin,
          date_joined: user.dateJoined,
          token_version: user.tokenVersion,
        })
        .execute();
      if (this.dialect === 'postgres') {
        // Queries run through withSchema(), not search_path: name the schema for the sequence lookup explicitly.
        const table = this.schema === undefined ? 'restjwt_user' : `"${this.schema}".restjwt_user`;
        await sql`select setval(pg_get_serial_sequence(${table}, 'id'), greatest((select max(id) from ${sql.raw(table)}), 1))`.execute(trx);
      }
      return 'imported';
    });
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    checkLength(passwordHash, MAX_PASSWORD_HASH, 'passwordHash');
    return this.updateUser(id, { password: passwordHash });
  }

  async setPassword(id: string, passwordHash: string): Promise<void> {
    checkLength(passwordHash, MAX_PASSWORD_HASH, 'passwordHash');
    return this.updateUser(id, { password: passwordHash, token_version: newTokenVersion() });
  }

  /** Deactivating also renews `tokenVersion`, so the user's outstanding tokens stop working where it is checked. */
  async setActive(id: string, isActive: boolean): Promise<void> {
    return this.updateUser(id, isActive ? { is_active: true } : { is_active: false, token_version: newTokenVersion() });
  }

  async renewTokenVersion(id: string): Promise<void> {
    return this.updateUser(id, { token_version: newTokenVersion() });
  }

  async updateLastLogin(id: string, at: Date): Promise<void> {
    const ms = toMillis(at, 'at');
    return this.updateUser(id, { last_login: new Date(ms) });
  }

  /** Users in id (creation) order. */
  async listUsers(options: { limit?: number; offset?: number } = {}): Promise<UserRecord[]> {
    const { limit, offset } = checkPage(options);
    return this.run(async () => {
      if (limit === 0) return [];
      const rows = await this.db
        .selectFrom('restjwt_user')
        .selectAll()
        .orderBy('id')
        // MariaDB/MySQL need a LIMIT to take an OFFSET.
        .limit(limit ?? Number.MAX_SAFE_INTEGER)
        .offset(offset)
        .execute();
      return rows.map(toUser);
    });
  }

  // --- tokens ----------------------------------------------------------------------------------------------------

  async recordOutstanding(token: OutstandingToken): Promise<void> {
    const values = tokenValues(token);
    return this.write(async (trx) => {
      await this.insertOutstanding(trx, values);
    });
  }

  async isBlacklisted(jti: string): Promise<boolean> {
    return this.run(async () => (await this.hot('restjwt_is_blacklisted', this.isBlacklistedQuery(jti).compile())).length > 0);
  }

  async blacklist(token: OutstandingToken): Promise<BlacklistResult> {
    const values = tokenValues(token);
    return this.write(async (trx) => ((await this.blacklistRow(trx, values)) !== undefined ? 'blacklisted' : 'already_blacklisted'));
  }

  /**
   * On PostgreSQL one statement (one round trip, see {@link rotateInOneStatement}); on MariaDB/MySQL, and on
   * PostgreSQL when the presented token is being recorded by a concurrent transaction, one READ COMMITTED transaction.
   */
  async rotate(presented: OutstandingToken, successor: OutstandingToken, options: RotateOptions = {}): Promise<RotateResult> {
    // Validate everything before writing anything.
    const presentedValues = tokenValues(presented);
    const successorValues = tokenValues(successor);
    const use = rotationUse(options);
    if (this.dialect === 'postgres') {
      const result = await this.rotateInOneStatement(presentedValues, successorValues, options, use, successorFamily(presented, successor, options, null));
      if (result !== 'not_found') return result;
    }
    return this.write(async (trx) => {
      const won = await this.blacklistRow(trx, presentedValues);
      if (won === undefined) return 'already_blacklisted';
      const familyId = successorFamily(presented, successor, options, won.familyId);
      await this.insertOutstanding(trx, { ...successorValues, familyId });
      await trx.updateTable('restjwt_outstanding_token').set({ replaced_by: successorValues.jti }).where('jti', '=', presentedValues.jti).execute();
      if (use !== null && familyId !== null) await this.touchSessionIn(trx, { ...use, familyId });
      return 'rotated';
    });
  }

  async revokeAccess(jti: string, expiresAt: Date): Promise<void> {
    checkLength(jti, MAX_JTI, 'jti');
    const expires = new Date(toMillis(expiresAt, 'expiresAt'));
    return this.write(async (trx) => {
      const insert = trx.insertInto('restjwt_revoked_access').values({ jti, expires_at: expires });
      if (this.dialect === 'postgres') await insert.onConflict((oc) => oc.column('jti').doNothing()).execute();
      else await insert.ignore().execute();
    });
  }

  async isAccessRevoked(jti: string): Promise<boolean> {
    return this.run(
      async () =>
        (await this.db.selectFrom('restjwt_revoked_access').select(sql<number>`1`.as('one')).where('jti', '=', jti).limit(1).executeTakeFirst()) !==
        undefined,
    );
  }

  async findOutstanding(jti: string): Promise<OutstandingState | null> {
    return this.run(async () => {
      const row = await this.db
        .selectFrom('restjwt_outstanding_token as o')
        .leftJoin('restjwt_blacklisted_token as b', 'b.token_id', 'o.id')
        .select(['o.jti', 'o.user_id', 'o.token_type', 'o.family_id', 'o.created_at', 'o.expires_at', 'o.replaced_by', 'b.blacklisted_at'])
        .where('o.jti', '=', jti)
        .executeTakeFirst();
      if (row === undefined) return null;
      return outstandingStateFromRow(row);
    });
  }

  async revokeFamily(familyId: string): Promise<number> {
    checkLength(familyId, MAX_JTI, 'familyId');
    return this.revokeWhere('family_id', familyId);
  }

  async revokeUser(userId: string): Promise<number> {
    const key = parseId(userId);
    if (key === null) return 0;
    return this.revokeWhere('user_id', key);
  }

  /**
   * Deletes tokens that expired before `now`, `batchSize` rows per transaction (default 1000): each batch selects
   * the lowest ids of expired rows and deletes exactly those, so locks stay short and other writers proceed
   * between batches. Blacklist rows go with their tokens (ON DELETE CASCADE). Also deletes expired access
   * revocations and one-time values, then (in batches too) the sessions whose family has no token left.
   */
  async flushExpired(now: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    const batchSize = checkBatchSize(options);
    const before = new Date(toMillis(now, 'now'));
    await this.write(async (trx) => {
      await trx.deleteFrom('restjwt_revoked_access').where('expires_at', '<', before).execute();
      await trx.deleteFrom('restjwt_one_time').where('expires_at', '<', before).execute();
    });
    const deleted = await deleteInBatches(batchSize, options.onProgress, () =>
      this.write(async (trx) => {
        const ids = await trx
          .selectFrom('restjwt_outstanding_token')
          .select('id')
          .where('expires_at', '<', before)
          .orderBy('id')
          .limit(batchSize)
          .execute();
        if (ids.length === 0) return 0;
        const result = await trx
          .deleteFrom('restjwt_outstanding_token')
          .where(
            'id',
            'in',
            ids.map((row) => String(row.id)),
          )
          .where('expires_at', '<', before)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      }),
    );
    await deleteInBatches(batchSize, undefined, () => this.flushSessionBatch(batchSize));
    return deleted;
  }

  async countTokens(): Promise<{ outstanding: number; blacklisted: number }> {
    return this.run(async () => {
      const outstanding = await this.db.selectFrom('restjwt_outstanding_token').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
      const blacklisted = await this.db.selectFrom('restjwt_blacklisted_token').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
      return { outstanding: Number(outstanding?.n ?? 0), blacklisted: Number(blacklisted?.n ?? 0) };
    });
  }

  /** Blacklisted tokens in outstanding-id order, for a revocation cache to load (see `BlacklistSource`). */
  async listBlacklisted(
    options: { expiresAfter?: Date; expiresBefore?: Date; cursor?: string | null; limit?: number } = {},
  ): Promise<BlacklistPage> {
    const limit = options.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${String(options.limit)}`);
    const cursor = options.cursor ?? null;
    if (cursor !== null && parseId(cursor) === null) throw new RangeError('cursor must be the `next` of a previous page');
    const after = options.expiresAfter === undefined ? undefined : new Date(toMillis(options.expiresAfter, 'expiresAfter'));
    const before = options.expiresBefore === undefined ? undefined : new Date(toMillis(options.expiresBefore, 'expiresBefore'));
    return this.run(async () => {
      let query = this.db
        .selectFrom('restjwt_outstanding_token as o')
        .innerJoin('restjwt_blacklisted_token as b', 'b.token_id', 'o.id')
        .select(['o.id', 'o.jti', 'o.expires_at'])
        .orderBy('o.id')
        .limit(limit);
      if (cursor !== null) query = query.where('o.id', '>', cursor);
      if (after !== undefined) query = query.where('o.expires_at', '>', after);
      if (before !== undefined) query = query.where('o.expires_at', '<', before);
      const rows = await query.execute();
      const last = rows.at(-1);
      return {
        entries: rows.map((row) => ({ jti: row.jti, expiresAt: new Date(row.expires_at) })),
        next: rows.length === limit && last !== undefined ? String(last.id) : null,
      };
    });
  }

  // --- sessions (SessionStore) -----------------------------------------------------------------------------------

  /** Records a login with an insert-if-absent on the unique family id; an unknown user inserts nothing. */
  async recordSession(userId: string, use: SessionUse): Promise<void> {
    const values = sessionUseValues(use);
    checkLength(values.familyId, MAX_JTI, 'familyId');
    const key = parseId(userId);
    if (key === null) return;
    const at = new Date(values.at);
    return this.write(async (trx) => {
      const insert = trx
        .insertInto('restjwt_session')
        .columns(['family_id', 'user_id', 'created_at', 'last_used_at', 'client_address', 'user_agent'])
        // INSERT … SELECT from the user rather than VALUES, so that an unknown user is no row instead of a foreign-key error.
        .expression((eb) =>
          eb
            .selectFrom('restjwt_user')
            .select([
              this.text(values.familyId).as('family_id'),
              'id',
              this.instant(at).as('created_at'),
              this.instant(at).as('last_used_at'),
              this.text(values.clientAddress).as('client_address'),
              this.text(values.userAgent).as('user_agent'),
            ])
            .where('id', '=', key),
        );
      await this.insertIfAbsent(insert, ['family_id']);
    });
  }

  /** Records a refresh unless an equal or later one is recorded; a null address or user agent keeps the known one. */
  async touchSession(use: SessionUse): Promise<void> {
    const values = sessionUseValues(use);
    return this.write((trx) => this.touchSessionIn(trx, values));
  }

  /** `userId`'s sessions, newest login first, with their family's expiry and state; ended ones only with `includeEnded`. */
  async listSessions(userId: string, options: { includeEnded?: boolean; now?: Date } = {}): Promise<SessionRecord[]> {
    const now = new Date(toMillis(options.now ?? new Date(Date.now()), 'now'));
    const key = parseId(userId);
    if (key === null) return [];
    return this.run(async () => {
      let query = this.db
        .selectFrom('restjwt_session as s')
        .select(['s.family_id', 's.user_id', 's.created_at', 's.last_used_at', 's.client_address', 's.user_agent'])
        .select((eb) => [
          eb
            .selectFrom('restjwt_outstanding_token as o')
            .select((e) => e.fn.max('o.expires_at').as('latest'))
            .whereRef('o.family_id', '=', 's.family_id')
            .as('expires_at'),
          eb.exists(liveToken(eb, now)).as('active'),
        ])
        .where('s.user_id', '=', key);
      if (options.includeEnded !== true) query = query.where((eb) => eb.exists(liveToken(eb, now)));
      const rows = await query.orderBy('s.created_at', 'desc').orderBy('s.id', 'desc').execute();
      return rows.map(sessionFromRow);
    });
  }

  async sessionOwner(familyId: string): Promise<string | null> {
    return this.run(async () => {
      const row = await this.db.selectFrom('restjwt_session').select('user_id').where('family_id', '=', familyId).executeTakeFirst();
      return row === undefined ? null : String(row.user_id);
    });
  }

  /** Outstanding tokens, newest first (by `createdAt`, then the later recorded), at most 1000 per call (default 100). */
  async listTokens(options: { userId?: string; blacklisted?: boolean; limit?: number; offset?: number } = {}): Promise<TokenListing[]> {
    const { limit, offset } = checkTokenListing(options);
    const userId = options.userId === undefined ? undefined : parseId(options.userId);
    if (userId === null || limit === 0) return [];
    return this.run(async () => {
      let query = this.db
        .selectFrom('restjwt_outstanding_token as o')
        .leftJoin('restjwt_blacklisted_token as b', 'b.token_id', 'o.id')
        .leftJoin('restjwt_user as u', 'u.id', 'o.user_id')
        .select(['o.jti', 'o.user_id', 'o.token_type', 'o.family_id', 'o.created_at', 'o.expires_at', 'o.replaced_by', 'b.blacklisted_at', 'u.username']);
      if (userId !== undefined) query = query.where('o.user_id', '=', userId);
      if (options.blacklisted !== undefined) query = query.where('b.id', options.blacklisted ? 'is not' : 'is', null);
      const rows = await query.orderBy('o.created_at', 'desc').orderBy('o.id', 'desc').limit(limit).offset(offset).execute();
      return rows.map(tokenListingFromRow);
    });
  }

  async countUsers(): Promise<number> {
    return this.run(async () => {
      const row = await this.db.selectFrom('restjwt_user').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
      return Number(row?.n ?? 0);
    });
  }

  // --- linked identities (IdentityStore) -------------------------------------------------------------------------

  async findIdentity(provider: string, subject: string): Promise<LinkedIdentity | null> {
    return this.run(async () => {
      const row = await this.db.selectFrom('restjwt_identity').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
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
    return this.write(async (trx) => {
      let inserted = false;
      if (key !== null) {
        const insert = trx
          .insertInto('restjwt_identity')
          .columns(['provider', 'subject', 'user_id', 'email', 'created_at', 'last_used_at'])
          .expression((eb) =>
            eb
              .selectFrom('restjwt_user')
              .select([
                this.text(identity.provider).as('provider'),
                this.text(identity.subject).as('subject'),
                'id',
                this.text(identity.email).as('email'),
                this.instant(at).as('created_at'),
                this.instant(at).as('last_used_at'),
              ])
              .where('id', '=', key),
          );
        inserted = await this.insertIfAbsent(insert, ['provider', 'subject']);
      }
      const row = await trx
        .selectFrom('restjwt_identity')
        .select('user_id')
        .where('provider', '=', identity.provider)
        .where('subject', '=', identity.subject)
        .executeTakeFirst();
      return linkResult(row?.user_id, identity.userId, inserted);
    });
  }

  async touchIdentity(provider: string, subject: string, email: string | null, at: Date): Promise<void> {
    if (email !== null) checkLength(email, MAX_EMAIL, 'email');
    const when = new Date(toMillis(at, 'at'));
    return this.write(async (trx) => {
      await trx.updateTable('restjwt_identity').set({ last_used_at: when, email }).where('provider', '=', provider).where('subject', '=', subject).execute();
    });
  }

  async unlinkIdentity(userId: string, provider: string, subject: string, options?: UnlinkOptions): Promise<UnlinkResult> {
    const key = parseId(userId);
    if (key === null) return 'not_found';
    return this.write(async (trx) => {
      // The user row's lock orders this unlink after any other of the same user (and after a password change), so
      // the identities read next are the ones left when it commits.
      const user = await trx.selectFrom('restjwt_user').select('password').where('id', '=', key).forUpdate().executeTakeFirst();
      const identities = await trx.selectFrom('restjwt_identity').select(['provider', 'subject']).where('user_id', '=', key).execute();
      const verdict = unlinkVerdict(user?.password ?? null, identities, provider, subject, options);
      if (verdict !== 'remove') return verdict;
      await trx.deleteFrom('restjwt_identity').where('user_id', '=', key).where('provider', '=', provider).where('subject', '=', subject).execute();
      return 'unlinked';
    });
  }

  /** `userId`'s linked identities, by provider then subject. */
  async listIdentities(userId: string): Promise<LinkedIdentity[]> {
    const key = parseId(userId);
    if (key === null) return [];
    return this.run(async () => {
      const rows = await this.db.selectFrom('restjwt_identity').selectAll().where('user_id', '=', key).orderBy('provider').orderBy('subject').execute();
      return rows.map(identityFromRow);
    });
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
    return this.write(async (trx) => {
      if (!(await this.insertIfAbsent(trx.insertInto('restjwt_one_time').values({ key, value, expires_at: expires }), ['key']))) {
        throw new OneTimeKeyExistsError();
      }
    });
  }

  /**
   * Removes `key` and returns its value unless expired. Single-use under concurrency: on PostgreSQL one
   * `DELETE … RETURNING` (only the call that deleted the row gets it); on MariaDB/MySQL the row is locked
   * (`SELECT … FOR UPDATE`) and deleted in one transaction, and a call that waited on the lock finds it gone.
   */
  async takeOneTime(key: string, now?: Date): Promise<string | null> {
    const at = toMillis(now ?? new Date(Date.now()), 'now');
    if (key.length > MAX_ONE_TIME_KEY) return null;
    return this.write(async (trx) => {
      let row: { value: string; expires_at: Date } | undefined;
      if (this.dialect === 'postgres') {
        row = await trx.deleteFrom('restjwt_one_time').where('key', '=', key).returning(['value', 'expires_at']).executeTakeFirst();
      } else {
        const locked = await trx.selectFrom('restjwt_one_time').select(['id', 'value', 'expires_at']).where('key', '=', key).forUpdate().executeTakeFirst();
        if (locked === undefined) return null;
        const result = await trx.deleteFrom('restjwt_one_time').where('id', '=', String(locked.id)).executeTakeFirst();
        if (Number(result.numDeletedRows) !== 1) return null;
        row = locked;
      }
      return row !== undefined && isOneTimeLive(row.expires_at, at) ? row.value : null;
    });
  }

  // --- internals -------------------------------------------------------------------------------------------------

  private isBlacklistedQuery(jti: string) {
    // Two index lookups: jti → outstanding id (unique index), id → blacklist row (unique index on token_id).
    return this.db
      .selectFrom('restjwt_outstanding_token as o')
      .innerJoin('restjwt_blacklisted_token as b', 'b.token_id', 'o.id')
      .select(sql<number>`1`.as('one'))
      .where('o.jti', '=', jti)
      .limit(1);
  }

  private async updateUser(
    id: string,
    set: Partial<{ password: string; token_version: string; is_active: boolean; last_login: Date }>,
  ): Promise<void> {
    this.assertOpen();
    const key = parseId(id);
    if (key === null) return;
    await this.run(async () => {
      await this.db.updateTable('restjwt_user').set(set).where('id', '=', key).execute();
    });
  }

  /**
   * Blacklists every live token whose `column` is `value`, in one READ COMMITTED transaction. Each statement sees
   * the rows committed when it starts, so the insert is repeated until a fresh look finds no live token: a `rotate`
   * that won a presented token before us has committed by then (our insert waited for its blacklist row) and its
   * successor is caught by the next pass; one that comes after finds its token blacklisted and records nothing.
   */
  private async revokeWhere(column: 'family_id' | 'user_id', value: string): Promise<number> {
    return this.write(async (trx) => {
      let total = 0;
      for (let pass = 0; pass < 20; pass++) {
        const now = new Date(Date.now());
        const stamp = this.dialect === 'postgres' ? sql<Date>`cast(${now} as timestamptz)` : sql<Date>`${now}`;
        const insert = trx
          .insertInto('restjwt_blacklisted_token')
          .columns(['token_id', 'blacklisted_at'])
          .expression((eb) =>
            eb
              .selectFrom('restjwt_outstanding_token as o')
              .select(['o.id', stamp.as('blacklisted_at')])
              .where(`o.${column}`, '=', value)
              .where((w) => w.not(w.exists(w.selectFrom('restjwt_blacklisted_token as b').select('b.id').whereRef('b.token_id', '=', 'o.id')))),
          );
        const result =
          this.dialect === 'postgres'
            ? await insert.onConflict((oc) => oc.column('token_id').doNothing()).executeTakeFirst()
            : await insert.ignore().executeTakeFirst();
        total += Number(result.numInsertedOrUpdatedRows ?? 0n);
        const live = await trx
          .selectFrom('restjwt_outstanding_token as o')
          .select('o.id')
          .where(`o.${column}`, '=', value)
          .where((w) => w.not(w.exists(w.selectFrom('restjwt_blacklisted_token as b').select('b.id').whereRef('b.token_id', '=', 'o.id'))))
          .limit(1)
          .executeTakeFirst();
        if (live === undefined) break;
      }
      return total;
    });
  }

  /**
   * Runs an insert-if-absent: `ON CONFLICT (conflict) DO NOTHING` on PostgreSQL, `INSERT IGNORE` on MariaDB/MySQL
   * (values are length-checked first, since IGNORE would also turn a too-long value into a truncated one). True when
   * this call inserted the row.
   */
  private async insertIfAbsent<T extends keyof RestJwtDatabase & string>(
    insert: InsertQueryBuilder<RestJwtDatabase, T, InsertResult>,
    conflict: readonly (keyof RestJwtDatabase[T] & string)[],
  ): Promise<boolean> {
    const result =
      this.dialect === 'postgres'
        ? await insert.onConflict((oc) => oc.columns(conflict).doNothing()).executeTakeFirst()
        : await insert.ignore().executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** An instant as a select-list value: PostgreSQL cannot infer a parameter's type there, so it is cast. */
  private instant(date: Date): RawBuilder<Date> {
    return this.dialect === 'postgres' ? sql<Date>`cast(${date} as timestamptz)` : sql<Date>`${date}`;
  }

  /** A text (or null) select-list value, typed for PostgreSQL as {@link instant} is. */
  private text(value: string | null): RawBuilder<string | null> {
    return this.dialect === 'postgres' ? sql<string | null>`cast(${value} as text)` : sql<string | null>`${value}`;
  }

  /** Deletes up to `limit` sessions whose family has no token left; the delete checks again, so a race keeps a live one. */
  private flushSessionBatch(limit: number): Promise<number> {
    return this.write(async (trx) => {
      const ids = await trx
        .selectFrom('restjwt_session as s')
        .select('s.id')
        .where((eb) => eb.not(eb.exists(eb.selectFrom('restjwt_outstanding_token as o').select('o.id').whereRef('o.family_id', '=', 's.family_id'))))
        .orderBy('s.id')
        .limit(limit)
        .execute();
      if (ids.length === 0) return 0;
      const result = await trx
        .deleteFrom('restjwt_session')
        .where(
          'id',
          'in',
          ids.map((row) => String(row.id)),
        )
        .where((eb) =>
          eb.not(eb.exists(eb.selectFrom('restjwt_outstanding_token as o').select('o.id').whereRef('o.family_id', '=', 'restjwt_session.family_id'))),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /** Inserts the token unless its jti is recorded; an unknown user id is stored as NULL, as simplejwt does. */
  private async insertOutstanding(trx: Transaction<RestJwtDatabase>, token: TokenValues): Promise<void> {
    const insert = trx.insertInto('restjwt_outstanding_token').values((eb) => ({
      jti: token.jti,
      user_id: token.userId === null ? null : eb.selectFrom('restjwt_user').select('id').where('id', '=', token.userId),
      token_type: token.tokenType,
      family_id: token.familyId,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
    }));
    if (this.dialect === 'postgres') await insert.onConflict((oc) => oc.column('jti').doNothing()).execute();
    else await insert.ignore().execute();
  }

  /**
   * Records `token` unless present and blacklists it. The recorded row's family when this call inserted the blacklist
   * row; undefined when the token was blacklisted already.
   */
  private async blacklistRow(trx: Transaction<RestJwtDatabase>, token: TokenValues): Promise<{ familyId: string | null } | undefined> {
    await this.insertOutstanding(trx, token);
    // A plain read: under READ COMMITTED it sees the row whether this transaction or a committed one inserted it
    // (an uncommitted insert by another transaction made the insert above wait for it).
    const row = await trx.selectFrom('restjwt_outstanding_token').select(['id', 'family_id']).where('jti', '=', token.jti).executeTakeFirst();
    if (row === undefined) throw new Error(`Outstanding token ${token.jti} vanished inside its transaction`);
    const insert = trx.insertInto('restjwt_blacklisted_token').values({ token_id: String(row.id), blacklisted_at: new Date(Date.now()) });
    const result =
      this.dialect === 'postgres'
        ? await insert.onConflict((oc) => oc.column('token_id').doNothing()).executeTakeFirst()
        : await insert.ignore().executeTakeFirst();
    // The unique token_id decides: only the call that inserted the row wins.
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1 ? { familyId: row.family_id } : undefined;
  }

  /** `touchSession` inside a transaction: a use not older than the recorded one; null metadata keeps the known values. */
  private async touchSessionIn(trx: Transaction<RestJwtDatabase>, use: SessionUseValues): Promise<void> {
    const at = new Date(use.at);
    await trx
      .updateTable('restjwt_session')
      .set({
        last_used_at: at,
        ...(use.clientAddress === null ? {} : { client_address: use.clientAddress }),
        ...(use.userAgent === null ? {} : { user_agent: use.userAgent }),
      })
      .where('family_id', '=', use.familyId)
      // Refreshes finishing out of order: the older one changes nothing.
      .where('last_used_at', '<=', at)
      .execute();
  }

  /**
   * `rotate` on PostgreSQL as one statement of data-modifying CTEs, committed on its own: one round trip where the
   * transaction takes seven. The rules are `rotate`'s: the presented token is recorded unless it is (then with its
   * successor as `replaced_by`: whoever inserts it wins, as no one else can have blacklisted it), the unique
   * `token_id` of the blacklist insert decides the single winner, and only the winner records the successor, links
   * it and touches the session. All parts share the statement's snapshot, so a presented row that a concurrent,
   * uncommitted transaction is inserting is neither inserted here (the insert waits, then does nothing) nor seen:
   * `not_found`, and the caller runs the transaction instead, whose statements each see what committed before them.
   * The text never varies (choices are parameters), so it runs as one prepared statement.
   */
  private async rotateInOneStatement(
    presented: TokenValues,
    successor: TokenValues,
    options: RotateOptions,
    use: SessionUseValues | null,
    fallbackFamily: string | null,
  ): Promise<RotateResult | 'not_found'> {
    const outstanding = this.tableRef('restjwt_outstanding_token');
    const blacklisted = this.tableRef('restjwt_blacklisted_token');
    const users = this.tableRef('restjwt_user');
    const sessions = this.tableRef('restjwt_session');
    const presentedJti = sql`cast(${presented.jti} as text)`;
    const successorJti = sql`cast(${successor.jti} as text)`;
    const fallback = sql`cast(${fallbackFamily} as text)`;
    const usedAt = sql`cast(${use === null ? null : new Date(use.at)} as timestamptz)`;
    const query = sql<{ found: number; won: number }>`
      WITH inserted AS (
        INSERT INTO ${outstanding} (jti, user_id, token_type, family_id, created_at, expires_at, replaced_by)
        VALUES (${presentedJti}, (SELECT id FROM ${users} WHERE id = cast(${presented.userId} as bigint)), cast(${presented.tokenType} as text),
                cast(${presented.familyId} as text), cast(${presented.createdAt} as timestamptz), cast(${presented.expiresAt} as timestamptz), ${successorJti})
        ON CONFLICT (jti) DO NOTHING
        RETURNING id, family_id
      ), presented AS (
        SELECT id, family_id FROM inserted
        UNION ALL
        SELECT id, family_id FROM ${outstanding} WHERE jti = ${presentedJti}
      ), won AS (
        INSERT INTO ${blacklisted} (token_id, blacklisted_at)
        SELECT id, cast(${new Date(Date.now())} as timestamptz) FROM presented
        ON CONFLICT (token_id) DO NOTHING
        RETURNING token_id
      ), family AS (
        SELECT CASE WHEN cast(${options.inheritFamily === true} as boolean) THEN coalesce(p.family_id, ${fallback}) ELSE ${fallback} END AS family_id
        FROM presented p JOIN won ON won.token_id = p.id
      ), successor AS (
        INSERT INTO ${outstanding} (jti, user_id, token_type, family_id, created_at, expires_at)
        SELECT ${successorJti}, (SELECT id FROM ${users} WHERE id = cast(${successor.userId} as bigint)), cast(${successor.tokenType} as text),
               family_id, cast(${successor.createdAt} as timestamptz), cast(${successor.expiresAt} as timestamptz)
        FROM family
        ON CONFLICT (jti) DO NOTHING
        RETURNING 1
      ), linked AS (
        -- A presented row inserted above already names its successor (this update cannot see that row).
        UPDATE ${outstanding} SET replaced_by = ${successorJti} WHERE id IN (SELECT token_id FROM won)
        RETURNING 1
      ), touched AS (
        UPDATE ${sessions}
        SET last_used_at = ${usedAt},
            client_address = coalesce(cast(${use?.clientAddress ?? null} as text), client_address),
            user_agent = coalesce(cast(${use?.userAgent ?? null} as text), user_agent)
        WHERE ${usedAt} IS NOT NULL AND family_id = (SELECT family_id FROM family) AND last_used_at <= ${usedAt}
        RETURNING 1
      )
      SELECT cast((SELECT count(*) FROM presented) as integer) AS found, cast((SELECT count(*) FROM won) as integer) AS won`;
    const [row] = await this.oneStatement(() => this.hot('restjwt_rotate', query.compile(this.db)));
    if (row === undefined || row.found === 0) return 'not_found';
    return row.won === 1 ? 'rotated' : 'already_blacklisted';
  }

  /**
   * Runs a statement of the hot path (refresh, authentication): on PostgreSQL as the prepared statement `name`
   * (unless turned off: {@link SqlConnectOptions.prepareStatements}), so the server parses and plans it once per
   * connection. `name` must always go with the same SQL text: the query's shape may not vary, only its parameters.
   */
  private async hot<R>(name: string, query: CompiledQuery<R>): Promise<R[]> {
    if (this.prepared !== undefined) return this.prepared<R>(name, query.sql, [...query.parameters]);
    return (await this.db.executeQuery(query)).rows;
  }

  /** A table of this store's schema, for raw SQL (Kysely's `withSchema` does not reach into `sql` templates). */
  private tableRef(name: keyof RestJwtDatabase & string): RawBuilder<unknown> {
    return sql.table(this.schema === undefined ? name : `${this.schema}.${name}`);
  }

  /** Runs one autocommitted statement, again after a deadlock or serialization failure (which rolled it back). */
  private oneStatement<T>(fn: () => Promise<T>): Promise<T> {
    return this.run(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn();
        } catch (error) {
          if (attempt < MAX_ATTEMPTS && isRetryableConflict(error)) {
            await backOff(attempt);
            continue;
          }
          throw translateSqlError(error, this.dialect, this.target, 'unknown');
        }
      }
    });
  }

  /** Runs `fn` in one READ COMMITTED transaction, again after a deadlock or serialization failure. */
  private write<T>(fn: (trx: Transaction<RestJwtDatabase>) => Promise<T>): Promise<T> {
    return this.run(async () => {
      for (let attempt = 1; ; attempt++) {
        let committing = false;
        try {
          return await this.db
            .transaction()
            .setIsolationLevel('read committed')
            .execute(async (trx) => {
              const result = await fn(trx);
              committing = true;
              return result;
            });
        } catch (error) {
          if (!committing && attempt < MAX_ATTEMPTS && isRetryableConflict(error)) {
            // Rolled back by the database: nothing was applied. Try again.
            await backOff(attempt);
            continue;
          }
          throw translateSqlError(error, this.dialect, this.target, committing ? 'unknown' : 'not_applied');
        }
      }
    });
  }

  /** Runs `fn` unless closed, with errors translated and a deadline. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new StoreUnavailableError(
            `The ${dialectLabel(this.dialect)} database ${this.target} did not answer within ${this.deadlineMs} ms. Requests that ` +
              'need it answer 503 until it is back; check the server and the network to it. restjwt reconnects by itself.',
          ),
        );
      }, this.deadlineMs);
      timer.unref();
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (error) {
      if (this.closed && !(error instanceof StoreUnavailableError)) throw closedError(this);
      throw translateSqlError(error, this.dialect, this.target);
    } finally {
      clearTimeout(timer);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw closedError(this);
  }
}

/**
 * Opens a {@link SqlStore} and applies pending migrations unless `migrate: false`.
 *
 * @throws StoreUnavailableError when the database cannot be reached (with what to check), Error for a bad URL.
 */
export function openSqlStore(options: SqlStoreOptions): Promise<SqlStore> {
  return SqlStore.open(options);
}

/** A token of the session's family (`s`) that is neither blacklisted nor expired at `now`. */
function liveToken(eb: SessionScope, now: Date) {
  return eb
    .selectFrom('restjwt_outstanding_token as o')
    .select('o.id')
    .whereRef('o.family_id', '=', 's.family_id')
    .where('o.expires_at', '>', now)
    .where((w) => w.not(w.exists(w.selectFrom('restjwt_blacklisted_token as b').select('b.id').whereRef('b.token_id', '=', 'o.id'))));
}

/** A little wait, growing with the attempt, with jitter so that conflicting retries spread out. */
function backOff(attempt: number): Promise<void> {
  return sleep(5 * attempt + Math.floor(Math.random() * 10 * attempt));
}

function closedError(store: SqlStore): StoreUnavailableError {
  return new StoreUnavailableError(`The ${dialectLabel(store.dialect)} store for ${store.target} is closed. Open a new one with openSqlStore().`, {
    outcome: 'not_applied',
  });
}

interface TokenValues {
  jti: string;
  userId: string | null;
  tokenType: 'refresh' | 'sliding';
  familyId: string | null;
  createdAt: Date;
  expiresAt: Date;
}

function tokenValues(token: OutstandingToken): TokenValues {
  checkLength(token.jti, MAX_JTI, 'jti');
  if (token.familyId !== null) checkLength(token.familyId, MAX_JTI, 'familyId');
  return {
    jti: token.jti,
    userId: token.userId === null ? null : parseId(token.userId),
    tokenType: token.tokenType,
    familyId: token.familyId,
    createdAt: new Date(toMillis(token.createdAt, 'createdAt')),
    expiresAt: new Date(toMillis(token.expiresAt, 'expiresAt')),
  };
}

function toUser(row: UserRow): UserRecord {
  return {
    id: String(row.id),
    username: row.username,
    email: row.email,
    passwordHash: row.password,
    isActive: Boolean(row.is_active),
    isStaff: Boolean(row.is_staff),
    lastLogin: row.last_login === null ? null : new Date(row.last_login),
    dateJoined: new Date(row.date_joined),
    tokenVersion: row.token_version,
  };
}

/** User ids are canonical decimal integers within BIGINT; anything else matches no row. */
function parseId(id: string): string | null {
  return /^(0|[1-9][0-9]{0,17})$/.test(id) ? id : null;
}

function checkLength(value: string, max: number, what: string): void {
  if (value.length > max) throw new RangeError(`${what} is longer than ${max} characters`);
}

