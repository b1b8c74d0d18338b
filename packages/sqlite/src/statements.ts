/**
 * Every SQL statement and transaction the SQLite store runs, prepared once per connection (when the schema exists),
 * and the parameters they take. Times are integer milliseconds; booleans are 0/1.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { type AuditRow, type AuditValues, type BlacklistResult, type FactorRow, type NewFactorValues, type ImportUserResult, type OutstandingToken, type RotateResult, type UnlinkOptions, type UnlinkResult, type UserRecord, type IdentityRow, type OutstandingStateRow, type SessionRow, type TokenListingRow, type UserRow, integerIdParser, toMillis, withRevoked, type SessionUseValues, unlinkVerdict, type UserChange } from '@restjwt/core/store-kit';

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
/** username, email, password, is active, is staff, date joined, token version. */
export type NewUserParams = [string, string, string, number, number, number, string];
/** `listAudit`'s filters as bound: null leaves a filter out; `fetch` is the page size plus one. */
export type AuditListParams = { user: string | null; type: string | null; since: number | null; until: number | null; beforeId: number; fetch: number };
/** `listAudit`'s statements: by user (`user_id` or `username`), or over every event. */
export type AuditListing = 'user' | 'all';
/** A new factor as `addFactor` binds it (see {@link factorParams}). */
export type FactorParams = {
  userId: number;
  kind: string;
  label: string;
  confirmed: number;
  createdAt: number;
  secret: string;
  credentialId: string | null;
  meta: string;
};
/** A single-row change and its audit event, written only when a row changed; true when one did. */
type ChangeAudited<P extends unknown[]> = BetterSqlite3.Transaction<(params: P, audit: AuditValues | undefined) => boolean>;
type SqliteFactorRow = FactorRow & { id: number; user_id: number; confirmed: number; created_at: number; last_used_at: number | null; counter: number };

