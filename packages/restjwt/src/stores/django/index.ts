/**
 * The shared-database mode: a {@link Store} over a running Django project's own tables, so restjwt and a
 * djangorestframework-simplejwt deployment serve the same users and honour each other's blacklist.
 *
 * - Users are Django's `auth_user` rows (the default user model). Passwords are Django's hashes; restjwt verifies
 *   pbkdf2_sha256, argon2, bcrypt_sha256 and bcrypt. A hash is never rewritten at login (see `allowRehash`).
 * - Tokens are `token_blacklist_outstandingtoken` and `token_blacklist_blacklistedtoken` rows, written as simplejwt
 *   writes them, except `token`, which holds an empty string: restjwt never keeps token strings.
 * - `tokenVersion` is simplejwt's revoke claim value, `md5(password hash)` in upper-case hex
 *   (`get_md5_hash_password`), so CHECK_REVOKE_TOKEN works across both services.
 * - Django owns the schema: `migrate()` only checks that the tables exist and says to run `manage.py migrate`.
 *
 * Rotation and blacklisting are atomic through the tables' unique constraints (`jti`, `token_id`) inside one
 * transaction, as in the native stores.
 */
import { createHash } from 'node:crypto';
import { ConfigurationError, UserExistsError } from '@restjwt/core';
import { type BlacklistPage, type BlacklistResult, type BlacklistSource, type FlushProgress, type NewUser, type OutstandingState, type OutstandingToken, type RotateResult, type Store, type UserLookupField, type UserRecord, type WithCapabilities, checkBatchSize, deleteInBatches, blacklistPage, userFromRow, checkBlacklistListing, checkPage, integerIdParser, toMillis } from '@restjwt/core/store-kit';
import type { DjangoDriver, SqlRunner, SqlValue } from './driver.js';
import { importOptional } from '@restjwt/core/adapter-kit';
import { openDjangoSqlite } from './sqlite-driver.js';
import { parseDjangoUrl, type DjangoDatabase } from './url.js';

export type { DjangoDriver, SqlRunner, SqlValue } from './driver.js';
export { formatDjangoSqliteDate, parseDjangoSqliteDate } from './sqlite-driver.js';
export { DJANGO_URL_EXAMPLES, isDjangoUrl, parseDjangoUrl, type DjangoDatabase } from './url.js';

/** The tables the store reads and writes; Django creates them (`auth` and `token_blacklist` migrations). */
export const DJANGO_TABLES = ['auth_user', 'token_blacklist_outstandingtoken', 'token_blacklist_blacklistedtoken'] as const;

export { DEFAULT_FLUSH_BATCH_SIZE } from '@restjwt/core/store-kit';

/** Options for {@link openDjangoStore}. */
export interface DjangoStoreOptions {
  /** A `django+sqlite:`/`django+postgres:` URL, or the parsed form. */
  database: string | DjangoDatabase;
  /** Check at open that Django's tables exist (default true). */
  check?: boolean;
  /**
   * Let `updatePasswordHash` (the rehash at login) write. Default false: Django keeps reading the hash it wrote, and
   * restjwt's rehash is skipped. Deliberate password changes (`setPassword`) always write.
   */
  allowRehash?: boolean;
  /** SQLite: how long to wait for Django's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** PostgreSQL: pool size. Default 10. */
  poolSize?: number;
}

/** A token row as Django keeps it, for `importdjango` ({@link DjangoStore.listDjangoTokens}). */
export interface DjangoTokenRow {
  /** The row id (Django's primary key), for paging. */
  rowId: string;
  jti: string;
  userId: string | null;
  createdAt: Date | null;
  expiresAt: Date;
  blacklistedAt: Date | null;
}

interface DjangoUserRow {
  id: number | string;
  username: string;
  email: string;
  password: string;
  is_active: number | boolean;
  is_staff: number | boolean;
  last_login: unknown;
  date_joined: unknown;
}

