/**
 * Every SQL statement of the SQL store, built with Kysely for PostgreSQL and MariaDB/MySQL alike (the one-statement
 * PostgreSQL rotation is in `pg-rotate.ts`). Methods taking a transaction run inside the caller's; the others read
 * on their own. Validation, transactions and retries are the caller's (`store.ts`, `transaction.ts`).
 */
import { sql, type ExpressionBuilder, type InsertQueryBuilder, type InsertResult, type RawBuilder } from 'kysely';
import type { AuditFilter, AuditValues, ImportUserResult, NewFactorValues, UserLookupField, UserRecord, SessionUseValues } from '@restjwt/core/store-kit';
import type { SqlDialect } from './connect.js';
import { AUDIT_COLUMNS, FACTOR_COLUMNS, USER_COLUMNS, auditColumns, type TokenValues, type UserColumns } from './rows.js';
import type { RestJwtDatabase, SessionTable } from './schema.js';
import type { Db, Trx } from './transaction.js';

/** Expressions inside a query on `restjwt_session as s`. */
type SessionScope = ExpressionBuilder<RestJwtDatabase & { s: SessionTable }, 's'>;

/** The SQL store's statements on one database and schema. */
export class SqlStatements {
  constructor(
    private readonly db: Db,
    private readonly dialect: SqlDialect,
    private readonly schema: string | undefined,
  ) {}

  // --- users -----------------------------------------------------------------------------------------------------

  /** The user whose `field` is `value` (`id` already parsed); its shape depends on `field` only, so it can be prepared. */
  userBy(field: UserLookupField, value: string) {
    const query = this.db.selectFrom('restjwt_user').select(USER_COLUMNS);
    if (field === 'id') return query.where('id', '=', value).compile();
    if (field === 'username') return query.where('username', '=', value).compile();
    // Emails are not unique: the oldest user wins.
    return query.where('email', '=', value).orderBy('id').limit(1).compile();
  }

  /** Inserts a user and reads it back, on its own or inside the caller's transaction (`db`). */
  async insertUser(
    values: {
      username: string;
      email: string;
      password: string;
      is_active: boolean;
      is_staff: boolean;
      last_login: null;
      date_joined: Date;
      token_version: string;
    },
    db: Db = this.db,
  ) {
    let id: string;
    if (this.dialect === 'postgres') {
      const row = await db.insertInto('restjwt_user').values(values).returning('id').executeTakeFirstOrThrow();
      id = String(row.id);
    } else {
      const result = await db.insertInto('restjwt_user').values(values).executeTakeFirstOrThrow();
      if (result.insertId === undefined) throw new Error('INSERT returned no id');
      id = String(result.insertId);
    }
    return db.selectFrom('restjwt_user').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }

  /**
   * `importUser`'s transaction: `exists` or `conflict` when the id or the username is taken, else inserted. On
   * PostgreSQL the id sequence is moved past the imported ids, so later inserts never collide.
   */
  async importUser(trx: Trx, id: string, user: UserRecord): Promise<ImportUserResult> {
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
  }

