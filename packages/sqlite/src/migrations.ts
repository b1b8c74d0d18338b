import type BetterSqlite3 from 'better-sqlite3';

/** One schema step. `name` is recorded once applied, so it must never change after release. */
export interface Migration {
  name: string;
  /** Statements run in order, inside the migration transaction. */
  up: string[];
}

/** The table recording which migrations have been applied, by name. */
export const MIGRATIONS_TABLE = 'restjwt_migrations';

/**
 * The SQLite schema, oldest first. Append new migrations; never edit or reorder released ones.
 * Times are integer milliseconds since the epoch; booleans are 0/1.
 */
export const migrations: readonly Migration[] = [
  {
    name: '0001_initial',
    up: [
      `CREATE TABLE restjwt_user (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL DEFAULT '',
        password TEXT NOT NULL,
        is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        is_staff INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
        last_login INTEGER NULL,
        date_joined INTEGER NOT NULL,
        token_version TEXT NOT NULL
      )`,
      // Login may key on email (usernameField = 'email').
      `CREATE INDEX restjwt_user_email_idx ON restjwt_user (email)`,
      // Plain INTEGER PRIMARY KEY (no AUTOINCREMENT): token ids are internal, reuse after a flush is harmless.
      `CREATE TABLE restjwt_outstanding_token (
        id INTEGER PRIMARY KEY,
        jti TEXT NOT NULL,
        user_id INTEGER NULL REFERENCES restjwt_user (id) ON DELETE CASCADE,
        token_type TEXT NOT NULL CHECK (token_type IN ('refresh', 'sliding')),
        family_id TEXT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      )`,
      // Named (rather than an inline UNIQUE) so query plans and error messages are readable.
      `CREATE UNIQUE INDEX restjwt_outstanding_token_jti_uniq ON restjwt_outstanding_token (jti)`,
      `CREATE INDEX restjwt_outstanding_token_user_id_idx ON restjwt_outstanding_token (user_id)`,
      `CREATE INDEX restjwt_outstanding_token_expires_at_idx ON restjwt_outstanding_token (expires_at)`,
      `CREATE INDEX restjwt_outstanding_token_family_id_idx ON restjwt_outstanding_token (family_id)`,
      `CREATE TABLE restjwt_blacklisted_token (
        id INTEGER PRIMARY KEY,
        token_id INTEGER NOT NULL REFERENCES restjwt_outstanding_token (id) ON DELETE CASCADE,
        blacklisted_at INTEGER NOT NULL
      )`,
      // The uniqueness that makes blacklist/rotate atomic (INSERT ... ON CONFLICT DO NOTHING), and the index the
      // cascade from outstanding rows needs.
      `CREATE UNIQUE INDEX restjwt_blacklisted_token_token_id_uniq ON restjwt_blacklisted_token (token_id)`,
    ],
  },
  {
    // Refresh-token families: the successor `rotate` recorded, for reuse detection and the reuse interval.
    name: '0002_families',
    up: [`ALTER TABLE restjwt_outstanding_token ADD COLUMN replaced_by TEXT NULL`],
  },
  {
    // Revoked access tokens (setting revokeAccessTokens): refused by jti until they expire.
    name: '0003_revoked_access',
    up: [
      `CREATE TABLE restjwt_revoked_access (
        id INTEGER PRIMARY KEY,
        jti TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      )`,
      `CREATE UNIQUE INDEX restjwt_revoked_access_jti_uniq ON restjwt_revoked_access (jti)`,
      `CREATE INDEX restjwt_revoked_access_expires_at_idx ON restjwt_revoked_access (expires_at)`,
    ],
  },
  {
    // The optional capabilities: login sessions (refresh-token families) for the admin page, identities linked at a
    // social login provider, and single-use values (OAuth state, one-time login codes).
    name: '0004_sessions_identities',
    up: [
      `CREATE TABLE restjwt_session (
        id INTEGER PRIMARY KEY,
        family_id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES restjwt_user (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        client_address TEXT NULL,
        user_agent TEXT NULL
      )`,
      // One session per family: recordSession is an insert-if-absent on it.
      `CREATE UNIQUE INDEX restjwt_session_family_id_uniq ON restjwt_session (family_id)`,
      `CREATE INDEX restjwt_session_user_id_idx ON restjwt_session (user_id)`,
      `CREATE TABLE restjwt_identity (
        id INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        subject TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES restjwt_user (id) ON DELETE CASCADE,
        email TEXT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL
      )`,
      // The uniqueness that makes linkIdentity atomic: of concurrent links of one pair, one insert wins.
      `CREATE UNIQUE INDEX restjwt_identity_provider_subject_uniq ON restjwt_identity (provider, subject)`,
      `CREATE INDEX restjwt_identity_user_id_idx ON restjwt_identity (user_id)`,
      `CREATE TABLE restjwt_one_time (
        id INTEGER PRIMARY KEY,
        "key" TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      )`,
      `CREATE UNIQUE INDEX restjwt_one_time_key_uniq ON restjwt_one_time ("key")`,
      `CREATE INDEX restjwt_one_time_expires_at_idx ON restjwt_one_time (expires_at)`,
    ],
  },
  {
    // The audit log of security events (AuditStore), written in the transaction of the change it records.
    name: '0005_audit_log',
    up: [
      // AUTOINCREMENT: ids are the listing's cursor and order, so one is never reused after a flush. user_id is text
      // with no foreign key: the user may be unknown (a failed login) or deleted later, and the record must stay.
      `CREATE TABLE restjwt_audit_event (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        at INTEGER NOT NULL,
        user_id TEXT NULL,
        username TEXT NULL,
        actor_id TEXT NULL,
        family_id TEXT NULL,
        client_address TEXT NULL,
        user_agent TEXT NULL,
        detail TEXT NOT NULL
      )`,
      // countAudit's range and flushAudit's cutoff.
      `CREATE INDEX restjwt_audit_event_at_idx ON restjwt_audit_event (at)`,
      // listAudit by user, newest first: an index ends in the rowid (id), so each is (column, id) and a page is a
      // backward walk from the cursor.
      `CREATE INDEX restjwt_audit_event_user_id_idx ON restjwt_audit_event (user_id)`,
      `CREATE INDEX restjwt_audit_event_username_idx ON restjwt_audit_event (username)`,
    ],
  },
  {
    // Second factors and recovery codes (FactorStore, for @restjwt/mfa).
    name: '0006_factors',
    up: [
      // AUTOINCREMENT: a removed factor's id never names a later one (a confirmation or removal still in flight).
      `CREATE TABLE restjwt_factor (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES restjwt_user (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('totp', 'webauthn')),
        label TEXT NOT NULL,
        confirmed INTEGER NOT NULL CHECK (confirmed IN (0, 1)),
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NULL,
        secret TEXT NOT NULL,
        credential_id TEXT NULL,
        counter INTEGER NOT NULL DEFAULT 0,
        meta TEXT NOT NULL
      )`,
      // A WebAuthn credential belongs to one factor of one user; the index also answers the login lookup. NULLs (TOTP
      // factors) are distinct in a unique index.
      `CREATE UNIQUE INDEX restjwt_factor_credential_id_uniq ON restjwt_factor (credential_id)`,
      `CREATE INDEX restjwt_factor_user_id_idx ON restjwt_factor (user_id)`,
      // Only hashes are kept. WITHOUT ROWID: the key is the whole row, and it serves the per-user count and delete.
      `CREATE TABLE restjwt_recovery_code (
        user_id INTEGER NOT NULL REFERENCES restjwt_user (id) ON DELETE CASCADE,
        code_hash TEXT NOT NULL,
        PRIMARY KEY (user_id, code_hash)
      ) WITHOUT ROWID`,
    ],
  },
];

