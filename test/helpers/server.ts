import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { createPasswordHasher, createRestJwt, type PasswordHasher, type RestJwt, type RestJwtOptions, type Store, type UserRecord } from '@restjwt/core';
import { signCompact } from '../../packages/core/src/jws/sign.js';
import type { Algorithm } from '../../packages/core/src/settings/types.js';
import { buildServer } from '../../packages/restjwt/src/server/app.js';
import { openSqliteStore } from '@restjwt/sqlite';

/** The seed's shared secret for tests: long enough for HS512. */
export const SECRET = 'restjwt-test-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz-!!';
export const PASSWORD = 'correct horse battery staple';

/** Cheap argon2 parameters keep the suite fast; the production parameters are tested in unit/passwords. */
export const fastHasher = createPasswordHasher({ argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });

/** {@link fastHasher}, counting the password checks it runs (`verify`, and `burn` for an unknown user). */
export function countingHasher(beforeCheck: () => Promise<void> = async () => {}): PasswordHasher & { checks(): number } {
  let checks = 0;
  return {
    hash: (password) => fastHasher.hash(password),
    needsRehash: (encoded) => fastHasher.needsRehash(encoded),
    verify: async (encoded, password) => {
      checks++;
      await beforeCheck();
      return fastHasher.verify(encoded, password);
    },
    burn: async (password) => {
      checks++;
      await beforeCheck();
      return fastHasher.burn(password);
    },
    checks: () => checks,
  };
}

/**
 * Parallel login bursts that really overlap, whatever the transport: during {@link run} every password check waits
 * until each of the `n` requests is either answered or waiting in a check, so no check finishes before every request
 * has been past the throttle. (Without it a transport that sends one request at a time, or a hash faster than the
 * next request's arrival, would hide a check-then-count race.) `hasher` counts the checks.
 */
export function heldBurst(): { hasher: PasswordHasher & { checks(): number }; run<T>(n: number, send: (i: number) => Promise<T>): Promise<T[]> } {
  let gate: { n: number; waiting: number; answered: number; open: () => void; opened: Promise<void> } | null = null;
  const settle = (): void => {
    if (gate !== null && gate.waiting + gate.answered >= gate.n) gate.open();
  };
  const hasher = countingHasher(async () => {
    if (gate === null) return;
    gate.waiting++;
    settle();
    await gate.opened;
  });
  return {
    hasher,
    async run(n, send) {
      let open = (): void => {};
      const opened = new Promise<void>((resolve) => (open = resolve));
      gate = { n, waiting: 0, answered: 0, open, opened };
      const current = gate;
      try {
        return await Promise.all(
          Array.from({ length: n }, (_, i) =>
            send(i).finally(() => {
              current.answered++;
              settle();
            }),
          ),
        );
      } finally {
        gate = null;
        current.open();
      }
    },
  };
}

export interface TestApp {
  url: string;
  restjwt: RestJwt;
  store: Store;
  /** Moves the injected clock (milliseconds). */
  advance(ms: number): void;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
  get(path: string, headers?: Record<string, string>): Promise<Answer>;
  send(method: string, path: string, init?: { body?: string; headers?: Record<string, string> }): Promise<Answer>;
  user(username?: string, extra?: Partial<{ isActive: boolean; isStaff: boolean; email: string; password: string }>): Promise<UserRecord>;
  login(username?: string, password?: string): Promise<{ access: string; refresh: string }>;
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: any;
}

/** Reads a fetch Response into an {@link Answer}. */
export async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Starts the reference server on a loopback port over a fresh SQLite file (the default store), with an injectable
 * clock. Tests talk to it with real HTTP requests.
 */
export async function startApp(
  settings: RestJwtOptions['settings'] = {},
  options: Partial<Omit<RestJwtOptions, 'settings' | 'store'>> & { store?: Store } = {},
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-http-'));
  const store = options.store ?? (await openSqliteStore({ filename: join(dir, 'db.sqlite3') }));
  let offset = 0;
  const clock = () => Date.now() + offset;
  const restjwt = createRestJwt({ hasher: fastHasher, clock, ...options, store, settings: { signingKey: SECRET, ...settings } });
  const app = await buildServer({ restjwt, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  const send: TestApp['send'] = async (method, path, init = {}) =>
    answer(await fetch(url + path, { method, body: init.body, headers: init.headers, redirect: 'manual' }));
  const t: TestApp = {
    url,
    restjwt,
    store,
    advance: (ms) => {
      offset += ms;
    },
    send,
    post: (path, body, headers = {}) =>
      send('POST', path, {
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...headers },
      }),
    get: (path, headers = {}) => send('GET', path, { headers }),
    async user(username = 'alice', extra = {}) {
      const u = await store.createUser({
        username,
        email: extra.email ?? `${username}@example.com`,
        passwordHash: await fastHasher.hash(extra.password ?? PASSWORD),
        isActive: extra.isActive ?? true,
        isStaff: extra.isStaff ?? false,
      });
      return u;
    },
    async login(username = 'alice', password = PASSWORD) {
      const r = await t.post('/api/token/', { username, password });
      if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
      return r.json as { access: string; refresh: string };
    },
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Decodes a token's payload without verifying (for assertions only). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Signs arbitrary claims: for crafting expired, mistyped or otherwise odd tokens. */
export function mint(payload: Record<string, unknown>, key: KeyObject, alg: Algorithm = 'HS256', kid?: string): string {
  return signCompact(alg, key, payload, kid);
}

/** Mints a token with raw header and payload JSON text, signed with an HMAC key (for malformed-structure cases). */
export function mintRaw(headerJson: string, payloadJson: string, sign: (input: string) => string): string {
  const input = `${Buffer.from(headerJson).toString('base64url')}.${Buffer.from(payloadJson).toString('base64url')}`;
  return `${input}.${sign(input)}`;
}

/** Counts of store rows, for "nothing changed" assertions. */
export async function snapshot(store: Store): Promise<string> {
  return JSON.stringify(await store.countTokens());
}
