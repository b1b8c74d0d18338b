/**
 * Shared set-up of the HTTP benchmark servers (each `bench/servers/*.ts` is started by `bench/http.ts` in its own
 * process): a memory store with one user created beforehand, a restjwt service, a valid HS256 access token, and the
 * start-up line the parent reads: one JSON line `{"port":…,"token":"…"}` on stdout.
 *
 * Environment: BENCH_CACHE (verifiedTokenCacheSize, default 1000), BENCH_STATELESS=1 (TokenUser, no user lookup).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createPasswordHasher, createRestJwt, type RestJwt, type UserRecord } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';

export const SECRET = 'bench-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH';
export const USERNAME = 'alice';
export const PASSWORD = 'correct horse battery staple';
export const PROTECTED_BODY = { message: 'Hello, authenticated user!' };
export const PUBLIC_BODY = { message: 'Hello, anonymous user!' };

export const stateless = process.env.BENCH_STATELESS === '1';
export const cacheSize = Number(process.env.BENCH_CACHE ?? 1000);

export interface Setup {
  restjwt: RestJwt;
  user: UserRecord;
  token: string;
}

/** The service and its user (argon2id hash, so `POST /api/token/` does the real work), and a fresh access token. */
export async function setup(): Promise<Setup> {
  const store = createMemoryStore();
  const hasher = createPasswordHasher();
  const user = await store.createUser({ username: USERNAME, email: 'alice@example.com', passwordHash: await hasher.hash(PASSWORD) });
  const restjwt = createRestJwt({
    store,
    hasher,
    settings: { algorithm: 'HS256', signingKey: SECRET, accessTokenLifetime: '1h', verifiedTokenCacheSize: cacheSize },
  });
  const token = restjwt.tokens.encodeLocal(restjwt.tokens.forUser('access', user));
  return { restjwt, user, token };
}

/** Tells the parent where we listen and which token to send. */
export function announce(server: Server | { address(): unknown }, token: string): void {
  const port = (server.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ port, token })}\n`);
}

/** Exits when the parent goes away or asks. */
export function exitWithParent(): void {
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
}