const USER_COLUMNS = 'id, username, email, password, is_active, is_staff, last_login, date_joined';
const OUTSTANDING = 'token_blacklist_outstandingtoken';
const BLACKLISTED = 'token_blacklist_blacklistedtoken';
/** Blacklists the outstanding row `token_id` unless it is; of concurrent calls only one inserts (the unique token_id). */
const INSERT_BLACKLISTED = `INSERT INTO ${BLACKLISTED} (token_id, blacklisted_at) VALUES (?, ?) ON CONFLICT (token_id) DO NOTHING`;

/**
 * A Django user id as a number, or null when `value` cannot be one: auth_user.id is Django's AutoField, a 32-bit
 * integer from 1, so anything else cannot name a row (and PostgreSQL would reject the comparison outright).
 */
const djangoId = integerIdParser({ min: 1, max: 2 ** 31 - 1, leadingZeros: true });

/** The only optional capability of the Django store: its blacklist, for a revocation cache to load. */
const DJANGO_CAPABILITIES = ['blacklistSource'] as const;

/** simplejwt's `get_md5_hash_password`: the revoke claim value for a stored password hash. */
export function djangoRevokeClaim(passwordHash: string): string {
  return createHash('md5').update(passwordHash, 'utf8').digest('hex').toUpperCase();
}

/**
 * A hash as Django stores it. restjwt's argon2id PHC string (`$argon2id$v=19$…`) becomes Django's
 * `argon2$argon2id$v=19$…` (Django's Argon2PasswordHasher reads it); every other form is already Django's.
 */
export function toDjangoHash(passwordHash: string): string {
  return /^\$argon2(id|i|d)\$/.test(passwordHash) ? `argon2${passwordHash}` : passwordHash;
}

/**
 * A {@link Store} over a Django database. Create it with {@link openDjangoStore}. Of the optional capabilities it has
 * only `BlacklistSource`: Django's tables hold no sessions, identities or one-time values.
 */
export class DjangoStore implements Store, WithCapabilities<(typeof DJANGO_CAPABILITIES)[number]> {
  private readonly allowRehash: boolean;

  constructor(
    /** The connection; exposed for tools that read Django's rows (importdjango). */
    readonly driver: DjangoDriver,
    options: { allowRehash?: boolean } = {},
  ) {
    this.allowRehash = options.allowRehash ?? false;
  }

  get capabilities(): typeof DJANGO_CAPABILITIES {
    return DJANGO_CAPABILITIES;
  }

  // --- lifecycle -------------------------------------------------------------------------------------------------

  /**
   * Checks that Django's tables exist; creates nothing (Django owns its schema). Returns `[]`.
   *
   * @throws ConfigurationError saying which tables are missing and to run `python manage.py migrate`.
   */
  async migrate(): Promise<string[]> {
    const present = new Set(await this.driver.existingTables(DJANGO_TABLES));
    const missing = DJANGO_TABLES.filter((t) => !present.has(t));
    if (missing.length > 0) {
      throw new ConfigurationError(
        `The Django database ${this.driver.description} has no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}. ` +
          'restjwt never creates Django\'s tables: run "python manage.py migrate" in the Django project (with ' +
          '"rest_framework_simplejwt.token_blacklist" in INSTALLED_APPS and the default user model), then start again.',
      );
    }
    return [];
  }

  async ping(): Promise<void> {
    await this.driver.all('SELECT 1 AS one');
  }

  close(): Promise<void> {
    return this.driver.close();
  }

  // --- users -----------------------------------------------------------------------------------------------------

