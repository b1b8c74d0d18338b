import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { requireOptional } from '../optional-package.js';
import {
  DJANGO_BCRYPT_ALGORITHM,
  DJANGO_BCRYPT_SHA256_ALGORITHM,
  DJANGO_PBKDF2_ALGORITHM,
  verifyDjangoBcrypt,
  verifyDjangoPbkdf2,
} from './django.js';

/** Argon2id cost parameters. */
export interface Argon2Params {
  /** Memory in KiB. */
  memoryCost: number;
  /** Number of passes over memory. */
  timeCost: number;
  /** Lanes (threads) per hash. */
  parallelism: number;
}

/**
 * The OWASP Password Storage Cheat Sheet's first argon2id configuration: 19 MiB, 2 passes, 1 lane. One lane keeps a
 * login to one libuv thread, so concurrent logins do not starve each other.
 */
export const DEFAULT_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

/** Options for {@link createPasswordHasher}. */
export interface PasswordHasherOptions {
  /** Overrides for the argon2id parameters of new hashes; each defaults to {@link DEFAULT_ARGON2_PARAMS}. */
  argon2?: Partial<Argon2Params>;
  /**
   * How many hashes (hash, verify, burn) may run at once; the rest wait their turn. Default: one fewer than the CPU
   * cores (at least 1), so a burst of logins always leaves a core to the event loop and the requests it serves.
   */
  maxConcurrentHashes?: number;
}

/**
 * Hashes and verifies passwords. New hashes are argon2id PHC strings; verification also accepts argon2i/argon2d and
 * the formats Django writes (pbkdf2_sha256, argon2, bcrypt_sha256, bcrypt), so users imported from a Django project can
 * log in (and be rehashed on login, unless `rehashPasswords` is off).
 */
export interface PasswordHasher {
  /** Hashes `password` as an argon2id PHC string with the configured parameters. */
  hash(password: string): Promise<string>;
  /**
   * Checks `password` against a stored hash. Returns `false` (never throws) for a wrong password, an empty hash, a
   * Django unusable password (`!…`) or an unknown/malformed format.
   */
  verify(encoded: string, password: string): Promise<boolean>;
  /** True unless `encoded` is a native argon2id PHC string with exactly the configured parameters. */
  needsRehash(encoded: string): boolean;
  /**
   * Spends about the time of one `verify` against a current argon2id hash, and returns nothing. Call it when the
   * username is unknown so that "no such user" and "wrong password" cannot be told apart by timing.
   */
  burn(password: string): Promise<void>;
}

const ARGON2_PHC_PREFIXES = ['$argon2id$', '$argon2i$', '$argon2d$'] as const;
// Django's Argon2PasswordHasher stores 'argon2' + the PHC string ('argon2$argon2id$v=19$…'); slicing it off restores it.
const DJANGO_ARGON2_PREFIX = 'argon2';

function resolveParams(overrides: Partial<Argon2Params> | undefined): Argon2Params {
  // Pick the three known keys so stray runtime keys (from JavaScript callers) never reach the argon2 options.
  const params: Argon2Params = {
    memoryCost: overrides?.memoryCost ?? DEFAULT_ARGON2_PARAMS.memoryCost,
    timeCost: overrides?.timeCost ?? DEFAULT_ARGON2_PARAMS.timeCost,
    parallelism: overrides?.parallelism ?? DEFAULT_ARGON2_PARAMS.parallelism,
  };
  for (const [name, value] of Object.entries(params) as [keyof Argon2Params, number][]) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`argon2.${name} must be a positive integer, got ${String(value)}.`);
    }
  }
  // Argon2 needs at least 8 KiB per lane; failing here beats failing on the first login.
  if (params.memoryCost < 8 * params.parallelism) {
    throw new RangeError('argon2.memoryCost must be at least 8 KiB per lane (8 * parallelism).');
  }
  return params;
}

type Argon2 = typeof import('@node-rs/argon2');
let loaded: Argon2 | undefined;
/**
 * @node-rs/argon2, loaded at the first hash rather than with the core: a service that only verifies tokens never
 * installs it (it is an optional peer of @restjwt/core, and a dependency of every store package that keeps users).
 */
function argon2(): Argon2 {
  loaded ??= requireOptional(() => createRequire(import.meta.url)('@node-rs/argon2') as Argon2, 'password hashing', ['@node-rs/argon2']);
  return loaded;
}

const SALT_BYTES = 16;
const HASH_BYTES = 32;
// @node-rs/argon2's `Algorithm` and `Version` are const enums, which isolated modules cannot read: their values.
const ARGON2ID = 2;
const VERSION_0X13 = 1;