  /**
   * Updates the user's columns, on its own or inside the caller's transaction (`db`); the rows matched (1, or 0 for
   * an unknown id: MariaDB/MySQL count matched rows, not changed ones, as mysql2 connects with FOUND_ROWS).
   */
  async updateUser(id: string, set: UserColumns, db: Db = this.db): Promise<number> {
    const result = await db.updateTable('restjwt_user').set(set).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  listUsers(limit: number | undefined, offset: number) {
    return (
      this.db
        .selectFrom('restjwt_user')
        .selectAll()
        .orderBy('id')
        // MariaDB/MySQL need a LIMIT to take an OFFSET.
        .limit(limit ?? Number.MAX_SAFE_INTEGER)
        .offset(offset)
        .execute()
    );
  }

  async countUsers(): Promise<number> {
    const row = await this.db.selectFrom('restjwt_user').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  // --- tokens ----------------------------------------------------------------------------------------------------

  isBlacklisted(jti: string) {
    // One lookup in the unique jti index, and the row's state.
    return this.db
      .selectFrom('restjwt_outstanding_token')
      .select(sql<number>`1`.as('one'))
      .where('jti', '=', jti)
      .where('blacklisted_at', 'is not', null)
      .limit(1);
  }

  /**
   * Inserts the token unless its jti is recorded (live, or in `state`); an unknown user id is stored as NULL, as
   * simplejwt does. True when this call inserted it.
   */
  insertOutstanding(trx: Trx, token: TokenValues, state?: { blacklisted_at: Date; replaced_by?: string }): Promise<boolean> {
    const insert = trx.insertInto('restjwt_outstanding_token').values((eb) => ({
      jti: token.jti,
      user_id: token.userId === null ? null : eb.selectFrom('restjwt_user').select('id').where('id', '=', token.userId),
      token_type: token.tokenType,
      family_id: token.familyId,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
      ...state,
    }));
    return this.insertIfAbsent(insert, ['jti']);
  }

  /**
   * Blacklists `token`, recording it first when it was never recorded, and names `replacedBy` as its successor (for
   * a rotation). The row's family when this call blacklisted it; undefined when the token was blacklisted already.
   *
   * The row's own state decides: of concurrent updates `WHERE blacklisted_at IS NULL` the first locks the row, and the
   * others, once it commits, read its new version again (READ COMMITTED), find it blacklisted and change nothing. An
   * unrecorded token is inserted already blacklisted, and of concurrent inserts the unique jti lets one through. The
   * update comes first: an insert-if-absent of an existing row takes a shared lock on it (InnoDB), which a later
   * update in the same transaction would have to upgrade, a deadlock between any two such transactions.
   */
  async blacklistRow(trx: Trx, token: TokenValues, replacedBy?: string): Promise<{ familyId: string | null } | undefined> {
    const state = { blacklisted_at: new Date(Date.now()), ...(replacedBy === undefined ? {} : { replaced_by: replacedBy }) };
    const update = trx
      .updateTable('restjwt_outstanding_token')
      .set(state)
      .where('jti', '=', token.jti)
      .where('blacklisted_at', 'is', null);
    if (Number((await update.executeTakeFirst()).numUpdatedRows) === 1) {
      const row = await trx.selectFrom('restjwt_outstanding_token').select('family_id').where('jti', '=', token.jti).executeTakeFirst();
      if (row === undefined) throw new Error(`Outstanding token ${token.jti} vanished inside its transaction`);
      return { familyId: row.family_id };
    }
    return (await this.insertOutstanding(trx, token, state)) ? { familyId: token.familyId } : undefined;
  }

  findOutstanding(jti: string) {
    return this.db
      .selectFrom('restjwt_outstanding_token')
      .select(['jti', 'user_id', 'token_type', 'family_id', 'created_at', 'expires_at', 'replaced_by', 'blacklisted_at'])
      .where('jti', '=', jti)
      .executeTakeFirst();
  }

  /**
   * Blacklists every live token whose `column` is `value`, inside `trx` (READ COMMITTED). Each statement sees the
   * rows committed when it starts, so the update is repeated until a fresh look finds no live token: a `rotate` that
   * won a presented token before us has committed by then (our update waited for its row) and its successor is caught
   * by the next pass; one that comes after finds its token blacklisted and records nothing.
   */
  async revokeWhere(trx: Trx, column: 'family_id' | 'user_id', value: string): Promise<number> {
    let total = 0;
    for (let pass = 0; pass < 20; pass++) {
      const result = await trx
        .updateTable('restjwt_outstanding_token')
        .set({ blacklisted_at: new Date(Date.now()) })
        .where(column, '=', value)
        .where('blacklisted_at', 'is', null)
        .executeTakeFirst();
      total += Number(result.numUpdatedRows);
      const live = await trx
        .selectFrom('restjwt_outstanding_token')
        .select('id')
        .where(column, '=', value)
        .where('blacklisted_at', 'is', null)
        .limit(1)
        .executeTakeFirst();
      if (live === undefined) break;
    }
    return total;
  }

  async revokeAccess(trx: Trx, jti: string, expiresAt: Date): Promise<void> {
    await this.insertIfAbsent(trx.insertInto('restjwt_revoked_access').values({ jti, expires_at: expiresAt }), ['jti']);
  }

  async isAccessRevoked(jti: string): Promise<boolean> {
    const row = await this.db.selectFrom('restjwt_revoked_access').select(sql<number>`1`.as('one')).where('jti', '=', jti).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async countTokens(): Promise<{ outstanding: number; blacklisted: number }> {
    const outstanding = await this.db.selectFrom('restjwt_outstanding_token').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    const blacklisted = await this.db
      .selectFrom('restjwt_outstanding_token')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('blacklisted_at', 'is not', null)
      .executeTakeFirst();
    return { outstanding: Number(outstanding?.n ?? 0), blacklisted: Number(blacklisted?.n ?? 0) };
  }

  /** Blacklisted tokens after `cursor` in outstanding-id order, with expiries inside the bounds. */
  listBlacklisted(options: { cursor: string | null; after: Date | undefined; before: Date | undefined; limit: number }) {
    let query = this.db
      .selectFrom('restjwt_outstanding_token as o')
      .select(['o.id', 'o.jti', 'o.expires_at'])
      .where('o.blacklisted_at', 'is not', null)
      .orderBy('o.id')
      .limit(options.limit);
    if (options.cursor !== null) query = query.where('o.id', '>', options.cursor);
    if (options.after !== undefined) query = query.where('o.expires_at', '>', options.after);
    if (options.before !== undefined) query = query.where('o.expires_at', '<', options.before);
    return query.execute();
  }

  /** Expired access revocations and one-time values. */
  async flushRevokedAndOneTime(trx: Trx, before: Date): Promise<void> {
    await trx.deleteFrom('restjwt_revoked_access').where('expires_at', '<', before).execute();
    await trx.deleteFrom('restjwt_one_time').where('expires_at', '<', before).execute();
  }

  /** Deletes the lowest ids of up to `limit` tokens that expired before `before` (and, by cascade, their blacklist rows). */
  async flushTokenBatch(trx: Trx, before: Date, limit: number): Promise<number> {
    const ids = await trx.selectFrom('restjwt_outstanding_token').select('id').where('expires_at', '<', before).orderBy('id').limit(limit).execute();
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
  }

  /** Deletes up to `limit` sessions whose family has no token left; the delete checks again, so a race keeps a live one. */
  async flushSessionBatch(trx: Trx, limit: number): Promise<number> {
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
  }

  // --- sessions --------------------------------------------------------------------------------------------------

  /** Inserts the session unless its family is recorded; an unknown user inserts nothing. */
  async insertSession(trx: Trx, userId: string, use: SessionUseValues): Promise<void> {
    const at = new Date(use.at);
    const insert = trx
      .insertInto('restjwt_session')
      .columns(['family_id', 'user_id', 'created_at', 'last_used_at', 'client_address', 'user_agent'])
      // INSERT … SELECT from the user rather than VALUES, so that an unknown user is no row instead of a foreign-key error.
      .expression((eb) =>
        eb
          .selectFrom('restjwt_user')
          .select([
            this.text(use.familyId).as('family_id'),
            'id',
            this.instant(at).as('created_at'),
            this.instant(at).as('last_used_at'),
            this.text(use.clientAddress).as('client_address'),
            this.text(use.userAgent).as('user_agent'),
          ])
          .where('id', '=', userId),
      );
    await this.insertIfAbsent(insert, ['family_id']);
  }

  /** `touchSession` inside a transaction: a use not older than the recorded one; null metadata keeps the known values. */
  async touchSession(trx: Trx, use: SessionUseValues): Promise<void> {
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

  async countLiveSessions(now: Date): Promise<number> {
    const row = await this.db
      .selectFrom('restjwt_session as s')
      .select((eb) => eb.fn.countAll().as('n'))
      .where((eb) => eb.exists(liveToken(eb, now)))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  listSessions(userId: string, now: Date, includeEnded: boolean) {
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
      .where('s.user_id', '=', userId);
    if (!includeEnded) query = query.where((eb) => eb.exists(liveToken(eb, now)));
    return query.orderBy('s.created_at', 'desc').orderBy('s.id', 'desc').execute();
  }

  async sessionOwner(familyId: string): Promise<string | null> {
    const row = await this.db.selectFrom('restjwt_session').select('user_id').where('family_id', '=', familyId).executeTakeFirst();
    return row === undefined ? null : String(row.user_id);
  }

  listTokens(options: { userId: string | undefined; blacklisted: boolean | undefined; limit: number; offset: number }) {
    let query = this.db
      .selectFrom('restjwt_outstanding_token as o')
      .leftJoin('restjwt_user as u', 'u.id', 'o.user_id')
      .select(['o.jti', 'o.user_id', 'o.token_type', 'o.family_id', 'o.created_at', 'o.expires_at', 'o.replaced_by', 'o.blacklisted_at', 'u.username']);
    if (options.userId !== undefined) query = query.where('o.user_id', '=', options.userId);
    if (options.blacklisted !== undefined) query = query.where('o.blacklisted_at', options.blacklisted ? 'is not' : 'is', null);
    return query.orderBy('o.created_at', 'desc').orderBy('o.id', 'desc').limit(options.limit).offset(options.offset).execute();
  }

  // --- linked identities -----------------------------------------------------------------------------------------

  findIdentity(provider: string, subject: string) {
    return this.db.selectFrom('restjwt_identity').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
  }

  /** Inserts the identity unless the pair is linked; an unknown user inserts nothing. True when this call inserted it. */
  insertIdentity(trx: Trx, identity: { provider: string; subject: string; email: string | null }, userId: string, at: Date): Promise<boolean> {
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
          .where('id', '=', userId),
      );
    return this.insertIfAbsent(insert, ['provider', 'subject']);
  }

  async identityOwner(trx: Trx, provider: string, subject: string): Promise<string | undefined> {
    const row = await trx.selectFrom('restjwt_identity').select('user_id').where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
    return row?.user_id;
  }

  async touchIdentity(trx: Trx, provider: string, subject: string, email: string | null, at: Date): Promise<void> {
    await trx.updateTable('restjwt_identity').set({ last_used_at: at, email }).where('provider', '=', provider).where('subject', '=', subject).execute();
  }

  /**
   * The user's password and identities, read with the user row locked: the lock orders this unlink after any other of
   * the same user (and after a password change), so the identities read are the ones left when it commits.
   */
  async lockedSignInMethods(trx: Trx, userId: string) {
    const user = await trx.selectFrom('restjwt_user').select('password').where('id', '=', userId).forUpdate().executeTakeFirst();
    const identities = await trx.selectFrom('restjwt_identity').select(['provider', 'subject']).where('user_id', '=', userId).execute();
    return { passwordHash: user?.password ?? null, identities };
  }

  async deleteIdentity(trx: Trx, userId: string, provider: string, subject: string): Promise<void> {
    await trx.deleteFrom('restjwt_identity').where('user_id', '=', userId).where('provider', '=', provider).where('subject', '=', subject).execute();
  }

  listIdentities(userId: string) {
    return this.db.selectFrom('restjwt_identity').selectAll().where('user_id', '=', userId).orderBy('provider').orderBy('subject').execute();
  }

  // --- one-time values -------------------------------------------------------------------------------------------

  /** Inserts the value unless its key is taken; true when this call inserted it. */
  insertOneTime(trx: Trx, key: string, value: string, expiresAt: Date): Promise<boolean> {
    return this.insertIfAbsent(trx.insertInto('restjwt_one_time').values({ key, value, expires_at: expiresAt }), ['key']);
  }

  /**
   * Removes `key`'s row and returns it, only to the call that removed it: on PostgreSQL one `DELETE … RETURNING`; on
   * MariaDB/MySQL the row is locked (`SELECT … FOR UPDATE`) and deleted, and a call that waited on the lock finds it gone.
   */
  async takeOneTime(trx: Trx, key: string): Promise<{ value: string; expires_at: Date } | undefined> {
    if (this.dialect === 'postgres') {
      return trx.deleteFrom('restjwt_one_time').where('key', '=', key).returning(['value', 'expires_at']).executeTakeFirst();
    }
    const locked = await trx.selectFrom('restjwt_one_time').select(['id', 'value', 'expires_at']).where('key', '=', key).forUpdate().executeTakeFirst();
    if (locked === undefined) return undefined;
    const result = await trx.deleteFrom('restjwt_one_time').where('id', '=', String(locked.id)).executeTakeFirst();
    return Number(result.numDeletedRows) === 1 ? locked : undefined;
  }

  // --- second factors --------------------------------------------------------------------------------------------

  /**
   * Inserts a factor of `userId` and returns its id, on its own or inside the caller's transaction (`db`); undefined
   * when there is no such user (INSERT … SELECT from the user, as {@link insertIdentity}). A credential id taken
   * already fails with the driver's unique violation.
   */
  async insertFactor(values: NewFactorValues, userId: string, db: Db = this.db): Promise<string | undefined> {
    const insert = db
      .insertInto('restjwt_factor')
      .columns(['user_id', 'kind', 'label', 'confirmed', 'created_at', 'secret', 'credential_id', 'meta'])
      .expression((eb) =>
        eb
          .selectFrom('restjwt_user')
          .select([
            'id',
            this.text(values.kind).as('kind'),
            this.text(values.label).as('label'),
            this.bool(values.confirmed).as('confirmed'),
            this.instant(new Date(values.createdAt)).as('created_at'),
            this.text(values.secret).as('secret'),
            this.text(values.credentialId).as('credential_id'),
            this.text(values.meta).as('meta'),
          ])
          .where('id', '=', userId),
      );
    if (this.dialect === 'postgres') {
      const row = await insert.returning('id').executeTakeFirst();
      return row === undefined ? undefined : String(row.id);
    }
    const result = await insert.executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1 && result.insertId !== undefined ? String(result.insertId) : undefined;
  }

  listFactors(userId: string) {
    return this.db.selectFrom('restjwt_factor').select(FACTOR_COLUMNS).where('user_id', '=', userId).orderBy('id').execute();
  }

  factorByCredential(credentialId: string) {
    return this.db.selectFrom('restjwt_factor').select(FACTOR_COLUMNS).where('credential_id', '=', credentialId).executeTakeFirst();
  }

  /** Confirms `userId`'s unconfirmed factor; true when this call did (so the row matched is the row changed). */
  async confirmFactor(userId: string, factorId: string, db: Db = this.db): Promise<boolean> {
    const result = await db
      .updateTable('restjwt_factor')
      .set({ confirmed: true })
      .where('id', '=', factorId)
      .where('user_id', '=', userId)
      .where('confirmed', '=', false)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * One use of the factor, as one conditional update (`acceptsCounter` in SQL): the row lock orders concurrent uses,
   * and each later one evaluates the condition again on the committed row (PostgreSQL re-checks the updated row,
   * InnoDB's update reads the latest version), so of uses with one counter one matches. A counter of 0 is decided
   * here rather than as a `? = 0` parameter, which PostgreSQL would type as integer (a WebAuthn count may exceed it).
   * MariaDB/MySQL count matched rows (FOUND_ROWS), so a 0-after-0 use that changes no value still counts.
   */
  async useFactor(factorId: string, counter: number, at: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('restjwt_factor')
      .set({ counter, last_used_at: at })
      .where('id', '=', factorId)
      // Raw, as the column reads as a decimal string but compares as the number it is.
      .where(counter === 0 ? sql<boolean>`${sql.ref('counter')} = 0` : sql<boolean>`${sql.ref('counter')} < ${counter}`)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Deletes `userId`'s factor; true when this call did. */
  async deleteFactor(userId: string, factorId: string, db: Db = this.db): Promise<boolean> {
    const result = await db.deleteFrom('restjwt_factor').where('id', '=', factorId).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  /** Deletes every factor and recovery code of `userId` inside `trx`; the factors deleted. */
  async deleteFactors(trx: Trx, userId: string): Promise<number> {
    const result = await trx.deleteFrom('restjwt_factor').where('user_id', '=', userId).executeTakeFirst();
    await trx.deleteFrom('restjwt_recovery_code').where('user_id', '=', userId).execute();
    return Number(result.numDeletedRows);
  }

  /**
   * Locks the user's row until `trx` ends, so that two replacements of one user's recovery codes take turns (each
   * would otherwise delete only the codes it saw and leave the other's); false when there is no such user. On
   * PostgreSQL `FOR NO KEY UPDATE`, which the foreign-key checks of rows added for the user do not wait for.
   */
  async lockUser(trx: Trx, userId: string): Promise<boolean> {
    const query = trx.selectFrom('restjwt_user').select('id').where('id', '=', userId);
    const row = await (this.dialect === 'postgres' ? query.forNoKeyUpdate() : query.forUpdate()).executeTakeFirst();
    return row !== undefined;
  }

  /** Replaces `userId`'s recovery codes by `hashes` inside `trx` (with the user locked: {@link lockUser}). */
  async replaceRecoveryCodes(trx: Trx, userId: string, hashes: readonly string[]): Promise<void> {
    await trx.deleteFrom('restjwt_recovery_code').where('user_id', '=', userId).execute();
    if (hashes.length === 0) return;
    await trx
      .insertInto('restjwt_recovery_code')
      .values(hashes.map((hash) => ({ user_id: userId, code_hash: hash })))
      .execute();
  }

  /** Deletes one recovery code by its key; true only for the call that deleted it (concurrent ones find it gone). */
  async deleteRecoveryCode(userId: string, hash: string, db: Db = this.db): Promise<boolean> {
    const result = await db.deleteFrom('restjwt_recovery_code').where('user_id', '=', userId).where('code_hash', '=', hash).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async countRecoveryCodes(userId: string): Promise<number> {
    const row = await this.db
      .selectFrom('restjwt_recovery_code')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  // --- audit log -------------------------------------------------------------------------------------------------

  /** Writes one event, on its own or inside the transaction of the change it records (`db`). */
  async insertAudit(db: Db, values: AuditValues): Promise<void> {
    await db.insertInto('restjwt_audit_event').values(auditColumns(values)).execute();
  }

  /** Up to `limit + 1` events matching `filter`, newest (highest id) first. */
  listAudit(filter: AuditFilter) {
    let query = this.db
      .selectFrom('restjwt_audit_event')
      .select(AUDIT_COLUMNS)
      .orderBy('id', 'desc')
      .limit(filter.limit + 1);
    const { user, type, since, until, beforeId } = filter;
    // Both sides of the OR have an index (user_id, id) / (username, id), so the database can merge them.
    if (user !== undefined) query = query.where((eb) => eb.or([eb('user_id', '=', user), eb('username', '=', user)]));
    if (type !== undefined) query = query.where('type', '=', type);
    if (since !== undefined) query = query.where('at', '>=', new Date(since));
    if (until !== undefined) query = query.where('at', '<', new Date(until));
    if (beforeId !== undefined) query = query.where('id', '<', String(beforeId));
    return query.execute();
  }

  /**
   * Events per type and bucket of `bucketMs` from `since` (inclusive) to `until` (exclusive), in one grouping query,
   * by bucket then type. The bucket is computed in whole milliseconds on both databases: on PostgreSQL the epoch is
   * rounded to the millisecond before the integer division (extract() is a float before PostgreSQL 14, and a
   * boundary must not fall into the previous bucket), on MariaDB/MySQL TIMESTAMPDIFF counts exact microseconds.
   */
  countAudit(range: { since: number; until: number; bucketMs: number }) {
    const { since, until, bucketMs } = range;
    // The difference is never negative (at >= since), so integer division is the floor.
    const bucket =
      this.dialect === 'postgres'
        ? sql<string>`(cast(round(extract(epoch from at) * 1000) as bigint) - cast(${since} as bigint)) / cast(${bucketMs} as bigint)`
        : sql<string>`timestampdiff(microsecond, ${new Date(since)}, at) div ${bucketMs * 1000}`;
    // PostgreSQL: the byte order of the type names, as MariaDB's binary collation and the other stores sort them.
    const byType = this.dialect === 'postgres' ? sql`type collate "C"` : sql`type`;
    return this.db
      .selectFrom('restjwt_audit_event')
      .select((eb) => ['type', bucket.as('bucket'), eb.fn.countAll<string>().as('count')])
      .where('at', '>=', new Date(since))
      .where('at', '<', new Date(until))
      // By the output names: the bucket expression's parameters would not match a repeated expression's.
      .groupBy([sql`bucket`, 'type'])
      .orderBy(sql`bucket`)
      .orderBy(byType)
      .execute();
  }

  /** Deletes the lowest ids of up to `limit` events before `before` (the delete checks again, as `flushTokenBatch`). */
  async flushAuditBatch(trx: Trx, before: Date, limit: number): Promise<number> {
    const ids = await trx.selectFrom('restjwt_audit_event').select('id').where('at', '<', before).orderBy('id').limit(limit).execute();
    if (ids.length === 0) return 0;
    const result = await trx
      .deleteFrom('restjwt_audit_event')
      .where(
        'id',
        'in',
        ids.map((row) => String(row.id)),
      )
      .where('at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // --- building blocks -------------------------------------------------------------------------------------------

  /** A table of this store's schema, for raw SQL (Kysely's `withSchema` does not reach into `sql` templates). */
  tableRef(name: keyof RestJwtDatabase & string): RawBuilder<unknown> {
    return sql.table(this.schema === undefined ? name : `${this.schema}.${name}`);
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
    return (await this.insertedRows(insert, conflict)) === 1;
  }

  /** The rows an insert-if-absent (see {@link insertIfAbsent}) inserted. */
  private async insertedRows<T extends keyof RestJwtDatabase & string>(
    insert: InsertQueryBuilder<RestJwtDatabase, T, InsertResult>,
    conflict: readonly (keyof RestJwtDatabase[T] & string)[],
  ): Promise<number> {
    const result =
      this.dialect === 'postgres'
        ? await insert.onConflict((oc) => oc.columns(conflict).doNothing()).executeTakeFirst()
        : await insert.ignore().executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n);
  }

  /** An instant as a select-list value: PostgreSQL cannot infer a parameter's type there, so it is cast. */
  private instant(date: Date): RawBuilder<Date> {
    return this.dialect === 'postgres' ? sql<Date>`cast(${date} as timestamptz)` : sql<Date>`${date}`;
  }

  /** A text (or null) select-list value, typed for PostgreSQL as {@link instant} is. */
  private text(value: string | null): RawBuilder<string | null> {
    return this.dialect === 'postgres' ? sql<string | null>`cast(${value} as text)` : sql<string | null>`${value}`;
  }

  /** A boolean select-list value, typed for PostgreSQL as {@link instant} is. */
  private bool(value: boolean): RawBuilder<boolean> {
    return this.dialect === 'postgres' ? sql<boolean>`cast(${value} as boolean)` : sql<boolean>`${value}`;
  }
}

/** A token of the session's family (`s`) that is neither blacklisted nor expired at `now`. */
function liveToken(eb: SessionScope, now: Date) {
  return eb
    .selectFrom('restjwt_outstanding_token as o')
    .select('o.id')
    .whereRef('o.family_id', '=', 's.family_id')
    .where('o.expires_at', '>', now)
    .where('o.blacklisted_at', 'is', null);
}
