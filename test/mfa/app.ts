/**
 * The reference server with second factors, for the tests: like `startApp` (test/helpers/server.ts), plus
 * `createMfa` wired the way an application wires it (createMfa → createRestJwt({ secondFactor }) → buildServer({ mfa })),
 * on every store the machine has. Talks real HTTP; the server's clock is injectable (`advance`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { expect } from 'vitest';
import { createRestJwt, type AuditRecord, type RestJwt, type RestJwtOptions, type Store, type UserRecord } from '@restjwt/core';
import { createMemoryRateCounter } from '@restjwt/core/memory';
import { hasAudit } from '@restjwt/core/store-kit';
import { createMfa, type Mfa, type MfaOptions } from '@restjwt/mfa';
import { openSqliteStore } from '@restjwt/sqlite';
import { buildServer } from '../../packages/restjwt/src/server/app.js';
import { answer, fastHasher, PASSWORD, SECRET, type Answer } from '../helpers/server.js';
import { storeBackends, type StoreBackend } from '../helpers/store-backends.js';

/** The key the test servers encrypt TOTP secrets with (32 bytes, base64). */
export const MFA_KEY = Buffer.alloc(32, 7).toString('base64');
export const RP_ID = 'localhost';
export const ORIGIN = 'http://localhost:8000';

export interface MfaApp {
  url: string;
  restjwt: RestJwt;
  mfa: Mfa;
  store: Store;
  /** The server's clock (ms). */
  now(): number;
  /** Moves the server's clock (ms). */
  advance(ms: number): void;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
  get(path: string, headers?: Record<string, string>): Promise<Answer>;
  user(username: string, extra?: Partial<{ isActive: boolean }>): Promise<UserRecord>;
  /** POST /api/token/ with the password; the raw answer. */
  password(username: string, password?: string): Promise<Answer>;
  close(): Promise<void>;
}

export type Backend = StoreBackend;

/** Every store with second factors this machine can run. */
export const BACKENDS = storeBackends('rjt_mfa');

/** The server's settings in these tests: rotation with blacklisting, revocation checks, a tight per-user throttle. */
export const SETTINGS = {
  rotateRefreshTokens: true,
  blacklistAfterRotation: true,
  checkRevokeToken: true,
  loginThrottle: { perUsernameAndAddress: { limit: 8, windowSeconds: 300 }, perUsername: { limit: 50, windowSeconds: 300 }, perAddress: { limit: 1000, windowSeconds: 300 } },
};

/** Starts the reference server with MFA over `backend`'s store (SQLite file by default). */
export async function startMfaApp(
  backend: Backend,
  settings: RestJwtOptions['settings'] = SETTINGS,
  mfaOptions: Partial<Omit<MfaOptions, 'store'>> = {},
  extra: Pick<RestJwtOptions, 'observer'> = {},
): Promise<MfaApp & { drop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-mfa-'));
  const opened = await backend.open();
  const store = opened.store ?? (await openSqliteStore({ filename: join(dir, 'db.sqlite3') }));
  let offset = 0;
  const clock = () => Date.now() + offset;
  const mfa = createMfa({ store, rpId: RP_ID, rpName: 'restjwt', origins: [ORIGIN], encryptionKey: MFA_KEY, ...mfaOptions });
  const restjwt = createRestJwt({ hasher: fastHasher, clock, store, rateCounter: createMemoryRateCounter(), settings: { signingKey: SECRET, ...settings }, secondFactor: mfa.secondFactor, ...extra });
  const app = await buildServer({ restjwt, logger: false, mfa });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  const send = async (method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
    answer(await fetch(url + path, { method, body: init.body, headers: init.headers, redirect: 'manual' }));
  const t = {
    url,
    restjwt,
    mfa,
    store,
    now: clock,
    advance: (ms: number) => {
      offset += ms;
    },
    post: (path: string, body: unknown, headers: Record<string, string> = {}) =>
      send('POST', path, { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }),
    get: (path: string, headers: Record<string, string> = {}) => send('GET', path, { headers }),
    user: async (username: string, extra: Partial<{ isActive: boolean }> = {}) =>
      store.createUser({ username, email: `${username}@example.com`, passwordHash: await fastHasher.hash(PASSWORD), isActive: extra.isActive ?? true, isStaff: false }),
    password: (username: string, password = PASSWORD) => t.post('/api/token/', { username, password }),
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
    drop: opened.drop,
  };
  return t;
}

export const bearer = (access: string): Record<string, string> => ({ authorization: `Bearer ${access}` });

/** The authenticator app's code for `secret` at the server's time (+ `shiftSeconds`). */
export function codeAt(t: Pick<MfaApp, 'now'>, secret: string, shiftSeconds = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(t.now() / 1000) + shiftSeconds });
}

/**
 * A six-digit code other than `right` (the current one), with `sep` in the middle as apps display codes (`123 456`).
 * It matches a neighbouring step's code one time in 500 000: accepted for a test.
 */
export function wrongCode(right: string, sep = ''): string {
  const digits = right === '000000' ? '111111' : '000000';
  return `${digits.slice(0, 3)}${sep}${digits.slice(3)}`;
}

/**
 * A code of a time step no earlier code used: the server's clock moves one step (30 s) first, as a user's next login
 * is in a later step. Every accepted step is single-use, so tests that sign in again need this.
 */
export function nextCode(t: Pick<MfaApp, 'now' | 'advance'>, secret: string): Promise<string> {
  t.advance(30_000);
  return codeAt(t, secret);
}

/** Enrols and confirms an authenticator app for the user of `access`; returns its secret, id and the fresh pair. */
export async function enrolTotp(t: Pick<MfaApp, 'post' | 'now' | 'advance'>, access: string, label?: string): Promise<{ secret: string; id: string; pair: { access: string; refresh: string } }> {
  const started = await t.post('/api/mfa/totp/', label === undefined ? {} : { label }, bearer(access));
  expect(started.status, started.text).toBe(201);
  const { id, secret } = started.json as { id: string; secret: string };
  const confirmed = await t.post(`/api/mfa/totp/${id}/confirm/`, { code: await nextCode(t, secret) }, bearer(access));
  expect(confirmed.status, confirmed.text).toBe(200);
  return { secret, id, pair: { access: confirmed.json.access as string, refresh: confirmed.json.refresh as string } };
}

/** Password, then the authenticator code: the pair (asserting each step). */
export async function signInWithTotp(t: MfaApp, username: string, secret: string): Promise<{ access: string; refresh: string }> {
  const first = await t.password(username);
  expect(first.status, first.text).toBe(200);
  expect(first.json.mfa_required, first.text).toBe(true);
  const done = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await nextCode(t, secret) });
  expect(done.status, done.text).toBe(200);
  return done.json as { access: string; refresh: string };
}

/** Every audit event, oldest first. */
export async function auditEvents(store: Store): Promise<AuditRecord[]> {
  if (!hasAudit(store)) throw new Error('the store keeps no audit log');
  const out: AuditRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.listAudit({ limit: 500, cursor });
    out.push(...page.events);
    cursor = page.next;
  } while (cursor !== null);
  return out.reverse();
}
