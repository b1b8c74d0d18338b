/**
 * Password hashing: argon2id for new hashes (Django's pbkdf2_sha256 on Cloudflare Workers), plus verification of
 * argon2i/argon2d and Django's pbkdf2_sha256, argon2, bcrypt_sha256 and bcrypt formats so existing Django users can
 * log in.
 *
 * @packageDocumentation
 */
export { createPasswordHasher, DEFAULT_ARGON2_PARAMS, DEFAULT_PBKDF2_ITERATIONS } from './hasher.js';
export type { Argon2Params, PasswordAlgorithm, PasswordHasher, PasswordHasherOptions } from './hasher.js';
export {
  DJANGO_BCRYPT_ALGORITHM,
  DJANGO_BCRYPT_SHA256_ALGORITHM,
  DJANGO_PBKDF2_ALGORITHM,
  encodeDjangoPbkdf2,
  parseDjangoPbkdf2,
  pbkdf2MaxIterations,
  verifyDjangoBcrypt,
  verifyDjangoPbkdf2,
  WORKERS_PBKDF2_MAX_ITERATIONS,
} from './django.js';
export type { DjangoPbkdf2Hash } from './django.js';
