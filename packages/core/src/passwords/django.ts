import { fromBase64, timingSafeEqualBytes, toBase64, toHex } from '../bytes.js';
import { PasswordHashUnsupportedError } from '../errors.js';
import { importOptional } from '../optional-package.js';
import { isCloudflareWorkers } from '../runtime.js';

/** The algorithm prefix Django writes for its default hasher, `PBKDF2PasswordHasher`. */
export const DJANGO_PBKDF2_ALGORITHM = 'pbkdf2_sha256';

// Django uses the digest size (dklen=None), so every hash it writes is 32 bytes.
const DIGEST_BYTES = 32;

// Node's PBKDF2 takes at most int32 iterations; beyond that a stored value can only be corruption.
const MAX_ITERATIONS = 2 ** 31 - 1;

/** The parts of a Django `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` string. */
export interface DjangoPbkdf2Hash {
  /** PBKDF2 iteration count. */
  iterations: number;
  /** The salt exactly as Django stored it (a text salt, used as its UTF-8 bytes). */
  salt: string;
  /** The 32-byte derived key. */
  hash: Uint8Array;
}

const utf8 = new TextEncoder();

/**
 * PBKDF2-HMAC-SHA256 of the UTF-8 password and salt, 32 bytes, through WebCrypto on every runtime: Node runs it on
 * libuv's thread pool as it does `crypto.pbkdf2`, in the same time (100 000 iterations: 32 ms either way on Node 20,
 * 17 and 15 ms on Node 24; workerd 11.5 ms), so 870k iterations never block the event loop, and a Worker runs the
 * same code.
 */
export async function pbkdf2Sha256(password: string, salt: string, iterations: number): Promise<Uint8Array> {
  const key = await globalThis.crypto.subtle.importKey('raw', utf8.encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await globalThis.crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: utf8.encode(salt), iterations }, key, DIGEST_BYTES * 8);
  return new Uint8Array(bits);
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
  // Django compares the base64 text, so a non-canonical encoding could never have matched there either.
  const hash = fromBase64(hashText);
  if (hash === null || hash.length !== DIGEST_BYTES) return null;
  return { iterations, salt, hash };
}

/**
 * Verifies a password against a Django `pbkdf2_sha256$…` hash, as Django's `PBKDF2PasswordHasher.verify` does.
 *
 * @returns `false` for a wrong password and for a malformed hash; never throws for bad input.
 * @throws {@link PasswordHashUnsupportedError} when the hash is well formed but this runtime cannot derive it (more
 *   iterations than {@link pbkdf2MaxIterations}, or the platform's PBKDF2 refuses them): the login then fails with a
 *   logged server error naming the cause, where `false` would lock the user out as if the password were wrong.
 */
export async function verifyDjangoPbkdf2(encoded: string, password: string): Promise<boolean> {
  const parsed = parseDjangoPbkdf2(encoded);
  if (parsed === null) return false;
  const most = pbkdf2MaxIterations();
  if (parsed.iterations > most) throw tooManyIterations(parsed.iterations, most);
  let derived: Uint8Array;
  try {
    derived = await pbkdf2Sha256(password, parsed.salt, parsed.iterations);
  } catch (cause) {
    // The inputs are valid PBKDF2 parameters, so only the platform can have refused them.
    throw tooManyIterations(parsed.iterations, undefined, cause);
  }
  // Constant-time so the comparison does not leak how many leading bytes matched.
  return timingSafeEqualBytes(derived, parsed.hash);
}

/**
 * The most PBKDF2 iterations Cloudflare Workers derive in one call: above it `deriveBits` fails in production with
 * `NotSupportedError: Pbkdf2 failed: iteration counts above 100000 are not supported` (local workerd and
 * `wrangler dev` do not enforce it, so restjwt checks it itself there, and a hash fails the same way in development).
 */
export const WORKERS_PBKDF2_MAX_ITERATIONS = 100_000;

/** The most PBKDF2 iterations this runtime derives: {@link WORKERS_PBKDF2_MAX_ITERATIONS} on Workers, else int32. */
export function pbkdf2MaxIterations(): number {
  return isCloudflareWorkers() ? WORKERS_PBKDF2_MAX_ITERATIONS : MAX_ITERATIONS;
}

function tooManyIterations(iterations: number, limit: number | undefined, cause?: unknown): PasswordHashUnsupportedError {
  const most = limit === undefined ? 'refuses that many' : `derives at most ${limit}`;
  return new PasswordHashUnsupportedError(
    DJANGO_PBKDF2_ALGORITHM,
    `a ${DJANGO_PBKDF2_ALGORITHM} hash of ${iterations} iterations cannot be verified here: this runtime's PBKDF2 ${most}. ` +
      'Verify it where it was made (Django, or restjwt on Node), which rehashes it at the next login, or reset the password.',
    cause,
  );
}

/**
 * Encodes a password the way Django's `PBKDF2PasswordHasher.encode` does:
 * `pbkdf2_sha256$<iterations>$<salt>$<base64(pbkdf2_hmac('sha256', password, salt, iterations))>`.
 *
 * New hashes of a {@link createPasswordHasher} with `algorithm: 'pbkdf2_sha256'` (the default on Cloudflare Workers)
 * are made by it, and so are tests and imports/exports of Django users.
 *
 * @throws RangeError if `salt` is empty or contains `$`, or `iterations` is not a positive integer up to
 *   {@link pbkdf2MaxIterations}. The message never includes the password.
 */
export async function encodeDjangoPbkdf2(password: string, salt: string, iterations: number): Promise<string> {
  if (salt === '' || salt.includes('$')) {
    throw new RangeError('Django pbkdf2 salt must be non-empty and must not contain "$".');
  }
  const most = pbkdf2MaxIterations();
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > most) {
    throw new RangeError(`Django pbkdf2 iterations must be a positive integer up to ${most} on this runtime.`);
  }
  return `${DJANGO_PBKDF2_ALGORITHM}$${iterations}$${salt}$${toBase64(await pbkdf2Sha256(password, salt, iterations))}`;
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
    secret = toHex(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', utf8.encode(password))));
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
