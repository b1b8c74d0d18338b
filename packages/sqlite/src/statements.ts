/**
 * Every SQL statement and transaction the SQLite store runs, prepared once per connection (when the schema exists),
 * and the parameters they take. Times are integer milliseconds; booleans are 0/1.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { type BlacklistResult, type ImportUserResult, type OutstandingToken, type RotateResult, type UnlinkOptions, type UnlinkResult, type UserRecord, type IdentityRow, type OutstandingStateRow, type SessionRow, type TokenListingRow, type UserRow, integerIdParser, toMillis, type SessionUseValues, unlinkVerdict, type UserChange } from '@restjwt/core/store-kit';

/** User ids are canonical decimal integers (SQLite's INTEGER PRIMARY KEY); anything else matches no row. */
export const parseId = integerIdParser();

/** jti, user id, token type, family id, created at, expires at. */
export type OutstandingParams = [string, number | null, string, string | null, number, number];
type Stmt<P extends unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;
/** The successor's family, given the presented token's recorded one (see `successorFamily`). */
export type FamilyOf = (recorded: string | null) => string | null;
/** A {@link UserChange} as `updateUser` binds it: null leaves the column as it is. */
type UserChangeParams = { id: number; password: string | null; isActive: number | null; lastLogin: number | null; tokenVersion: string | null };
/** family id, created at, last used at, client address, user agent, user id. */
type SessionParams = [string, number, number, string | null, string | null, number];
/** provider, subject, email, created at, last used at, user id. */
type IdentityParams = [string, string, string | null, number, number, number];
/** `listTokens`'s filters: by user or not, and blacklisted (`yes`), live (`no`) or either (`any`). */
export type TokenFilter = `${'user' | 'all'}:${'yes' | 'no' | 'any'}`;
type SqliteUserRow = UserRow & { id: number; is_active: number; is_staff: number; last_login: number | null; date_joined: number };

/** Every statement and transaction the store runs. */
export interface Prepared {
  userById: Stmt<[number], SqliteUserRow>;
  userByUsername: Stmt<[string], SqliteUserRow>;
  userByEmail: Stmt<[string], SqliteUserRow>;
  insertUser: Stmt<[string, string, string, number, number, number, string], SqliteUserRow>;
  updateUser: Stmt<[UserChangeParams]>;
  importUser: BetterSqlite3.Transaction<(id: number, user: UserRecord, lastLogin: number | null, dateJoined: number) => ImportUserResult>;
  revokeAccess: Stmt<[string, number]>;
  isAccessRevoked: Stmt<[string], number>;
  flushRevokedAccess: Stmt<[number]>;
  findOutstanding: Stmt<[string], OutstandingStateRow>;
  revokeFamily: BetterSqlite3.Transaction<(familyId: string, now: number) => number>;
  revokeUser: BetterSqlite3.Transaction<(userId: number, now: number) => number>;
  listUsers: Stmt<[number, number], SqliteUserRow>;
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
  countLiveSessions: Stmt<[{ now: number }], number>;
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

/** A token as `insertOutstanding` binds it, validating the dates. */
export function tokenParams(token: OutstandingToken): OutstandingParams {
  return [
    token.jti,
    token.userId === null ? null : parseId(token.userId),
    token.tokenType,
    token.familyId,
    toMillis(token.createdAt, 'createdAt'),
    toMillis(token.expiresAt, 'expiresAt'),
  ];
}

/** A user change as `updateUser` binds it. */
export function userChangeParams(id: number, change: UserChange): UserChangeParams {
  return {
    id,
    password: change.passwordHash ?? null,
    isActive: change.isActive === undefined ? null : change.isActive ? 1 : 0,
    lastLogin: change.lastLogin ?? null,
    tokenVersion: change.tokenVersion ?? null,
  };
}

/**
 * Prepares every statement, or answers null while the restjwt schema is missing or older than this code (a store
 * opened with `migrate: false`, waiting for `restjwt migrate`).
 */
export function prepareStatements(db: BetterSqlite3.Database): Prepared | null {
  const tables = db
    .prepare<[], number>(
      `SELECT count(*) FROM sqlite_master WHERE type = 'table'
         AND name IN ('restjwt_user', 'restjwt_outstanding_token', 'restjwt_blacklisted_token')`,
    )
    .pluck()
    .get();
  if (tables !== 3) return null;
  // Opened with migrate: false on an older schema (before 0002_families … 0004_sessions_identities): wait for `restjwt migrate`.
  const columns = db.prepare<[], string>(`SELECT name FROM pragma_table_info('restjwt_outstanding_token')`).pluck().all();
  if (!columns.includes('replaced_by')) return null;
  const later = db
    .prepare<[], number>(
      `SELECT count(*) FROM sqlite_master WHERE type = 'table'
         AND name IN ('restjwt_revoked_access', 'restjwt_session', 'restjwt_identity', 'restjwt_one_time')`,
    )
    .pluck()
    .get();
  if (later !== 4) return null;
  return prepareAll(db);
}

function prepareAll(db: BetterSqlite3.Database): Prepared {
  const user = 'SELECT * FROM restjwt_user';
  const usernameOf = db.prepare<[number], string>('SELECT username FROM restjwt_user WHERE id = ?').pluck();
  const idOf = db.prepare<[string], number>('SELECT id FROM restjwt_user WHERE username = ?').pluck();
  const insertImported = db.prepare<[number, string, string, string, number, number, number | null, number, string]>(
    `INSERT INTO restjwt_user (id, username, email, password, is_active, is_staff, last_login, date_joined, token_version)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
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
    userById: db.prepare<[number], SqliteUserRow>(`${user} WHERE id = ?`),
    userByUsername: db.prepare<[string], SqliteUserRow>(`${user} WHERE username = ?`),
    userByEmail: db.prepare<[string], SqliteUserRow>(`${user} WHERE email = ? ORDER BY id LIMIT 1`),
    insertUser: db.prepare<[string, string, string, number, number, number, string], SqliteUserRow>(
      `INSERT INTO restjwt_user (username, email, password, is_active, is_staff, last_login, date_joined, token_version)
       VALUES (?, ?, ?, ?, ?, NULL, ?, ?) RETURNING *`,
    ),
    updateUser: db.prepare<[UserChangeParams]>(
      `UPDATE restjwt_user
       SET password = coalesce(@password, password), is_active = coalesce(@isActive, is_active),
           last_login = coalesce(@lastLogin, last_login), token_version = coalesce(@tokenVersion, token_version)
       WHERE id = @id`,
    ),
    importUser: db.transaction((id: number, u: UserRecord, lastLogin: number | null, dateJoined: number): ImportUserResult => {
      const byId = usernameOf.get(id);
      if (byId !== undefined) return byId === u.username ? 'exists' : 'conflict';
      if (idOf.get(u.username) !== undefined) return 'conflict';
      insertImported.run(id, u.username, u.email, u.passwordHash, u.isActive ? 1 : 0, u.isStaff ? 1 : 0, lastLogin, dateJoined, u.tokenVersion);
      return 'imported';
    }),
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
    listUsers: db.prepare<[number, number], SqliteUserRow>(`${user} ORDER BY id LIMIT ? OFFSET ?`),
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
    countLiveSessions: db.prepare<[{ now: number }], number>(`SELECT count(*) FROM restjwt_session s WHERE EXISTS (${liveToken})`).pluck(),
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
