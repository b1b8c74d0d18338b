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
}

export interface BlacklistedTokenTable {
  id: Generated<string>;
  token_id: ColumnType<string, string, never>;
  blacklisted_at: ColumnType<Date, Date, never>;
}

/** Revoked access tokens (migration 0003_revoked_access). */
export interface RevokedAccessTable {
  id: Generated<string>;
  jti: ColumnType<string, string, never>;
  expires_at: ColumnType<Date, Date, never>;
}

/** The database restjwt's SQL store reads and writes. */
export interface RestJwtDatabase {
  restjwt_user: UserTable;
  restjwt_outstanding_token: OutstandingTokenTable;
  restjwt_blacklisted_token: BlacklistedTokenTable;
  restjwt_revoked_access: RevokedAccessTable;
}