  async findUser(field: UserLookupField, value: string): Promise<UserRecord | null> {
    let rows: DjangoUserRow[];
    if (field === 'id') {
      const id = djangoId(value);
      if (id === null) return null;
      rows = await this.driver.all<DjangoUserRow>(`SELECT ${USER_COLUMNS} FROM auth_user WHERE id = ?`, [id]);
    } else if (field === 'username') {
      rows = await this.driver.all<DjangoUserRow>(`SELECT ${USER_COLUMNS} FROM auth_user WHERE username = ?`, [value]);
    } else {
      rows = await this.driver.all<DjangoUserRow>(`SELECT ${USER_COLUMNS} FROM auth_user WHERE email = ? ORDER BY id LIMIT 1`, [value]);
    }
    const row = rows[0];
    return row === undefined ? null : this.toUser(row);
  }

  /** Inserts an `auth_user` row as Django's `create_user` would (not a superuser, empty names). */
  async createUser(user: NewUser): Promise<UserRecord> {
    const d = this.driver;
    try {
      const rows = await d.all<DjangoUserRow>(
        `INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
         VALUES (?, NULL, ?, ?, '', '', ?, ?, ?, ?) RETURNING ${USER_COLUMNS}`,
        [
          toDjangoHash(user.passwordHash),
          d.boolParam(false),
          user.username,
          user.email ?? '',
          d.boolParam(user.isStaff ?? false),
          d.boolParam(user.isActive ?? true),
          d.dateParam(new Date()),
        ],
      );
      const row = rows[0];
      if (row === undefined) throw new Error('INSERT ... RETURNING returned no row');
      return this.toUser(row);
    } catch (error) {
      if (d.isUniqueViolation(error)) throw new UserExistsError(user.username);
      throw error;
    }
  }

