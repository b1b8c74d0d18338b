/**
 * The second-factor rules every store applies, written once: a new factor's values checked (kinds, lengths, dates),
 * the counter rule of `useFactor`, recovery-code hashes checked, and the record made from a row.
 */
import type { FactorKind, FactorRecord, NewFactor } from '../../store/types.js';
import type { TimeValue } from './rows.js';
import { checkLength, toMillis } from './validate.js';

const KINDS: ReadonlySet<string> = new Set<FactorKind>(['totp', 'webauthn']);
/**
 * Credential ids (base64url) and recovery-code hashes (hex) are visible ASCII without spaces: every database then
 * compares them the same way (MariaDB's collations would refuse other characters and ignore trailing spaces).
 */
const ASCII_KEY = /^[\x21-\x7e]+$/;
export const MAX_FACTOR_LABEL = 100;
export const MAX_FACTOR_SECRET = 4000;
export const MAX_CREDENTIAL_ID = 1023;
export const MAX_FACTOR_META = 2000;
export const MAX_RECOVERY_CODES = 20;
export const MAX_RECOVERY_HASH = 128;

/** A {@link NewFactor} as a store writes it: time in ms, every value checked before anything is written. */
export interface NewFactorValues extends Omit<NewFactor, 'createdAt'> {
  createdAt: number;
}

/** Checks a new factor (RangeError naming the field), so that a bad one changes nothing. */
export function newFactorValues(factor: NewFactor): NewFactorValues {
  if (!KINDS.has(factor.kind)) throw new RangeError(`kind must be "totp" or "webauthn", got ${JSON.stringify(factor.kind)}`);
  checkLength(factor.label, MAX_FACTOR_LABEL, 'label');
  checkLength(factor.secret, MAX_FACTOR_SECRET, 'secret');
  checkLength(factor.meta, MAX_FACTOR_META, 'meta');
  if (factor.credentialId !== null) {
    if (!ASCII_KEY.test(factor.credentialId)) throw new RangeError('credentialId must be visible ASCII (base64url), not empty');
    checkLength(factor.credentialId, MAX_CREDENTIAL_ID, 'credentialId');
  }
  if ((factor.kind === 'webauthn') !== (factor.credentialId !== null)) throw new RangeError('a webauthn factor has a credentialId, a totp factor none');
  return { ...factor, createdAt: toMillis(factor.createdAt, 'createdAt') };
}

/** `useFactor`'s rule: a use is accepted when its counter is greater than the stored one, or both are 0. */
export function acceptsCounter(stored: number, next: number): boolean {
  return next > stored || (next === 0 && stored === 0);
}

/** `useFactor`'s counter, checked: a whole number from 0 up (a TOTP step, a WebAuthn sign count). */
export function checkCounter(counter: number): number {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`counter must be a non-negative whole number, got ${String(counter)}`);
  return counter;
}

/** `setRecoveryCodes`' hashes, checked: distinct, non-empty, at most 20 of at most 128 characters. */
export function checkRecoveryHashes(hashes: readonly string[]): readonly string[] {
  if (hashes.length > MAX_RECOVERY_CODES) throw new RangeError(`at most ${MAX_RECOVERY_CODES} recovery codes`);
  if (new Set(hashes).size !== hashes.length) throw new RangeError('recovery code hashes must be distinct');
  for (const hash of hashes) {
    if (!ASCII_KEY.test(hash)) throw new RangeError('a recovery code hash must be visible ASCII (hex), not empty');
    checkLength(hash, MAX_RECOVERY_HASH, 'recovery code hash');
  }
  return hashes;
}

/** A factor row as the SQL-backed stores read it. */
export interface FactorRow {
  id: string | number | bigint;
  user_id: string | number | bigint;
  kind: string;
  label: string;
  confirmed: boolean | number;
  created_at: TimeValue;
  last_used_at: TimeValue | null;
  secret: string;
  credential_id: string | null;
  counter: string | number | bigint;
  meta: string;
}

/** The contract's view of a factor row. */
export function factorFromRow(row: FactorRow): FactorRecord {
  return {
    id: String(row.id),
    userId: String(row.user_id),
    kind: row.kind as FactorKind,
    label: row.label,
    confirmed: Boolean(row.confirmed),
    createdAt: new Date(typeof row.created_at === 'string' && /^[0-9]+$/.test(row.created_at) ? Number(row.created_at) : row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(typeof row.last_used_at === 'string' && /^[0-9]+$/.test(row.last_used_at) ? Number(row.last_used_at) : row.last_used_at),
    secret: row.secret,
    credentialId: row.credential_id,
    counter: Number(row.counter),
    meta: row.meta,
  };
}
