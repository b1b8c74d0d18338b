import pLimit from 'p-limit';
import { randomBytes, timingSafeEqualBytes, toHex } from '../bytes.js';
import { ConfigurationError, PasswordHashUnsupportedError } from '../errors.js';
import { requireOptional } from '../optional-package.js';
import { availableParallelism, packageRequire } from '../runtime.js';
import {
  DJANGO_BCRYPT_ALGORITHM,
  DJANGO_BCRYPT_SHA256_ALGORITHM,
  DJANGO_PBKDF2_ALGORITHM,
  encodeDjangoPbkdf2,
  parseDjangoPbkdf2,
  pbkdf2MaxIterations,
  pbkdf2Sha256,
  verifyDjangoBcrypt,
  verifyDjangoPbkdf2,
  WORKERS_PBKDF2_MAX_ITERATIONS,
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

/**
 * The format of new hashes:
 * - `'argon2id'`: argon2id PHC strings by @node-rs/argon2 (a native module, an optional peer to install);
 * - `'pbkdf2_sha256'`: Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, by WebCrypto's PBKDF2-HMAC-SHA256,
 *   which every runtime has. Django, simplejwt and restjwt on Node verify it (and restjwt with argon2id rehashes it to
 *   argon2id at the next login).
 */
export type PasswordAlgorithm = 'argon2id' | typeof DJANGO_PBKDF2_ALGORITHM;

/**
 * PBKDF2 iterations of new `pbkdf2_sha256` hashes unless told otherwise: {@link WORKERS_PBKDF2_MAX_ITERATIONS}, the
 * most Cloudflare Workers derive. That is below OWASP's 600 000 for PBKDF2-HMAC-SHA256 and Django 5.2's 1 000 000;
 * where the platform allows more, raise it with `pbkdf2.iterations` (a Worker then cannot verify those hashes).
 */
export const DEFAULT_PBKDF2_ITERATIONS = WORKERS_PBKDF2_MAX_ITERATIONS;

/** Options for {@link createPasswordHasher}. */
export interface PasswordHasherOptions {
  /**
   * The format of new hashes ({@link PasswordAlgorithm}). Default: `'argon2id'` where native modules load (Node, Bun,
   * Deno), `'pbkdf2_sha256'` where none can (Cloudflare Workers, whatever their compatibility flags: neither native
   * addons nor WebAssembly compiled at run time load there). Verification accepts every format either way, as far as
   * the runtime can: a Worker cannot check argon2 hashes (see {@link PasswordHashUnsupportedError}).
   *
   * @example
   * // On Workers, stated rather than picked: Django-format PBKDF2 at the platform's ceiling.
   * createPasswordHasher({ algorithm: 'pbkdf2_sha256', pbkdf2: { iterations: 100_000 } });
   */
  algorithm?: PasswordAlgorithm;
  /** Overrides for the argon2id parameters of new hashes; each defaults to {@link DEFAULT_ARGON2_PARAMS}. */
  argon2?: Partial<Argon2Params>;
  /**
   * The PBKDF2 parameters of new `pbkdf2_sha256` hashes. `iterations` defaults to {@link DEFAULT_PBKDF2_ITERATIONS}
   * and may be at most what the runtime derives (100 000 on Workers). A stored hash with other iterations still
   * verifies, and `needsRehash` says true for it.
   */
  pbkdf2?: { iterations?: number };
  /**
   * How many hashes (hash, verify, burn) may run at once; the rest wait their turn. Default: one fewer than the CPU
   * cores (at least 1), so a burst of logins always leaves a core to the event loop and the requests it serves.
   */
  maxConcurrentHashes?: number;
}

/**
 * Hashes and verifies passwords. New hashes are argon2id PHC strings (or Django pbkdf2_sha256 where native modules
 * cannot load: {@link PasswordHasherOptions.algorithm}); verification also accepts argon2i/argon2d and the formats
 * Django writes (pbkdf2_sha256, argon2, bcrypt_sha256, bcrypt), so users imported from a Django project can log in
 * (and be rehashed on login, unless `rehashPasswords` is off).
 */
export interface PasswordHasher {
  /** Hashes `password` in the configured format, with the configured parameters. */
  hash(password: string): Promise<string>;
  /**
   * Checks `password` against a stored hash. Returns `false` for a wrong password, an empty hash, a Django unusable
   * password (`!…`) or an unknown/malformed format.
   *
   * @throws {@link PasswordHashUnsupportedError} for a well-formed hash this runtime cannot check (argon2 on Workers,
   *   PBKDF2 above the platform's iterations), and {@link MissingPackageError} when the package a format needs is not
   *   installed: neither says anything about the password.
   */
  verify(encoded: string, password: string): Promise<boolean>;
  /** True unless `encoded` is in the configured format with exactly the configured parameters. */
  needsRehash(encoded: string): boolean;
  /**
   * Spends about the time of one `verify` against a current hash, and returns nothing. Call it when the username is
   * unknown so that "no such user" and "wrong password" cannot be told apart by timing.
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
 *
 * @throws {@link PasswordHashUnsupportedError} where no native module can load (Workers).
 */
function argon2(): Argon2 {
  if (loaded !== undefined) return loaded;
  const load = packageRequire(import.meta.url);
  if (load === undefined) {
    throw new PasswordHashUnsupportedError(
      'argon2',
      'argon2 hashes need @node-rs/argon2, a native module, which this runtime cannot load (Cloudflare Workers). ' +
        "Verify them where they were made (restjwt on Node, Bun or Deno; Django), or reset the password: new hashes here are 'pbkdf2_sha256'.",
    );
  }
  loaded = requireOptional(() => load('@node-rs/argon2') as Argon2, 'password hashing', ['@node-rs/argon2']);
  return loaded;
}

/** Whether @node-rs/argon2 could load here at all (a native module): decides the default algorithm. */
const nativeModulesLoad = (): boolean => packageRequire(import.meta.url) !== undefined;

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

// Django's salts: 22 characters of [a-zA-Z0-9] (get_random_string at its 128-bit salt_entropy).
const SALT_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const DJANGO_SALT_LENGTH = 22;

/** A Django-style salt, each character uniform over the alphabet (bytes from 248 up are redrawn: 248 = 4 × 62). */
function djangoSalt(): string {
  let salt = '';
  while (salt.length < DJANGO_SALT_LENGTH) {
    for (const byte of randomBytes(DJANGO_SALT_LENGTH)) {
      if (byte < 248 && salt.length < DJANGO_SALT_LENGTH) salt += SALT_ALPHABET[byte % SALT_ALPHABET.length];
    }
  }
  return salt;
}

function resolveIterations(iterations: number | undefined): number {
  const value = iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  const most = pbkdf2MaxIterations();
  if (!Number.isSafeInteger(value) || value < 1 || value > most) {
    throw new RangeError(`pbkdf2.iterations must be a positive integer up to ${most} on this runtime, got ${String(value)}.`);
  }
  return value;
}

/** How one format makes, checks and burns a hash: what differs between argon2id and pbkdf2_sha256. */
interface Scheme {
  hash(password: string): Promise<string>;
  /** One verify of a current hash, against a dummy. */
  burnOnce(password: string): Promise<void>;
  isCurrent(encoded: string): boolean;
}

function argon2idScheme(params: Argon2Params, limit: <T>(run: () => Promise<T>) => Promise<T>): Scheme {
  // Shared promise so concurrent first calls compute the dummy once; cleared on failure so a later call can retry.
  let dummyHash: Promise<string> | undefined;
  const getDummyHash = (): Promise<string> => {
    if (dummyHash === undefined) {
      const pending = limit(() => hashArgon2id(toHex(randomBytes(32)), params));
      pending.catch(() => {
        if (dummyHash === pending) dummyHash = undefined;
      });
      dummyHash = pending;
    }
    return dummyHash;
  };
  return {
    hash: (password) => hashArgon2id(password, params),
    async burnOnce(password) {
      const lib = argon2(); // outside the caller's try, as in verifyArgon2
      const dummy = await getDummyHash();
      await limit(() => lib.verify(dummy, password));
    },
    isCurrent(encoded) {
      // Django-prefixed argon2id is rehashed too, so that stored hashes converge on the native PHC form.
      if (!encoded.startsWith('$argon2id$')) return false;
      const lib = argon2();
      try {
        const used = lib.parseOptions(encoded);
        return (
          used.algorithm === ARGON2ID &&
          used.version === VERSION_0X13 &&
          used.memoryCost === params.memoryCost &&
          used.timeCost === params.timeCost &&
          used.parallelism === params.parallelism
        );
      } catch {
        return false;
      }
    },
  };
}

function pbkdf2Scheme(iterations: number, limit: <T>(run: () => Promise<T>) => Promise<T>): Scheme {
  // What a verify of a current hash does: derive at the configured iterations over a salt of the same length, then
  // compare 32 bytes in constant time.
  const dummySalt = djangoSalt();
  const dummyHash = randomBytes(32);
  return {
    hash: (password) => encodeDjangoPbkdf2(password, djangoSalt(), iterations),
    async burnOnce(password) {
      const derived = await limit(() => pbkdf2Sha256(password, dummySalt, iterations));
      timingSafeEqualBytes(derived, dummyHash);
    },
    isCurrent: (encoded) => parseDjangoPbkdf2(encoded)?.iterations === iterations,
  };
}

/**
 * Creates a {@link PasswordHasher}: argon2id (OWASP's first configuration) where native modules load, Django's
 * pbkdf2_sha256 at {@link DEFAULT_PBKDF2_ITERATIONS} on Cloudflare Workers; see {@link PasswordHasherOptions}.
 *
 * @throws RangeError if an argon2 parameter is not a positive integer or memory is below 8 KiB per lane, or
 *   `pbkdf2.iterations` is not a positive integer up to what the runtime derives.
 * @throws ConfigurationError for `algorithm: 'argon2id'` where no native module can load.
 */
export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const params = resolveParams(options.argon2);
  const iterations = resolveIterations(options.pbkdf2?.iterations);
  const algorithm = options.algorithm ?? (nativeModulesLoad() ? 'argon2id' : DJANGO_PBKDF2_ALGORITHM);
  if (algorithm !== 'argon2id' && algorithm !== DJANGO_PBKDF2_ALGORITHM) {
    throw new RangeError(`algorithm must be 'argon2id' or '${DJANGO_PBKDF2_ALGORITHM}', got ${JSON.stringify(String(algorithm))}.`);
  }
  if (algorithm === 'argon2id' && !nativeModulesLoad()) {
    throw new ConfigurationError(
      `restjwt: algorithm 'argon2id' needs @node-rs/argon2, a native module, which this runtime cannot load (Cloudflare Workers): use '${DJANGO_PBKDF2_ALGORITHM}'.`,
    );
  }
  const concurrency = options.maxConcurrentHashes ?? Math.max(1, availableParallelism() - 1);
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`maxConcurrentHashes must be a positive integer, got ${String(concurrency)}.`);
  }
  // Every hash goes through one queue: argon2 and PBKDF2 run on libuv's threads, which would otherwise take every core.
  const limit = pLimit(concurrency);
  const scheme = algorithm === 'argon2id' ? argon2idScheme(params, limit) : pbkdf2Scheme(iterations, limit);

  const burn = async (password: string): Promise<void> => {
    try {
      await scheme.burnOnce(typeof password === 'string' ? password : '');
    } catch (error) {
      // A missing or unloadable package is an error to report (as verifyArgon2 does); anything else is swallowed, so
      // that an error here cannot make the unknown-user path look different from a wrong password.
      if (error instanceof ConfigurationError) throw error;
    }
  };

  return {
    async hash(password: string): Promise<string> {
      if (typeof password !== 'string') throw new TypeError('password must be a string.');
      return limit(() => scheme.hash(password));
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
      return typeof encoded !== 'string' || !scheme.isCurrent(encoded);
    },

    burn,
  };
}
