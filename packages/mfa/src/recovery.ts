/**
 * Recovery codes: ten single-use codes, shown once when generated, for the day the phone or the key is lost. The store
 * keeps only a keyed hash of each (HMAC-SHA-256 under a key derived from `encryptionKey`): a copy of the database
 * cannot be turned back into codes, not even by trying all 2^50 of them, without the key.
 */
import { createHmac, randomInt } from 'node:crypto';

/** How many codes one generation gives. */
export const RECOVERY_CODE_COUNT = 10;
/**
 * Crockford's base32 alphabet: digits and lower-case letters without i, l, o and u, so nothing reads as another
 * character. 32 symbols: 5 bits each.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** Two groups of five: 10 symbols, 50 bits. */
const GROUP = 5;
const GROUPS = 2;
const LENGTH = GROUP * GROUPS;

/** New codes, formatted for reading (`xxxxx-xxxxx`), distinct. */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  const codes = new Set<string>();
  while (codes.size < count) {
    let raw = '';
    // randomInt draws without modulo bias.
    for (let i = 0; i < LENGTH; i++) raw += ALPHABET[randomInt(ALPHABET.length)];
    codes.add(`${raw.slice(0, GROUP)}-${raw.slice(GROUP)}`);
  }
  return [...codes];
}

/**
 * A code as the user typed it, reduced to its symbols: case, dashes and spaces ignored, and the look-alikes Crockford
 * maps (i and l → 1, o → 0) read as what they look like. Null when it cannot be a code.
 */
export function normalizeRecoveryCode(input: string): string | null {
  const symbols = input.toLowerCase().replace(/[\s-]+/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  if (symbols.length !== LENGTH) return null;
  for (const c of symbols) if (!ALPHABET.includes(c)) return null;
  return symbols;
}

/** The stored form of a normalized code: HMAC-SHA-256 under `key`, hex. */
export function hashRecoveryCode(key: Buffer, normalized: string): string {
  return createHmac('sha256', key).update(normalized, 'utf8').digest('hex');
}