/** Every statement and transaction the store runs. */
export interface Prepared {
  userById: Stmt<[number], SqliteUserRow>;
  userByUsername: Stmt<[string], SqliteUserRow>;
  userByEmail: Stmt<[string], SqliteUserRow>;
  createUser: BetterSqlite3.Transaction<(user: NewUserParams, audit: AuditValues | undefined) => SqliteUserRow>;
  updateUser: Stmt<[UserChangeParams]>;
  /** `updateUser` and its audit event, written only when a row changed. */
  updateUserAudited: BetterSqlite3.Transaction<(change: UserChangeParams, audit: AuditValues) => void>;
  importUser: BetterSqlite3.Transaction<(id: number, user: UserRecord, lastLogin: number | null, dateJoined: number) => ImportUserResult>;
  revokeAccess: Stmt<[string, number]>;
  isAccessRevoked: Stmt<[string], number>;
  flushRevokedAccess: Stmt<[number]>;
  findOutstanding: Stmt<[string], OutstandingStateRow>;
  revokeFamily: BetterSqlite3.Transaction<(familyId: string, now: number, audit: AuditValues | undefined) => number>;
  revokeUser: BetterSqlite3.Transaction<(userId: number, now: number, audit: AuditValues | undefined) => number>;
  listUsers: Stmt<[number, number], SqliteUserRow>;
  insertOutstanding: Stmt<OutstandingParams>;
  /** `insertOutstanding` and its audit event, written only when the jti was new. */
  recordOutstandingAudited: BetterSqlite3.Transaction<(token: OutstandingParams, audit: AuditValues) => void>;
  insertBlacklist: Stmt<[number, number]>;
  isBlacklisted: Stmt<[string], number>;
  countTokens: Stmt<[], { outstanding: number; blacklisted: number }>;
  listBlacklisted: Stmt<[number, number, number, number], { id: number; jti: string; expires_at: number }>;
  blacklist: BetterSqlite3.Transaction<(token: OutstandingParams, now: number, audit: AuditValues | undefined) => BlacklistResult>;
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
  unlinkIdentity: BetterSqlite3.Transaction<
    (userId: number, provider: string, subject: string, options: UnlinkOptions | undefined, audit: AuditValues | undefined) => UnlinkResult
  >;
  listIdentities: Stmt<[number], IdentityRow>;
  putOneTime: Stmt<[string, string, number]>;
  takeOneTime: Stmt<[string], { value: string; expires_at: number }>;
  flushOneTime: Stmt<[number]>;
  flushSessionBatch: BetterSqlite3.Transaction<(limit: number) => number>;
  // The audit log (migration 0005_audit_log).
  insertAudit: Stmt<[AuditValues]>;
  listAudit: Record<AuditListing, Stmt<[AuditListParams], AuditRow>>;
  countAudit: Stmt<[{ since: number; until: number; bucketMs: number }], { type: string; bucket: number; count: number }>;
  flushAuditBatch: BetterSqlite3.Transaction<(before: number, limit: number) => number>;
  // Second factors (migration 0006_factors).
  /** The new row, or undefined when the user does not exist (nothing inserted). */
  addFactor: BetterSqlite3.Transaction<(factor: FactorParams, audit: AuditValues | undefined) => SqliteFactorRow | undefined>;
  listFactors: Stmt<[number], SqliteFactorRow>;
  findFactorByCredential: Stmt<[string], SqliteFactorRow>;
  /** Each of these takes (user id, factor id) or (user id, code hash) and answers whether it changed a row. */
  confirmFactor: ChangeAudited<[number, number]>;
  useFactor: Stmt<[{ id: number; counter: number; at: number }]>;
  removeFactor: ChangeAudited<[number, number]>;
  removeFactors: BetterSqlite3.Transaction<(userId: number, audit: AuditValues | undefined) => number>;
  /** False when the user does not exist (nothing changed). */
  setRecoveryCodes: BetterSqlite3.Transaction<(userId: number, hashes: readonly string[], audit: AuditValues | undefined) => boolean>;
  useRecoveryCode: ChangeAudited<[number, string]>;
  countRecoveryCodes: Stmt<[number], number>;
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

/** A checked new factor (see `newFactorValues`) as `addFactor` binds it, for the user row `userId`. */
export function factorParams(userId: number, factor: NewFactorValues): FactorParams {
  return {
    userId,
    kind: factor.kind,
    label: factor.label,
    confirmed: factor.confirmed ? 1 : 0,
    createdAt: factor.createdAt,
    secret: factor.secret,
    credentialId: factor.credentialId,
    meta: factor.meta,
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
  // Opened with migrate: false on an older schema (before 0002_families … 0006_factors): wait for `restjwt migrate`.
  const columns = db.prepare<[], string>(`SELECT name FROM pragma_table_info('restjwt_outstanding_token')`).pluck().all();
  if (!columns.includes('replaced_by')) return null;
  const later = db
    .prepare<[], number>(
      `SELECT count(*) FROM sqlite_master WHERE type = 'table'
         AND name IN ('restjwt_revoked_access', 'restjwt_session', 'restjwt_identity', 'restjwt_one_time', 'restjwt_audit_event',
                      'restjwt_factor', 'restjwt_recovery_code')`,
    )
    .pluck()
    .get();
  if (later !== 7) return null;
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
  const insertUser = db.prepare<NewUserParams, SqliteUserRow>(
    `INSERT INTO restjwt_user (username, email, password, is_active, is_staff, last_login, date_joined, token_version)
     VALUES (?, ?, ?, ?, ?, NULL, ?, ?) RETURNING *`,
  );
  const updateUser = db.prepare<[UserChangeParams]>(
    `UPDATE restjwt_user
     SET password = coalesce(@password, password), is_active = coalesce(@isActive, is_active),
         last_login = coalesce(@lastLogin, last_login), token_version = coalesce(@tokenVersion, token_version)
     WHERE id = @id`,
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

  // The audit log.
  const insertAudit = db.prepare<[AuditValues]>(
    `INSERT INTO restjwt_audit_event (type, at, user_id, username, actor_id, family_id, client_address, user_agent, detail)
     VALUES (@type, @at, @userId, @username, @actorId, @familyId, @clientAddress, @userAgent, @detail)`,
  );
  /** Writes the event of a change that happened, in the change's transaction (the caller's). */
  const writeAudit = (audit: AuditValues | undefined): void => {
    if (audit !== undefined) insertAudit.run(audit);
  };
  const auditColumns = 'id, type, at, user_id, username, actor_id, family_id, client_address, user_agent, detail';
  // The cursor is always bound (a first page starts below any id), so every page walks the id order from it.
  const auditWhere = `id < @beforeId AND (@type IS NULL OR type = @type)
       AND (@since IS NULL OR at >= @since) AND (@until IS NULL OR at < @until)`;
  const auditArm = (column: string) =>
    `SELECT * FROM (SELECT ${auditColumns} FROM restjwt_audit_event WHERE ${column} = @user AND ${auditWhere} ORDER BY id DESC LIMIT @fetch)`;
  const listAudit: Prepared['listAudit'] = {
    // One walk per index, each stopping at a page, merged: an OR would read every event of the user to sort them.
    // UNION (not ALL) keeps one copy of an event whose user_id and username are both the value.
    user: db.prepare<[AuditListParams], AuditRow>(`${auditArm('user_id')} UNION ${auditArm('username')} ORDER BY id DESC LIMIT @fetch`),
    all: db.prepare<[AuditListParams], AuditRow>(
      `SELECT ${auditColumns} FROM restjwt_audit_event WHERE ${auditWhere} ORDER BY id DESC LIMIT @fetch`,
    ),
  };
  const flushAudit = db.prepare<[number, number]>(
    `DELETE FROM restjwt_audit_event WHERE id IN (SELECT id FROM restjwt_audit_event WHERE at < ? LIMIT ?)`,
  );

  // Second factors.
  const insertFactor = db.prepare<[FactorParams], SqliteFactorRow>(
    // INSERT … SELECT from the user: an unknown user inserts nothing (instead of failing the foreign key). A taken
    // credential id fails the unique index, which the store reports as CredentialExistsError.
    `INSERT INTO restjwt_factor (user_id, kind, label, confirmed, created_at, last_used_at, secret, credential_id, counter, meta)
     SELECT id, @kind, @label, @confirmed, @createdAt, NULL, @secret, @credentialId, 0, @meta FROM restjwt_user WHERE id = @userId
     RETURNING *`,
  );
  const deleteFactorsOf = db.prepare<[number]>('DELETE FROM restjwt_factor WHERE user_id = ?');
  const deleteRecoveryCodesOf = db.prepare<[number]>('DELETE FROM restjwt_recovery_code WHERE user_id = ?');
  const insertRecoveryCode = db.prepare<[number, string]>('INSERT INTO restjwt_recovery_code (user_id, code_hash) VALUES (?, ?)');
  /** A single-row change (`sql`) whose audit event is written in its transaction, only when it changed the row. */
  const changeAudited = <P extends unknown[]>(sql: string): ChangeAudited<P> => {
    const change = db.prepare<P>(sql);
    return db.transaction((params: P, audit: AuditValues | undefined): boolean => {
      if (change.run(...params).changes !== 1) return false;
      writeAudit(audit);
      return true;
    });
  };

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
    createUser: db.transaction((values: NewUserParams, audit: AuditValues | undefined): SqliteUserRow => {
      const row = insertUser.get(...values);
      if (row === undefined) throw new Error('INSERT ... RETURNING returned no row');
      // The event is about the user just created: its id is known only now.
      if (audit !== undefined) writeAudit({ ...audit, userId: String(row.id), username: row.username });
      return row;
    }),
    updateUser,
    updateUserAudited: db.transaction((change: UserChangeParams, audit: AuditValues): void => {
      if (updateUser.run(change).changes === 1) writeAudit(audit);
    }),
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
    revokeFamily: db.transaction((familyId: string, now: number, audit: AuditValues | undefined): number => {
      const revoked = revokeFamily.run(now, familyId).changes;
      if (audit !== undefined) writeAudit(withRevoked(audit, revoked));
      return revoked;
    }),
    revokeUser: db.transaction((userId: number, now: number, audit: AuditValues | undefined): number => {
      const revoked = revokeUser.run(now, userId).changes;
      if (audit !== undefined) writeAudit(withRevoked(audit, revoked));
      return revoked;
    }),
    listUsers: db.prepare<[number, number], SqliteUserRow>(`${user} ORDER BY id LIMIT ? OFFSET ?`),
    insertOutstanding,
    recordOutstandingAudited: db.transaction((token: OutstandingParams, audit: AuditValues): void => {
      if (insertOutstanding.run(...token).changes === 1) writeAudit(audit);
    }),
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
    blacklist: db.transaction((token: OutstandingParams, now: number, audit: AuditValues | undefined): BlacklistResult => {
      if (blacklistRow(token, now) === undefined) return 'already_blacklisted';
      writeAudit(audit);
      return 'blacklisted';
    }),
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
    unlinkIdentity: db.transaction(
      (userId: number, provider: string, subject: string, options: UnlinkOptions | undefined, audit: AuditValues | undefined): UnlinkResult => {
        // Run with .immediate(): the write lock is taken before the reads, so another process's unlink waits for it.
        const verdict = unlinkVerdict(passwordOf.get(userId) ?? null, identitiesOf.all(userId), provider, subject, options);
        if (verdict !== 'remove') return verdict;
        deleteIdentity.run(userId, provider, subject);
        writeAudit(audit);
        return 'unlinked';
      },
    ),
    listIdentities: identitiesOf,
    putOneTime: db.prepare<[string, string, number]>(
      `INSERT INTO restjwt_one_time ("key", value, expires_at) VALUES (?, ?, ?) ON CONFLICT ("key") DO NOTHING`,
    ),
    takeOneTime: db.prepare<[string], { value: string; expires_at: number }>(
      `DELETE FROM restjwt_one_time WHERE "key" = ? RETURNING value, expires_at`,
    ),
    flushOneTime: db.prepare<[number]>('DELETE FROM restjwt_one_time WHERE expires_at < ?'),
    flushSessionBatch: db.transaction((limit: number): number => deadSessions.run(limit).changes),
    insertAudit,
    listAudit,
    countAudit: db.prepare<[{ since: number; until: number; bucketMs: number }], { type: string; bucket: number; count: number }>(
      // Integer arithmetic (times are bound as reals): the division truncates, which is floor for at >= since.
      `SELECT type, (at - CAST(@since AS INTEGER)) / CAST(@bucketMs AS INTEGER) AS bucket, count(*) AS count
       FROM restjwt_audit_event WHERE at >= @since AND at < @until
       GROUP BY type, bucket ORDER BY bucket, type`,
    ),
    flushAuditBatch: db.transaction((before: number, limit: number): number => flushAudit.run(before, limit).changes),
    addFactor: db.transaction((factor: FactorParams, audit: AuditValues | undefined): SqliteFactorRow | undefined => {
      const row = insertFactor.get(factor);
      if (row !== undefined) writeAudit(audit);
      return row;
    }),
    // By id: creation order, oldest first.
    listFactors: db.prepare<[number], SqliteFactorRow>('SELECT * FROM restjwt_factor WHERE user_id = ? ORDER BY id'),
    findFactorByCredential: db.prepare<[string], SqliteFactorRow>('SELECT * FROM restjwt_factor WHERE credential_id = ?'),
    confirmFactor: changeAudited<[number, number]>('UPDATE restjwt_factor SET confirmed = 1 WHERE user_id = ? AND id = ? AND confirmed = 0'),
    useFactor: db.prepare<[{ id: number; counter: number; at: number }]>(
      // acceptsCounter's rule in the WHERE: one statement decides, so of concurrent uses with one counter (in any
      // process) only the first changes the row.
      `UPDATE restjwt_factor SET counter = @counter, last_used_at = @at
       WHERE id = @id AND (counter < @counter OR (@counter = 0 AND counter = 0))`,
    ),
    removeFactor: changeAudited<[number, number]>('DELETE FROM restjwt_factor WHERE user_id = ? AND id = ?'),
    removeFactors: db.transaction((userId: number, audit: AuditValues | undefined): number => {
      const removed = deleteFactorsOf.run(userId).changes;
      deleteRecoveryCodesOf.run(userId);
      // A reset is recorded even when there was nothing to remove, as revokeUser is.
      writeAudit(audit);
      return removed;
    }),
    setRecoveryCodes: db.transaction((userId: number, hashes: readonly string[], audit: AuditValues | undefined): boolean => {
      // Checked inside the transaction, so the user cannot be deleted between the check and the inserts.
      if (usernameOf.get(userId) === undefined) return false;
      deleteRecoveryCodesOf.run(userId);
      for (const hash of hashes) insertRecoveryCode.run(userId, hash);
      writeAudit(audit);
      return true;
    }),
    // One DELETE decides: of concurrent spends of one code (in any process) only the one that deleted the row succeeds.
    useRecoveryCode: changeAudited<[number, string]>('DELETE FROM restjwt_recovery_code WHERE user_id = ? AND code_hash = ?'),
    countRecoveryCodes: db.prepare<[number], number>('SELECT count(*) FROM restjwt_recovery_code WHERE user_id = ?').pluck(),
  };
}
