/**
 * The `mfa_token` of a login waiting for its second step: a random opaque value (not a JWT, so it can never pass for
 * a bearer token), kept in the store's one-time values under its hash for five minutes, taken on each use and put
 * back after a wrong proof until `MFA_MAX_ATTEMPTS`: whoever holds it gets at most that many tries, and one success.
 */
import { randomBytes } from '../bytes.js';
import { ConfigurationError, MfaTokenInvalid } from '../errors.js';
import { encodeBase64url } from '../jws/base64url.js';
import { hasCapability } from '../store/capabilities.js';
import type { OneTimeStore, Store } from '../store/types.js';
import { MFA_MAX_ATTEMPTS, MFA_TOKEN_LIFETIME_SECONDS, type MfaMethod, type PendingLogin } from './second-factor.js';

interface StoredLogin {
  userId: string;
  kind: 'refresh' | 'sliding';
  amr: string[];
  method: string;
  methods: MfaMethod[];
  attempts: number;
  /** ms */
  expiresAt: number;
}

/** A pending login as taken from the store: its record, and how to put it back or spend it. */
export interface TakenLogin extends PendingLogin {
  readonly attempts: number;
  /** Puts it back after a wrong proof (one attempt more); spent, and not put back, at the last attempt. */
  failed(): Promise<void>;
  /** Puts it back unchanged (a challenge was asked for). */
  keep(): Promise<void>;
}

const PREFIX = 'mfa:';

/** The store's one-time values, which a second factor needs; a configuration without them is refused at start-up. */
export function oneTimeOf(store: Store): Store & OneTimeStore {
  if (!hasCapability(store, 'oneTime')) {
    throw new ConfigurationError('secondFactor needs a store with one-time values (memory, SQLite, PostgreSQL, MariaDB); the Django shared-database store has none.');
  }
  return store;
}

async function keyOf(token: string): Promise<string> {
  // The store holds the hash: a copy of the database holds no usable mfa_token.
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return PREFIX + encodeBase64url(new Uint8Array(digest));
}

/** Starts a pending login; answers its `mfa_token`. */
export async function startPendingLogin(store: Store & OneTimeStore, login: Omit<StoredLogin, 'attempts' | 'expiresAt'>, nowMs: number): Promise<string> {
  const token = encodeBase64url(randomBytes(32));
  const expiresAt = nowMs + MFA_TOKEN_LIFETIME_SECONDS * 1000;
  await store.putOneTime(await keyOf(token), JSON.stringify({ ...login, attempts: 0, expiresAt } satisfies StoredLogin), new Date(expiresAt));
  return token;
}

/** Takes the pending login of `token` (atomically: of concurrent takes one gets it), or throws 401 `mfa_token_invalid`. */
export async function takePendingLogin(store: Store & OneTimeStore, token: string, nowMs: number): Promise<TakenLogin> {
  // A well-formed token only: anything else names no login (and never reaches the store).
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw new MfaTokenInvalid();
  const key = await keyOf(token);
  const raw = await store.takeOneTime(key, new Date(nowMs));
  if (raw === null) throw new MfaTokenInvalid();
  const stored = JSON.parse(raw) as StoredLogin;
  const putBack = (value: StoredLogin): Promise<void> => store.putOneTime(key, JSON.stringify(value), new Date(value.expiresAt));
  return {
    binding: key,
    userId: stored.userId,
    kind: stored.kind,
    amr: stored.amr,
    method: stored.method,
    methods: stored.methods,
    attempts: stored.attempts,
    failed: async () => {
      if (stored.attempts + 1 < MFA_MAX_ATTEMPTS) await putBack({ ...stored, attempts: stored.attempts + 1 });
    },
    keep: () => putBack(stored),
  };
}