/**
 * An argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`, the spec's parameter order, which argon2-cffi and
 * so Django read) by @node-rs/argon2: a prebuilt binary, so installing restjwt compiles nothing for it (docs/
 * install-footprint.md measured it at 14.8 ms a hash against node-argon2's 25.3, and either verifies the other's).
 */
async function hashArgon2id(password: string, params: Argon2Params): Promise<string> {
  return argon2().hash(password, { ...params, outputLen: HASH_BYTES, salt: randomBytes(SALT_BYTES) });
}

async function verifyArgon2(phc: string, password: string): Promise<boolean> {
  const lib = argon2(); // outside the try: a missing package is an error to report, not a wrong password
  try {
    return await lib.verify(phc, password);
  } catch {
    // Malformed PHC strings make the library throw; for a login that is simply "does not match".
    return false;
  }
}

/**
 * Creates a {@link PasswordHasher}.
 *
 * @throws RangeError if an argon2 parameter is not a positive integer or memory is below 8 KiB per lane.
 */
export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const params = resolveParams(options.argon2);
  const concurrency = options.maxConcurrentHashes ?? Math.max(1, availableParallelism() - 1);
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`maxConcurrentHashes must be a positive integer, got ${String(concurrency)}.`);
  }
  // Every hash goes through one queue: argon2 runs on libuv's threads, which would otherwise take every core.
  const limit = pLimit(concurrency);

  // Shared promise so concurrent first calls compute the dummy once; cleared on failure so a later call can retry.
  let dummyHash: Promise<string> | undefined;
  const getDummyHash = (): Promise<string> => {
    if (dummyHash === undefined) {
      const pending = limit(() => hashArgon2id(randomBytes(32).toString('hex'), params));
      pending.catch(() => {
        if (dummyHash === pending) dummyHash = undefined;
      });
      dummyHash = pending;
    }
    return dummyHash;
  };

  const burn = async (password: string): Promise<void> => {
    const lib = argon2(); // outside the try, as in verifyArgon2
    try {
      const dummy = await getDummyHash();
      await limit(() => lib.verify(dummy, typeof password === 'string' ? password : ''));
    } catch {
      // Swallowed: an error here must not make the unknown-user path look different from a wrong password.
    }
  };

  return {
    async hash(password: string): Promise<string> {
      if (typeof password !== 'string') throw new TypeError('password must be a string.');
      return limit(() => hashArgon2id(password, params));
    },

    async verify(encoded: string, password: string): Promise<boolean> {
      // Guards for JavaScript callers and null database columns; the types already rule these out in TypeScript.
      if (typeof encoded !== 'string' || typeof password !== 'string') return false;
      // Empty and '!'-prefixed (Django's set_unusable_password) can never match any password; they still cost one
      // hash, or the time of the answer would tell which accounts have no usable password (CVE-2024-39329).
      if (encoded === '' || encoded.startsWith('!')) return burn(password).then(() => false);
      if (ARGON2_PHC_PREFIXES.some((prefix) => encoded.startsWith(prefix))) {
        return limit(() => verifyArgon2(encoded, password));
      }
      if (encoded.startsWith(`${DJANGO_ARGON2_PREFIX}$argon2`)) {
        return limit(() => verifyArgon2(encoded.slice(DJANGO_ARGON2_PREFIX.length), password));
      }
      if (encoded.startsWith(`${DJANGO_PBKDF2_ALGORITHM}$`)) {
        return limit(() => verifyDjangoPbkdf2(encoded, password));
      }
      if (encoded.startsWith(`${DJANGO_BCRYPT_SHA256_ALGORITHM}$`) || encoded.startsWith(`${DJANGO_BCRYPT_ALGORITHM}$`)) {
        return limit(() => verifyDjangoBcrypt(encoded, password));
      }
      // An unknown format costs one hash too, for the same reason.
      await burn(password);
      return false;
    },

    needsRehash(encoded: string): boolean {
      // Django-prefixed argon2id is rehashed too, so that stored hashes converge on the native PHC form.
      if (typeof encoded !== 'string' || !encoded.startsWith('$argon2id$')) return true;
      const lib = argon2();
      try {
        const used = lib.parseOptions(encoded);
        return (
          used.algorithm !== ARGON2ID ||
          used.version !== VERSION_0X13 ||
          used.memoryCost !== params.memoryCost ||
          used.timeCost !== params.timeCost ||
          used.parallelism !== params.parallelism
        );
      } catch {
        return true;
      }
    },

    burn,
  };
}
