/**
 * Password hashing: argon2id for new hashes, plus verification of argon2i/argon2d and Django's pbkdf2_sha256 and
 * argon2 formats so existing Django users can log in.
 *
 * @packageDocumentation
 */
export { createPasswordHasher, DEFAULT_ARGON2_PARAMS } from './hasher.js';
export type { Argon2Params, PasswordHasher, PasswordHasherOptions } from './hasher.js';
export { DJANGO_PBKDF2_ALGORITHM, encodeDjangoPbkdf2, parseDjangoPbkdf2, verifyDjangoPbkdf2 } from './django.js';
export type { DjangoPbkdf2Hash } from './django.js';