  /** The rehash at login: skipped unless the store was opened with `allowRehash` (Django must keep its hash). */
  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    if (!this.allowRehash) return;
    await this.writePassword(id, passwordHash);
  }

  /** A new password; the revoke claim (md5 of the hash) changes with it, so earlier tokens stop working. */
  async setPassword(id: string, passwordHash: string): Promise<void> {
    await this.writePassword(id, passwordHash);
  }

  /** Django has no token version to renew: deactivation alone refuses the user's tokens (CHECK_USER_IS_ACTIVE). */
  async setActive(id: string, isActive: boolean): Promise<void> {
    const key = djangoId(id);
    if (key !== null) await this.driver.run('UPDATE auth_user SET is_active = ? WHERE id = ?', [this.driver.boolParam(isActive), key]);
  }

  /**
   * A no-op: Django's revoke claim is the md5 of the password hash, so only a password change renews it. Log out
   * everywhere still works through `revokeUser` (refresh tokens); access tokens live until their `exp`.
   */
  async renewTokenVersion(_id: string): Promise<void> {}

  async updateLastLogin(id: string, at: Date): Promise<void> {
    toMillis(at, 'at');
    const key = djangoId(id);
    if (key !== null) await this.driver.run('UPDATE auth_user SET last_login = ? WHERE id = ?', [this.driver.dateParam(at), key]);
  }

  /** Users in id order. */
  async listUsers(options: { limit?: number; offset?: number } = {}): Promise<UserRecord[]> {
    const { limit, offset } = checkPage(options);
    const params: SqlValue[] = [];
    let page = '';
    if (limit !== undefined) {
      page = ' LIMIT ? OFFSET ?';
      params.push(limit, offset);
    } else if (offset > 0) {
      page = this.driver.dialect === 'sqlite' ? ' LIMIT -1 OFFSET ?' : ' OFFSET ?';
      params.push(offset);
    }
    const rows = await this.driver.all<DjangoUserRow>(`SELECT ${USER_COLUMNS} FROM auth_user ORDER BY id${page}`, params);
    return rows.map((r) => this.toUser(r));
  }

  // --- tokens ----------------------------------------------------------------------------------------------------

  async recordOutstanding(token: OutstandingToken): Promise<void> {
    await this.insertOutstanding(this.driver, token);
  }

  async isBlacklisted(jti: string): Promise<boolean> {
    const rows = await this.driver.all(
      `SELECT 1 AS hit FROM ${OUTSTANDING} o JOIN ${BLACKLISTED} b ON b.token_id = o.id WHERE o.jti = ? LIMIT 1`,
      [jti],
    );
    return rows.length > 0;
  }

  async blacklist(token: OutstandingToken): Promise<BlacklistResult> {
    checkToken(token);
    return this.driver.transaction(async (tx) => ((await this.blacklistRow(tx, token)) ? 'blacklisted' : 'already_blacklisted'));
  }

  /** Django's tables have no families and no sessions: `RotateOptions` have nothing to act on here. */
  async rotate(presented: OutstandingToken, successor: OutstandingToken): Promise<RotateResult> {
    checkToken(presented);
    checkToken(successor);
    return this.driver.transaction(async (tx) => {
      if (!(await this.blacklistRow(tx, presented))) return 'already_blacklisted';
      await this.insertOutstanding(tx, successor);
      return 'rotated';
    });
  }

  /** Django's table has no family or successor columns: both come back null. */
  async findOutstanding(jti: string): Promise<OutstandingState | null> {
    const rows = await this.driver.all<{ jti: string; user_id: number | string | null; created_at: unknown; expires_at: unknown; blacklisted_at: unknown }>(
      `SELECT o.jti, o.user_id, o.created_at, o.expires_at, b.blacklisted_at
       FROM ${OUTSTANDING} o LEFT JOIN ${BLACKLISTED} b ON b.token_id = o.id WHERE o.jti = ?`,
      [jti],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      jti: row.jti,
      userId: row.user_id === null ? null : String(row.user_id),
      tokenType: 'refresh',
      familyId: null,
      createdAt: this.driver.readDate(row.created_at) ?? new Date(0),
      expiresAt: this.driver.readDate(row.expires_at) ?? new Date(0),
      blacklistedAt: this.driver.readDate(row.blacklisted_at),
      replacedBy: null,
    };
  }

  /**
   * Django's schema has no table for revoked access tokens and this store never creates tables: refused, so that
   * `revokeAccessTokens` cannot silently do nothing (see docs/migrating-from-django.md).
   */
  async revokeAccess(_jti: string, _expiresAt: Date): Promise<void> {
    throw new Error('The Django store cannot revoke access tokens (Django has no table for them): turn revokeAccessTokens off.');
  }

  /** Nothing is ever revoked here (see `revokeAccess`). */
  async isAccessRevoked(_jti: string): Promise<boolean> {
    return false;
  }

  /** Django's table has no family column: nothing to revoke here (see docs/migrating-from-django.md). */
  async revokeFamily(_familyId: string): Promise<number> {
    return 0;
  }

  /** Blacklists every live token of the user, in one transaction, until a fresh look finds none left. */
  async revokeUser(userId: string): Promise<number> {
    const key = djangoId(userId);
    if (key === null) return 0;
    return this.driver.transaction(async (tx) => {
      let total = 0;
      for (let pass = 0; pass < 20; pass++) {
        const live = await tx.all<{ id: number | string }>(
          `SELECT o.id FROM ${OUTSTANDING} o WHERE o.user_id = ? AND NOT EXISTS (SELECT 1 FROM ${BLACKLISTED} b WHERE b.token_id = o.id)`,
          [key],
        );
        if (live.length === 0) break;
        for (const { id } of live) {
          total += await tx.run(INSERT_BLACKLISTED, [id, this.driver.dateParam(new Date())]);
        }
      }
      return total;
    });
  }

  /**
   * Deletes tokens that expired before `now` with their blacklist rows, `batchSize` per transaction — what Django's
   * `flushexpiredtokens` does (Django cascades in the ORM; here the blacklist rows go first, by id).
   */
  async flushExpired(now: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    const batchSize = checkBatchSize(options);
    toMillis(now, 'now');
    const before = this.driver.dateParam(now);
    return deleteInBatches(batchSize, options.onProgress, () =>
      this.driver.transaction(async (tx) => {
        const ids = (
          await tx.all<{ id: number | string }>(`SELECT id FROM ${OUTSTANDING} WHERE expires_at < ? ORDER BY id LIMIT ?`, [before, batchSize])
        ).map((r) => r.id);
        if (ids.length === 0) return 0;
        const marks = ids.map(() => '?').join(', ');
        await tx.run(`DELETE FROM ${BLACKLISTED} WHERE token_id IN (${marks})`, ids);
        return tx.run(`DELETE FROM ${OUTSTANDING} WHERE id IN (${marks})`, ids);
      }),
    );
  }

  async countTokens(): Promise<{ outstanding: number; blacklisted: number }> {
    const rows = await this.driver.all<{ outstanding: number | string; blacklisted: number | string }>(
      `SELECT (SELECT count(*) FROM ${OUTSTANDING}) AS outstanding, (SELECT count(*) FROM ${BLACKLISTED}) AS blacklisted`,
    );
    return { outstanding: Number(rows[0]?.outstanding ?? 0), blacklisted: Number(rows[0]?.blacklisted ?? 0) };
  }

  /** Blacklisted tokens in row order, a page at a time (for the Redis revocation cache). */
  async listBlacklisted(options: Parameters<BlacklistSource['listBlacklisted']>[0] = {}): Promise<BlacklistPage> {
    const { limit, cursor, after, before } = checkBlacklistListing(options, (c) => (/^[0-9]{1,18}$/.test(c) ? Number(c) : null));
    const where = ['o.id > ?'];
    const params: SqlValue[] = [cursor ?? 0];
    if (after !== undefined) {
      where.push('o.expires_at > ?');
      params.push(this.driver.dateParam(new Date(after)));
    }
    if (before !== undefined) {
      where.push('o.expires_at < ?');
      params.push(this.driver.dateParam(new Date(before)));
    }
    params.push(limit);
    const rows = await this.driver.all<{ id: number | string; jti: string; expires_at: unknown }>(
      `SELECT o.id, o.jti, o.expires_at FROM ${OUTSTANDING} o JOIN ${BLACKLISTED} b ON b.token_id = o.id
        WHERE ${where.join(' AND ')} ORDER BY o.id LIMIT ?`,
      params,
    );
    return blacklistPage(
      rows.map((r) => ({ id: r.id, jti: r.jti, expires_at: this.driver.readDate(r.expires_at) ?? new Date(0) })),
      limit,
    );
  }

  /**
   * Number of `auth_user` rows, for `importdjango`'s progress. (Not `SessionStore.countUsers`: this store has no
   * session capability, and no name here means what a capability's method means.)
   */
  async countDjangoUsers(): Promise<number> {
    const rows = await this.driver.all<{ n: number | string }>('SELECT count(*) AS n FROM auth_user');
    return Number(rows[0]?.n ?? 0);
  }

  /** Django's token rows in id order, after `afterRowId`, for `importdjango` (not `SessionStore.listTokens`). */
  async listDjangoTokens(options: { afterRowId?: string | null; limit: number }): Promise<DjangoTokenRow[]> {
    const rows = await this.driver.all<{
      id: number | string;
      jti: string;
      user_id: number | string | null;
      created_at: unknown;
      expires_at: unknown;
      blacklisted_at: unknown;
    }>(
      `SELECT o.id, o.jti, o.user_id, o.created_at, o.expires_at, b.blacklisted_at
         FROM ${OUTSTANDING} o LEFT JOIN ${BLACKLISTED} b ON b.token_id = o.id
        WHERE o.id > ? ORDER BY o.id LIMIT ?`,
      [options.afterRowId === null || options.afterRowId === undefined ? 0 : Number(options.afterRowId), options.limit],
    );
    return rows.map((r) => ({
      rowId: String(r.id),
      jti: r.jti,
      userId: r.user_id === null ? null : String(r.user_id),
      createdAt: this.driver.readDate(r.created_at),
      expiresAt: this.driver.readDate(r.expires_at) ?? new Date(0),
      blacklistedAt: this.driver.readDate(r.blacklisted_at),
    }));
  }

  // --- internals -------------------------------------------------------------------------------------------------

  private async writePassword(id: string, passwordHash: string): Promise<void> {
    const key = djangoId(id);
    if (key !== null) await this.driver.run('UPDATE auth_user SET password = ? WHERE id = ?', [toDjangoHash(passwordHash), key]);
  }

  /** Records `token` unless its jti is known (a user that does not exist is recorded as NULL, as simplejwt does). */
  private async insertOutstanding(runner: SqlRunner, token: OutstandingToken): Promise<void> {
    checkToken(token);
    const d = this.driver;
    await runner.run(
      `INSERT INTO ${OUTSTANDING} (jti, token, created_at, expires_at, user_id)
       VALUES (?, '', ?, ?, (SELECT id FROM auth_user WHERE id = ?))
       ON CONFLICT (jti) DO NOTHING`,
      [token.jti, d.dateParam(token.createdAt), d.dateParam(token.expiresAt), djangoId(token.userId)],
    );
  }

  /** Records `token` unless present and blacklists it; true when this call inserted the blacklist row. */
  private async blacklistRow(tx: SqlRunner, token: OutstandingToken): Promise<boolean> {
    await this.insertOutstanding(tx, token);
    const rows = await tx.all<{ id: number | string }>(`SELECT id FROM ${OUTSTANDING} WHERE jti = ?`, [token.jti]);
    const id = rows[0]?.id;
    if (id === undefined) throw new Error(`Outstanding token ${token.jti} vanished inside its transaction`);
    // The unique token_id decides: of concurrent calls only the one that inserts the row wins.
    const inserted = await tx.run(INSERT_BLACKLISTED, [id, this.driver.dateParam(new Date())]);
    return inserted === 1;
  }

  /** A user row with the driver's dates read, and simplejwt's revoke claim as its token version. */
  private toUser(row: DjangoUserRow): UserRecord {
    return userFromRow({
      ...row,
      last_login: this.driver.readDate(row.last_login),
      date_joined: this.driver.readDate(row.date_joined) ?? new Date(0),
      token_version: djangoRevokeClaim(row.password),
    });
  }
}

