/**
 * The seed's settings.py, shared by the four examples (each `app.ts` is its framework's urls.py and views.py):
 * SIMPLE_JWT as restjwt settings, the "custom token claims" hook, and the database.
 */
import { pathToFileURL } from 'node:url';
import { createRestJwt, type PasswordHasher, type RestJwt, type Store } from '@restjwt/core';
import { openSqliteStore } from '@restjwt/sqlite';

/** SIMPLE_JWT, in simplejwt's own names (restjwt's camelCase names work as well). */
export const SIMPLE_JWT = {
  ACCESS_TOKEN_LIFETIME: { minutes: 5 },
  REFRESH_TOKEN_LIFETIME: { days: 1 },
  ROTATE_REFRESH_TOKENS: true,
  BLACKLIST_AFTER_ROTATION: true,
  ALGORITHM: 'HS256',
  AUTH_HEADER_TYPES: ['Bearer'],
};

/** What the tests change: the store (memory), a cheap hasher, the key. */
export interface ExampleOptions {
  store?: Store;
  hasher?: PasswordHasher;
  signingKey?: string;
}

/** The service: SIGNING_KEY from SECRET_KEY, as Django's default; users and tokens in ./db.sqlite3 by default. */
export async function seedRestJwt(options: ExampleOptions = {}): Promise<RestJwt> {
  return createRestJwt({
    store: options.store ?? (await openSqliteStore({ filename: './db.sqlite3' })),
    settings: { ...SIMPLE_JWT, SIGNING_KEY: options.signingKey ?? process.env.SECRET_KEY },
    hooks: { customClaims: (user) => ({ name: user.username }) }, // the seed's custom claim
    ...(options.hasher === undefined ? {} : { hasher: options.hasher }),
  });
}

/** True when the module is the program being run (`npx tsx examples/express/app.ts`), not imported by a test. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

export const PORT = Number(process.env.PORT ?? 8000);
