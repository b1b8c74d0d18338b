/**
 * One Hono app, run unchanged by Node 20/22/24, Bun, Deno and workerd (Cloudflare Workers): each runtime has only a
 * thin entry beside this file (node.ts, bun.ts, deno.ts, worker.ts) that hands it its environment and serves
 * `app.fetch`. test/runtimes/ starts every entry as a real process and runs one HTTP suite against it.
 *
 * The environment (process.env, Deno.env or the Worker's bindings):
 * - SIGNING_KEY: the HS256 key of the tokens this service issues;
 * - SEED_USERNAME / SEED_PASSWORD: the one user, created at start-up;
 * - STORE: `memory` (default) or `postgres` (the SQL store over `pg`, at DATABASE_URL, e.g.
 *   `postgres://postgres@127.0.0.1:5432/test?schema=s1`; not on workerd, which has no `pg` driver here);
 * - JWKS_URL (simplejwt's JWK_URL) and JWKS_ALGORITHM (default RS256): `GET /api/remote/` accepts tokens signed by
 *   an outside key published there, and nothing else.
 */
import { Hono } from 'hono';
import { createRestJwt, type Algorithm, type RestJwt, type Store } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';
import { errorHandler, guard, restjwtRoutes } from '@restjwt/hono';

/** What an entry passes: the runtime's environment, and its name and version as the entry sees them. */
export interface AppEnv {
  readonly [name: string]: string | undefined;
}

export interface RunningApp {
  app: Hono;
  /** Closes the store (the PostgreSQL pool); the entries call it on SIGTERM/SIGINT. */
  close(): Promise<void>;
}

function required(env: AppEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`examples/runtimes: set ${name}`);
  return value;
}

async function openStore(env: AppEnv): Promise<Store> {
  const kind = env.STORE ?? 'memory';
  if (kind === 'memory') return createMemoryStore();
  if (kind === 'postgres') {
    // Imported only when asked for: the memory variant (and the Worker bundle) never loads Kysely or a driver.
    const { openSqlStore } = await import('@restjwt/sql');
    return openSqlStore({ url: required(env, 'DATABASE_URL'), poolSize: 2 });
  }
  throw new Error(`examples/runtimes: STORE must be memory or postgres, not ${kind}`);
}

/** A verify-only service: no signing key, the keys come from the remote JWKS; its guard reads no store. */
async function remoteVerifier(env: AppEnv): Promise<RestJwt | undefined> {
  if (env.JWKS_URL === undefined || env.JWKS_URL === '') return undefined;
  return createRestJwt({ store: createMemoryStore(), settings: { JWK_URL: env.JWKS_URL, ALGORITHM: (env.JWKS_ALGORITHM ?? 'RS256') as Algorithm } });
}

/**
 * Builds the app: the token endpoints under /api/, a protected route, the remote-JWKS route, and
 * `GET /api/runtime/` answering `runtime` (so a test can tell which binary really served it) and whether Node's
 * built-ins are there.
 */
export async function buildApp(env: AppEnv, runtime: string): Promise<RunningApp> {
  const store = await openStore(env);
  const restjwt = await createRestJwt({
    store,
    settings: { SIGNING_KEY: required(env, 'SIGNING_KEY'), ROTATE_REFRESH_TOKENS: true, BLACKLIST_AFTER_ROTATION: true },
  });
  await store.createUser({ username: required(env, 'SEED_USERNAME'), passwordHash: await restjwt.hasher.hash(required(env, 'SEED_PASSWORD')) });
  const remote = await remoteVerifier(env);

  const app = new Hono();
  app.route('/', restjwtRoutes({ restjwt, prefix: '/api/' }));
  app.get('/api/protected/', guard(restjwt), (c) => c.json({ message: 'Hello, authenticated user!', username: c.get('user').username }));
  if (remote !== undefined) {
    app.get('/api/remote/', guard(remote, { stateless: true }), (c) => c.json({ user_id: c.get('user').id }));
  }
  // Whether Node's built-ins are reachable here at all (a Worker without Node compatibility has no `process`).
  const nodeCompat = typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === 'function';
  app.get('/api/runtime/', (c) => c.json({ runtime, store: env.STORE ?? 'memory', node_compat: nodeCompat }));
  app.onError(errorHandler(restjwt));
  return { app, close: () => store.close() };
}