function checkToken(token: OutstandingToken): void {
  if (typeof token.jti !== 'string' || token.jti.length === 0 || token.jti.length > 255) {
    throw new RangeError('jti must be a non-empty string of at most 255 characters (the column is varchar(255))');
  }
  toMillis(token.createdAt, 'createdAt');
  toMillis(token.expiresAt, 'expiresAt');
}

/**
 * Opens a Django database as a restjwt store and (unless `check: false`) checks that Django's tables exist.
 *
 * @throws ConfigurationError when the tables are missing; StoreUnavailableError when the database cannot be reached.
 */
export async function openDjangoStore(options: DjangoStoreOptions | string): Promise<DjangoStore> {
  const opts: DjangoStoreOptions = typeof options === 'string' ? { database: options } : options;
  const database = typeof opts.database === 'string' ? parseDjangoUrl(opts.database, { prefixOptional: true }) : opts.database;
  let driver: DjangoDriver;
  if (database.kind === 'sqlite') {
    driver = openDjangoSqlite({ filename: database.filename, busyTimeoutMs: opts.busyTimeoutMs });
  } else {
    // PostgreSQL goes through @restjwt/sql's pool (and so pg and kysely), which only this kind of database needs.
    const { openDjangoPostgres } = await importOptional(() => import('./postgres-driver.js'), 'a django+postgres:// database', ['@restjwt/sql', 'pg']);
    driver = openDjangoPostgres({ connectionString: database.connectionString, ...(opts.poolSize === undefined ? {} : { max: opts.poolSize }) });
  }
  const store = new DjangoStore(driver, { allowRehash: opts.allowRehash });
  if (opts.check ?? true) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}
