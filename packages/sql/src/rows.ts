/** Values as the SQL store's tables take them: column sizes, ids, tokens and user changes, checked before writing. */
import { type AuditValues, type OutstandingToken, bigintId, checkLength, toMillis, type UserChange } from '@restjwt/core/store-kit';

/** Column sizes, checked before writing so that a long value gets a clear message on every database. */
export const MAX_USERNAME = 150;
export const MAX_EMAIL = 254;
export const MAX_PASSWORD_HASH = 255;
export const MAX_JTI = 255;
export const MAX_PROVIDER = 64;
export const MAX_SUBJECT = 255;
export const MAX_ONE_TIME_KEY = 255;
/** The audit log's id columns (`user_id`, `actor_id`, `family_id`); what only informs is clipped by `auditValues`. */
export const MAX_AUDIT_ID = 255;

/** User ids are canonical decimal integers within BIGINT; anything else matches no row. */
export const parseId = bigintId;

/**
 * The user columns, named rather than `*`: a prepared `SELECT *` fails ("cached plan must not change result type")
 * once another instance's migration adds a column.
 */
export const USER_COLUMNS = ['id', 'username', 'email', 'password', 'is_active', 'is_staff', 'last_login', 'date_joined', 'token_version'] as const;

/** The `restjwt_user` columns a {@link UserChange} sets. */
export type UserColumns = Partial<{ password: string; token_version: string; is_active: boolean; last_login: Date }>;

/** A user change as the columns it sets. */
export function userColumns(change: UserChange): UserColumns {
  const set: UserColumns = {};
  if (change.passwordHash !== undefined) set.password = change.passwordHash;
  if (change.tokenVersion !== undefined) set.token_version = change.tokenVersion;
  if (change.isActive !== undefined) set.is_active = change.isActive;
  if (change.lastLogin !== undefined) set.last_login = new Date(change.lastLogin);
  return set;
}

/** A token as the store writes it: lengths and dates checked, the user id as a BIGINT key (null: no such user). */
export interface TokenValues {
  jti: string;
  userId: string | null;
  tokenType: 'refresh' | 'sliding';
  familyId: string | null;
  createdAt: Date;
  expiresAt: Date;
}

export function tokenValues(token: OutstandingToken): TokenValues {
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

/** Refuses an audit event whose ids are longer than their columns, before the change it records is made. */
export function checkAuditIds(values: AuditValues): void {
  if (values.userId !== null) checkLength(values.userId, MAX_AUDIT_ID, 'audit userId');
  if (values.actorId !== null) checkLength(values.actorId, MAX_AUDIT_ID, 'audit actorId');
  if (values.familyId !== null) checkLength(values.familyId, MAX_AUDIT_ID, 'audit familyId');
}

/** An audit event's row (see `AuditEventTable`), from the values `auditValues` made. */
export function auditColumns(values: AuditValues) {
  return {
    type: values.type,
    at: new Date(values.at),
    user_id: values.userId,
    username: values.username,
    actor_id: values.actorId,
    family_id: values.familyId,
    client_address: values.clientAddress,
    user_agent: values.userAgent,
    detail: values.detail,
  };
}

/** The audit columns a listing reads, named (see {@link USER_COLUMNS} for why not `*`). */
export const AUDIT_COLUMNS = ['id', 'type', 'at', 'user_id', 'username', 'actor_id', 'family_id', 'client_address', 'user_agent', 'detail'] as const;

/** The factor columns a read returns, named (see {@link USER_COLUMNS} for why not `*`). */
export const FACTOR_COLUMNS = ['id', 'user_id', 'kind', 'label', 'confirmed', 'created_at', 'last_used_at', 'secret', 'credential_id', 'counter', 'meta'] as const;

/** Visible ASCII without spaces: what the ASCII key columns (`credential_id`, `code_hash`) hold. */
const ASCII_KEY = /^[\x21-\x7e]*$/;

/** True when `value` fits an ASCII key column; any other value names no row. */
export function isAsciiKey(value: string): boolean {
  return ASCII_KEY.test(value);
}

/**
 * Refuses a credential id or recovery-code hash the ASCII key columns cannot hold, before writing: MariaDB/MySQL
 * would refuse other characters (or compare `'a '` equal to `'a'`), PostgreSQL would not, and both must answer alike.
 * WebAuthn ids are base64url and code hashes hex or base64, so none is lost.
 */
export function checkAsciiKey(value: string, what: string): void {
  if (!isAsciiKey(value)) throw new RangeError(`${what} must be visible ASCII characters without spaces (base64url, hex)`);
}
