/**
 * The reference server with social login, for the tests: like `startApp` (test/helpers/server.ts), plus the
 * `social` option. Its port is chosen before the server starts, because the provider must know our callback URL
 * first. The store is SQLite unless `options.store` is given.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRestJwt, type LinkedIdentity, type RestJwt, type RestJwtOptions, type Store } from '@restjwt/core';
import { hasIdentities } from '@restjwt/core/store-kit';
import { buildServer } from '../../packages/restjwt/src/server/app.js';
import { createSocialLogin, type SocialLogin, type SocialOptions } from '@restjwt/social';
import { openSqliteStore } from '@restjwt/sqlite';
import { answer, fastHasher, SECRET, type Answer } from '../helpers/server.js';
import { createMfa } from '@restjwt/mfa';
import { freePort } from '../helpers/free-port.js';


export interface SocialApp {
  url: string;
  restjwt: RestJwt;
  social: SocialLogin;
  store: Store;
  advance(ms: number): void;
  /** The server's clock, ms. */
  now(): number;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
  get(path: string, headers?: Record<string, string>): Promise<Answer>;
  send(method: string, path: string, init?: { body?: string; headers?: Record<string, string> }): Promise<Answer>;
  close(): Promise<void>;
}

/** The origin the app will listen on, to configure the provider's redirect URIs before starting it. */
export async function reserveOrigin(): Promise<{ port: number; url: string }> {
  const port = await freePort();
  return { port, url: `http://127.0.0.1:${port}` };
}

/** Starts the reference server on `origin` with social login configured by `social` (publicUrl defaults to `origin`). */
export async function startSocialApp(
  origin: { port: number; url: string },
  social: Omit<SocialOptions, 'publicUrl'> & { publicUrl?: string },
  settings: RestJwtOptions['settings'] = {},
  options: Partial<Omit<RestJwtOptions, 'settings' | 'store'>> & { store?: Store; mfa?: true } = {},
): Promise<SocialApp> {
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-social-'));
  const store: Store = options.store ?? (await openSqliteStore({ filename: join(dir, 'db.sqlite3') }));
  let offset = 0;
  const clock = () => Date.now() + offset;
  const { mfa: withMfa, ...rest } = options;
  // Second factors too (`mfa: true`): a user with one finishes a social sign-in at token/mfa/.
  const mfa = withMfa === true ? createMfa({ store, rpId: 'localhost', rpName: 'restjwt', origins: ['http://localhost:8000'], encryptionKey: Buffer.alloc(32, 9).toString('base64') }) : undefined;
  const restjwt = createRestJwt({ hasher: fastHasher, clock, ...rest, store, settings: { signingKey: SECRET, ...settings }, ...(mfa === undefined ? {} : { secondFactor: mfa.secondFactor }) });
  const login = createSocialLogin(restjwt, { publicUrl: origin.url, ...social });
  const app = await buildServer({ restjwt, logger: false, social: login, ...(mfa === undefined ? {} : { mfa }) });
  await app.listen({ host: '127.0.0.1', port: origin.port });
  const send: SocialApp['send'] = async (method, path, init = {}) =>
    answer(await fetch(origin.url + path, { method, body: init.body, headers: init.headers, redirect: 'manual' }));
  return {
    url: origin.url,
    restjwt,
    social: login,
    store,
    advance: (ms) => {
      offset += ms;
    },
    now: clock,
    send,
    post: (path, body, headers = {}) => send('POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }),
    get: (path, headers = {}) => send('GET', path, { headers }),
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Everything an attack could change: token rows, users, and the identities of every user. */
export async function socialState(store: Store): Promise<string> {
  const users = await store.listUsers();
  const identities = hasIdentities(store) ? await Promise.all(users.map((u) => store.listIdentities(u.id))) : [];
  return JSON.stringify({ tokens: await store.countTokens(), users, identities });
}

/** The linked identities of a user (the store must have them). */
export async function identitiesOf(store: Store, userId: string): Promise<LinkedIdentity[]> {
  if (!hasIdentities(store)) throw new Error('the store has no linked identities');
  return store.listIdentities(userId);
}
