import { createHash, pbkdf2 as pbkdf2Callback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { importOptional } from '../optional-package.js';

// The async form runs on libuv's thread pool: 870k iterations would otherwise block the event loop for ~0.5 s.
const pbkdf2 = promisify(pbkdf2Callback);

/** The algorithm prefix Django writes for its default hasher, `PBKDF2PasswordHasher`. */
export const DJANGO_PBKDF2_ALGORITHM = 'pbkdf2_sha256';

// Django uses the digest size (dklen=None), so every hash it writes is 32 bytes.
const DIGEST_BYTES = 32;

// Node's pbkdf2 rejects iteration counts above int32; beyond that a stored value can only be corruption.
const MAX_ITERATIONS = 2 ** 31 - 1;

/** The parts of a Django `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` string. */
export interface DjangoPbkdf2Hash {
  /** PBKDF2 iteration count. */
  iterations: number;
  /** The salt exactly as Django stored it (a text salt, used as its UTF-8 bytes). */
  salt: string;
  /** The 32-byte derived key. */
  hash: Buffer;
}

/**
 * Parses a Django pbkdf2_sha256 hash string.
 *
 * @returns the parts, or `null` for anything that is not a well-formed pbkdf2_sha256 string (so callers can treat it
 *   as "does not verify" rather than as an error).
 */
export function parseDjangoPbkdf2(encoded: string): DjangoPbkdf2Hash | null {
  const parts = encoded.split('$');
  // Django never allows '$' in the salt and base64 has none, so exactly four fields.
  if (parts.length !== 4) return null;
  const [algorithm, iterationsText, salt, hashText] = parts as [string, string, string, string];
  if (algorithm !== DJANGO_PBKDF2_ALGORITHM) return null;
  if (!/^[1-9][0-9]{0,9}$/.test(iterationsText)) return null;
  const iterations = Number(iterationsText);
  if (iterations > MAX_ITERATIONS) return null;
  if (salt === '') return null;
  const hash = Buffer.from(hashText, 'base64');
  // Django compares the base64 text, so a non-canonical encoding could never have matched there either.
  if (hash.length !== DIGEST_BYTES || hash.toString('base64') !== hashText) return null;
  return { iterations, salt, hash };
}

/**
 * Verifies a password against a Django `pbkdf2_sha256$…` hash, as Django's `PBKDF2PasswordHasher.verify` does.
 *
 * @returns `false` for a wrong password and for a malformed hash; never throws for bad input.
 */
export async function verifyDjangoPbkdf2(encoded: string, password: string): Promise<boolean> {
  const parsed = parseDjangoPbkdf2(encoded);
  if (parsed === null) return false;
  try {
    const derived = await pbkdf2(
      Buffer.from(password, 'utf8'),
      Buffer.from(parsed.salt, 'utf8'),
      parsed.iterations,
      DIGEST_BYTES,
      'sha256',
    );
    // Constant-time so the comparison does not leak how many leading bytes matched.
    return timingSafeEqual(derived, parsed.hash);
  } catch {
    return false;
  }
}

/**
 * Encodes a password the way Django's `PBKDF2PasswordHasher.encode` does:
 * `pbkdf2_sha256$<iterations>$<salt>$<base64(pbkdf2_hmac('sha256', password, salt, iterations))>`.
 *
 * Used by tests and by importing/exporting Django users; new hashes made by this library are argon2id.
 *
 * @throws RangeError if `salt` is empty or contains `$`, or `iterations` is not a positive int32. The message never
 *   includes the password.
 */
export async function encodeDjangoPbkdf2(password: string, salt: string, iterations: number): Promise<string> {
  if (salt === '' || salt.includes('$')) {
    throw new RangeError('Django pbkdf2 salt must be non-empty and must not contain "$".');
  }
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`Django pbkdf2 iterations must be a positive integer up to ${MAX_ITERATIONS}.`);
  }
  const derived = await pbkdf2(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, DIGEST_BYTES, 'sha256');
  return `${DJANGO_PBKDF2_ALGORITHM}$${iterations}$${salt}$${derived.toString('base64')}`;
}

/** The prefixes of Django's two bcrypt hashers: `BCryptSHA256PasswordHasher` and `BCryptPasswordHasher`. */
export const DJANGO_BCRYPT_SHA256_ALGORITHM = 'bcrypt_sha256';
export const DJANGO_BCRYPT_ALGORITHM = 'bcrypt';

// A modular-crypt bcrypt string: $2a$/$2b$/$2y$, two-digit cost, 22 salt + 31 hash characters of bcrypt's base64.
const BCRYPT_MCF = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

/**
 * Verifies a password against a Django bcrypt hash:
 * - `bcrypt_sha256$<bcrypt>` (Django's `BCryptSHA256PasswordHasher`): bcrypt over the hex SHA-256 of the password, so
 *   that passwords longer than bcrypt's 72 bytes still count in full;
 * - `bcrypt$<bcrypt>` (`BCryptPasswordHasher`): bcrypt over the password itself.
 *
 * Uses bcryptjs (pure JavaScript, asynchronous in small slices so the event loop keeps turning).
 *
 * @returns `false` for a wrong password and for a malformed hash; never throws for bad input.
 */
export async function verifyDjangoBcrypt(encoded: string, password: string): Promise<boolean> {
  const dollar = encoded.indexOf('$');
  if (dollar <= 0) return false;
  const algorithm = encoded.slice(0, dollar);
  const mcf = encoded.slice(dollar + 1);
  if (!BCRYPT_MCF.test(mcf)) return false;
  let secret: string;
  if (algorithm === DJANGO_BCRYPT_SHA256_ALGORITHM) {
    secret = createHash('sha256').update(password, 'utf8').digest('hex');
  } else if (algorithm === DJANGO_BCRYPT_ALGORITHM) {
    secret = password;
  } else {
    return false;
  }
  // Loaded when a bcrypt hash is met (users imported from Django), and outside the try: not installed is not a wrong password.
  const bcrypt = await importOptional(() => import('bcryptjs'), 'verifying a Django bcrypt password hash', ['bcryptjs']);
  try {
    return await bcrypt.default.compare(secret, mcf);
  } catch {
    return false;
  }
}