/** Names of the migrations recorded in `db` (empty when the migrations table does not exist yet). */
export function appliedMigrations(db: BetterSqlite3.Database): string[] {
  const exists = db
    .prepare<[string], number>(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`)
    .pluck()
    .get(MIGRATIONS_TABLE);
  if (!exists) return [];
  return db.prepare<[], string>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`).pluck().all();
}

/**
 * Applies the migrations of `list` that `db` has not recorded yet, in order, all in one IMMEDIATE transaction (so two
 * processes starting together cannot both apply one, and a failure leaves the schema as it was).
 *
 * @returns the names applied, `[]` when the schema was already current.
 */
export function migrate(db: BetterSqlite3.Database, list: readonly Migration[] = migrations): string[] {
  const run = db.transaction((): string[] => {
    db.exec(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL UNIQUE,
      applied_at INTEGER NOT NULL
    )`);
    const done = new Set(db.prepare<[], string>(`SELECT name FROM ${MIGRATIONS_TABLE}`).pluck().all());
    const record = db.prepare<[string, number], unknown>(`INSERT INTO ${MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)`);
    const applied: string[] = [];
    for (const migration of list) {
      if (done.has(migration.name)) continue;
      for (const statement of migration.up) db.exec(statement);
      record.run(migration.name, Date.now());
      applied.push(migration.name);
    }
    return applied;
  });
  return run.immediate();
}
