import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OneTimeStore } from '@restjwt/core';
import { parseCookies, serializeCookie } from '@restjwt/core/adapter-kit';

/**
 * The single-use, expiring records of social login, in the store's one-time table (shared by every instance):
 * a started login (state → nonce, PKCE verifier, browser binding, where to land) and the Bearer delivery's exchange
 * code. Keys are hashes of the random values, so the table alone cannot complete a login.
 */

/** 256 random bits, base64url: states, nonces, PKCE verifiers (43 characters, RFC 7636's minimum), codes. */
export const randomToken = (): string => randomBytes(32).toString('base64url');

export const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/** A started browser login, kept until its callback (or its expiry). */
export interface PendingLogin {
  /** The provider it was started for. */
  provider: string;
  nonce: string;
  codeVerifier: string;
  /** Hash of the browser-binding cookie's value. */
  binding: string;
  /** The allowed URL to land on afterwards. */
  next: string;
  /** Set for a link flow: the signed-in user the identity is linked to (no tokens are issued). */
  linkUserId?: string;
}

/** What an exchange code stands for: a sign-in that was validated, whose pair is issued at the exchange. */
export interface PendingExchange {
  userId: string;
  provider: string;
}

const stateKey = (state: string) => `social:state:${sha256(state)}`;
const codeKey = (code: string) => `social:code:${sha256(code)}`;

/** Stores a pending login under a new random state and returns the state. */
export async function putLogin(store: OneTimeStore, login: PendingLogin, expiresAt: Date): Promise<string> {
  const state = randomToken();
  await store.putOneTime(stateKey(state), JSON.stringify(login), expiresAt);
  return state;
}

/** Takes (removes) the login of `state`: null when unknown, expired or already taken. */
export async function takeLogin(store: OneTimeStore, state: string, now: Date): Promise<PendingLogin | null> {
  const raw = await store.takeOneTime(stateKey(state), now);
  return raw === null ? null : parse<PendingLogin>(raw, ['provider', 'nonce', 'codeVerifier', 'binding', 'next']);
}

/** Stores a pending exchange under a new random code and returns the code. */
export async function putExchange(store: OneTimeStore, exchange: PendingExchange, expiresAt: Date): Promise<string> {
  const code = randomToken();
  await store.putOneTime(codeKey(code), JSON.stringify(exchange), expiresAt);
  return code;
}

/** Takes the exchange of `code`: null when unknown, expired or already used. */
export async function takeExchange(store: OneTimeStore, code: string, now: Date): Promise<PendingExchange | null> {
  const raw = await store.takeOneTime(codeKey(code), now);
  return raw === null ? null : parse<PendingExchange>(raw, ['userId', 'provider']);
}

function parse<T>(raw: string, required: readonly string[]): T | null {
  try {
    const value = JSON.parse(raw) as Record<string, unknown>;
    return required.every((k) => typeof value[k] === 'string') ? (value as T) : null;
  } catch {
    return null;
  }
}

/**
 * The browser-binding cookie: a random value set when the login starts, whose hash the pending login keeps. The
 * callback must come with it, so a state (and code) captured from one browser cannot finish a login in another
 * (login CSRF). SameSite=Lax: it must ride along the provider's top-level redirect back to the callback.
 */
export class BrowserBinding {
  readonly name: string;

  constructor(
    private readonly secure: boolean,
    private readonly path: string,
  ) {
    this.name = secure ? '__Secure-restjwt-social' : 'restjwt-social';
  }

  /** A new binding: the cookie to set and the hash to keep. */
  create(maxAgeSeconds: number): { cookie: string; hash: string } {
    const value = randomToken();
    const cookie = serializeCookie(this.name, value, { path: this.path, maxAgeSeconds, httpOnly: true, secure: this.secure, sameSite: 'Lax' });
    return { cookie, hash: sha256(value) };
  }

  /** Whether the request carries the binding whose hash is `hash`. */
  matches(cookieHeader: string | undefined, hash: string): boolean {
    const value = parseCookies(cookieHeader)[this.name];
    if (value === undefined || value === '') return false;
    const a = Buffer.from(sha256(value));
    const b = Buffer.from(hash);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** The Set-Cookie that deletes the binding (it is single-use like its state). */
  clear(): string {
    return serializeCookie(this.name, '', { path: this.path, maxAgeSeconds: 0, httpOnly: true, secure: this.secure, sameSite: 'Lax' });
  }
}
