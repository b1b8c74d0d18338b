/**
 * Password hashing: argon2id for new hashes, plus verification of argon2i/argon2d and Django's pbkdf2_sha256,
 * argon2, bcrypt_sha256 and bcrypt formats so existing Django users can log in.
 *
 * @packageDocumentation
 */
export { createPasswordHasher, DEFAULT_ARGON2_PARAMS } from './hasher.js';
export type { Argon2Params, PasswordHasher, PasswordHasherOptions } from './hasher.js';
export {
  DJANGO_BCRYPT_ALGORITHM,
  DJANGO_BCRYPT_SHA256_ALGORITHM,
  DJANGO_PBKDF2_ALGORITHM,
  encodeDjangoPbkdf2,
  parseDjangoPbkdf2,
  verifyDjangoBcrypt,
  verifyDjangoPbkdf2,
} from './django.js';
export type { DjangoPbkdf2Hash } from './django.js';
