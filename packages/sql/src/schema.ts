/**
 * The restjwt tables as Kysely sees them, on PostgreSQL and on MariaDB/MySQL alike. Identifiers are BIGINT columns
 * read as decimal strings (pg's int8 parser, mysql2's `bigNumberStrings`); times are `timestamptz` / `datetime(3)`
 * in UTC; booleans are `boolean` / `tinyint(1)` read as booleans.
 */
import type { ColumnType, Generated } from 'kysely';

export interface UserTable {
  id: Generated<string>;
  username: string;
  email: ColumnType<string, string | undefined, string>;
  password: string;
  is_active: ColumnType<boolean, boolean | undefined, boolean>;
  is_staff: ColumnType<boolean, boolean | undefined, boolean>;
  last_login: ColumnType<Date | null, Date | null | undefined, Date | null>;
  date_joined: ColumnType<Date, Date, never>;
  token_version: string;
}

export interface OutstandingTokenTable {
  id: Generated<string>;
  jti: ColumnType<string, string, never>;
  /** Null when the token's user is unknown (simplejwt records such tokens too). */
  user_id: ColumnType<string | null, string | null, never>;
  token_type: ColumnType<'refresh' | 'sliding', 'refresh' | 'sliding', never>;
  family_id: ColumnType<string | null, string | null, never>;
  created_at: ColumnType<Date, Date, never>;
  expires_at: ColumnType<Date, Date, never>;
  /** The successor `rotate` recorded (migration 0002_families). */
  replaced_by: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the token was blacklisted; null while it is live (migration 0005_token_state: one row per token). */
  blacklisted_at: ColumnType<Date | null, Date | null | undefined, Date>;
}

/** Revoked access tokens (migration 0003_revoked_access). */
export interface RevokedAccessTable {
  id: Generated<string>;
  jti: ColumnType<string, string, never>;
  expires_at: ColumnType<Date, Date, never>;
}

/** Login sessions: one per refresh-token family (migration 0004_sessions_identities). */
export interface SessionTable {
  id: Generated<string>;
  family_id: ColumnType<string, string, never>;
  user_id: ColumnType<string, string, never>;
  created_at: ColumnType<Date, Date, never>;
  last_used_at: ColumnType<Date, Date, Date>;
  client_address: ColumnType<string | null, string | null, string | null>;
  user_agent: ColumnType<string | null, string | null, string | null>;
}

/** Accounts at social login providers linked to users; (provider, subject) is unique (migration 0004_sessions_identities). */
export interface IdentityTable {
  id: Generated<string>;
  provider: ColumnType<string, string, never>;
  subject: ColumnType<string, string, never>;
  user_id: ColumnType<string, string, never>;
  email: ColumnType<string | null, string | null, string | null>;
  created_at: ColumnType<Date, Date, never>;
  last_used_at: ColumnType<Date, Date, Date>;
}

/** Single-use values (OAuth state, one-time login codes); `key` is unique (migration 0004_sessions_identities). */
export interface OneTimeTable {
  id: Generated<string>;
  key: ColumnType<string, string, never>;
  value: ColumnType<string, string, never>;
  expires_at: ColumnType<Date, Date, never>;
}

/**
 * The audit log (migration 0006_audit): one row per security event, never changed once written. `user_id` and
 * `actor_id` are text without a foreign key: the user may be unknown (a failed login) or deleted later, and the
 * event stays. `detail` is JSON object text.
 */
export interface AuditEventTable {
  id: Generated<string>;
  type: ColumnType<string, string, never>;
  at: ColumnType<Date, Date, never>;
  user_id: ColumnType<string | null, string | null, never>;
  username: ColumnType<string | null, string | null, never>;
  actor_id: ColumnType<string | null, string | null, never>;
  family_id: ColumnType<string | null, string | null, never>;
  client_address: ColumnType<string | null, string | null, never>;
  user_agent: ColumnType<string | null, string | null, never>;
  detail: ColumnType<string, string, never>;
}

/**
 * Second factors (migration 0007_factors): TOTP apps and WebAuthn credentials, deleted with their user.
 * `credential_id` (WebAuthn only) is unique across users; `counter` is the last accepted TOTP step or signature count.
 */
export interface FactorTable {
  id: Generated<string>;
  user_id: ColumnType<string, string, never>;
  kind: ColumnType<string, string, never>;
  label: ColumnType<string, string, never>;
  confirmed: ColumnType<boolean, boolean, boolean>;
  created_at: ColumnType<Date, Date, never>;
  last_used_at: ColumnType<Date | null, Date | null | undefined, Date>;
  secret: ColumnType<string, string, never>;
  credential_id: ColumnType<string | null, string | null, never>;
  counter: ColumnType<string, number | undefined, number>;
  meta: ColumnType<string, string, never>;
}

/** Hashes of a user's unspent recovery codes, keyed by (user_id, code_hash) (migration 0007_factors). */
export interface RecoveryCodeTable {
  user_id: ColumnType<string, string, never>;
  code_hash: ColumnType<string, string, never>;
}

/** The database restjwt's SQL store reads and writes. */
export interface RestJwtDatabase {
  restjwt_user: UserTable;
  restjwt_outstanding_token: OutstandingTokenTable;
  restjwt_revoked_access: RevokedAccessTable;
  restjwt_session: SessionTable;
  restjwt_identity: IdentityTable;
  restjwt_one_time: OneTimeTable;
  restjwt_audit_event: AuditEventTable;
  restjwt_factor: FactorTable;
  restjwt_recovery_code: RecoveryCodeTable;
}
