/**
 * examples/runtimes/ under every runtime, as a real process on 127.0.0.1: Node 20 (this process's), Node 22 and 24,
 * Bun, Deno and workerd — the memory store everywhere, the PostgreSQL store (@restjwt/sql over `pg`) on Node, Bun and
 * Deno — each answering one shared suite of HTTP requests: login, refusals of forged and expired tokens, refresh with
 * rotation and blacklisting, verify, logout, and tokens of an outside key checked against a JWKS served by this test.
 *
 * Then the JWS differential property test (test/differential/, restjwt's verifier against jose's over generated
 * tokens, with each crypto primitive the runtime has) runs under Node 22 and 24, Bun, Deno and workerd (Node 20 runs
 * it in the main suite, test/unit/jws-differential.test.ts), and must find no failure.
 *
 * The runtimes come from `runtimes/` (`npm run runtimes:install`); a missing one skips its cases with a message,
 * or fails them when RESTJWT_REQUIRE_RUNTIMES=1 (CI).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_URL, postgresAdmin, probePostgres, uniqueName, withParams } from '../stores/services.js';
import { INSTALL_HINT, ROOT, RUNTIME_NAMES, runtimeBinary, type RuntimeName } from './binaries.js';
import { bundleWorker, compileForNode, launch, runOnce, type Launched, type Program } from './launch.js';

const REQUIRED = process.env.RESTJWT_REQUIRE_RUNTIMES === '1';

const PROGRAM: Program = {
  nodeJs: 'examples/runtimes/dist/node.js',
  bunTs: 'examples/runtimes/bun.ts',
  denoTs: 'examples/runtimes/deno.ts',
  workerBundle: 'examples/runtimes/dist/worker.js',
};

type StoreKind = 'memory' | 'postgres';
interface Target {
  runtime: RuntimeName;
  store: StoreKind;
  /** The PostgreSQL schema of this process (postgres targets). */
  schema?: string;
  /** workerd without Node compatibility: the WebCrypto path of the core, in a real Worker. */
  webOnly?: boolean;
}

const postgres = await probePostgres();
const targets: Target[] = [
  ...RUNTIME_NAMES.map((runtime): Target => ({ runtime, store: 'memory' })),
  { runtime: 'workerd', store: 'memory', webOnly: true },
  ...(['node', 'bun', 'deno'] as const).map((runtime): Target => ({ runtime, store: 'postgres', schema: uniqueName('rjt_rt') })),
];
const installed = (t: Target) => runtimeBinary(t.runtime).version !== undefined;
const missing = RUNTIME_NAMES.filter((name) => runtimeBinary(name).version === undefined);
if (missing.length > 0 && !REQUIRED) {
  console.warn(`[restjwt tests] SKIPPING the runtime tests of ${missing.join(', ')}: not installed. Run \`${INSTALL_HINT}\` to run them.`);
}
if (!postgres.ok) console.warn('[restjwt tests] SKIPPING the runtime tests with the PostgreSQL store: no PostgreSQL (see above).');
const runnable = (t: Target) => installed(t) && (t.store === 'memory' || postgres.ok);

const SIGNING_KEY = randomBytes(48).toString('base64url');
const USERNAME = 'alice';
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

// The outside authority: an RS256 key pair whose public half the JWKS server publishes, and one it does not.
const authority = await generateKeyPair('RS256');
const stranger = await generateKeyPair('RS256');
const JWKS_KID = 'authority-1';
let jwksServer: Server;
let jwksUrl: string;

const launched = new Map<Target, Promise<Launched>>();

// The differential test, bundled once (fast-check, jose and the core's JWS code; no node_modules needed at run time).
const DIFFERENTIAL: Program = {
  nodeJs: 'test/runtimes/dist/differential.mjs',
  bunTs: 'test/runtimes/dist/differential.mjs',
  denoTs: 'test/runtimes/dist/differential.mjs',
  workerBundle: 'test/runtimes/dist/differential-worker.js',
};
/** A fifth of the main suite's runs per property, with both primitives: a few seconds in each runtime. */
const DIFFERENTIAL_SCALE = '0.2';
const DIFFERENTIAL_RUNTIMES: readonly RuntimeName[] = ['node22', 'node24', 'bun', 'deno', 'workerd'];
interface DifferentialLine {
  runtime: string;
  node: { checked: number; failures: string[] } | null;
  web: { checked: number; failures: string[] } | null;
}
const differential = new Map<RuntimeName, Promise<DifferentialLine>>();

async function runDifferential(runtime: RuntimeName): Promise<DifferentialLine> {
  let text: string;
  if (runtime === 'workerd') {
    // Without Node compatibility: the core's WebCrypto path on the web platform alone.
    const worker = await launch('workerd', DIFFERENTIAL, {}, { webOnly: true });
    try {
      const res = await fetch(`${worker.url}/?scale=${DIFFERENTIAL_SCALE}`);
      text = await res.text();
      if (res.status !== 200) throw new Error(`workerd: ${res.status} ${text}\n${worker.output()}`);
    } finally {
      await worker.stop();
    }
  } else {
    const out = await runOnce(runtime, DIFFERENTIAL, { JWS_DIFF_SCALE: DIFFERENTIAL_SCALE }, 80_000);
    text = out.stdout.trim().split('\n').at(-1) ?? '';
    // Exit 1 with a JSON line is the test's own verdict (failures), read below; anything else is a crash.
    if (!text.startsWith('{')) throw new Error(`${runtime} exited ${String(out.code ?? out.signal)}:\n${out.stdout}${out.stderr}`);
  }
  return JSON.parse(text) as DifferentialLine;
}

/** Runs `jobs` two at a time (this is a 2-core machine, and the app processes are serving meanwhile). */
function twoAtATime<T>(jobs: (() => Promise<T>)[]): Promise<T>[] {
  let running = Promise.resolve() as Promise<unknown>;
  let other = Promise.resolve() as Promise<unknown>;
  return jobs.map((job, i) => {
    const after = i % 2 === 0 ? running : other;
    const p = after.then(job, job);
    if (i % 2 === 0) running = p.catch(() => undefined);
    else other = p.catch(() => undefined);
    return p;
  });
}
const label = (t: Target) =>
  `${runtimeBinary(t.runtime).label} ${runtimeBinary(t.runtime).version ?? '(missing)'}${t.webOnly === true ? ' (web platform only: no Node compatibility)' : ''}, ${t.store} store`;

beforeAll(async () => {
  const publicJwk: JWK = { ...(await exportJWK(authority.publicKey)), kid: JWKS_KID, alg: 'RS256', use: 'sig' };
  jwksServer = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const address = jwksServer.address();
  if (address === null || typeof address !== 'object') throw new Error('no JWKS address');
  jwksUrl = `http://127.0.0.1:${address.port}/.well-known/jwks.json`;

  const chosen = targets.filter(runnable);
  // The builds the processes run: tsc for Node (once for the three), rolldown for workerd.
  if (chosen.some((t) => t.runtime.startsWith('node'))) compileForNode('examples/runtimes/tsconfig.json');
  if (chosen.some((t) => t.runtime === 'workerd')) await bundleWorker('examples/runtimes/worker.ts', PROGRAM.workerBundle);
  for (const t of chosen) {
    const env: Record<string, string> = { SIGNING_KEY, SEED_USERNAME: USERNAME, SEED_PASSWORD: PASSWORD, JWKS_URL: jwksUrl, JWKS_ALGORITHM: 'RS256', STORE: t.store };
    let ready: Promise<unknown> = Promise.resolve();
    if (t.schema !== undefined) {
      env.DATABASE_URL = withParams(POSTGRES_URL, { schema: t.schema });
      ready = postgresAdmin(`CREATE SCHEMA "${t.schema}"`);
    }
    const started = ready.then(() => launch(t.runtime, PROGRAM, env, { webOnly: t.webOnly === true }));
    started.catch(() => undefined); // reported by each of its tests
    launched.set(t, started);
  }
  // All start side by side; the tests then take them one at a time.
  await Promise.allSettled(launched.values());

  const diffRuntimes = DIFFERENTIAL_RUNTIMES.filter((name) => runtimeBinary(name).version !== undefined);
  if (diffRuntimes.length > 0) {
    await bundleWorker('test/runtimes/differential-main.ts', DIFFERENTIAL.nodeJs, [/^node:/]);
    if (diffRuntimes.includes('workerd')) await bundleWorker('test/differential/worker.ts', DIFFERENTIAL.workerBundle, [/^node:/]);
    // Started here, awaited by their tests: they run while the HTTP suites do.
    const runs = twoAtATime(diffRuntimes.map((name) => () => runDifferential(name)));
    diffRuntimes.forEach((name, i) => {
      const run = runs[i] as Promise<DifferentialLine>;
      run.catch(() => undefined);
      differential.set(name, run);
    });
  }
}, 90_000);

afterAll(async () => {
  await Promise.allSettled([...launched.values()].map(async (p) => (await p).stop()));
  await Promise.allSettled(differential.values());
  await new Promise((resolve) => jwksServer?.close(resolve));
  const schemas = targets.filter((t) => t.schema !== undefined && launched.has(t)).map((t) => `DROP SCHEMA IF EXISTS "${t.schema}" CASCADE`);
  if (schemas.length > 0) await postgresAdmin(...schemas);
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** An unsigned-by-us variant of a token: same header and payload, another signature. */
function withSignature(token: string, signature: string): string {
  return `${token.slice(0, token.lastIndexOf('.'))}.${signature}`;
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An access token as the app would issue it for `userId`, signed with `key` (HS256) and the given lifetime. */
function accessToken(key: Parameters<SignJWT['sign']>[0], alg: string, claims: { userId: string; iat: number; exp: number }, kid?: string): Promise<string> {
  return new SignJWT({ token_type: 'access', user_id: claims.userId, jti: randomUUID().replace(/-/g, '') })
    .setProtectedHeader(kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid })
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(key);
}

const now = () => Math.floor(Date.now() / 1000);
const appKey = new TextEncoder().encode(SIGNING_KEY);

/** The one suite every target answers. */
function httpSuite(target: Target): void {
  let base: Launched;
  const call = async (path: string, init: { body?: object; token?: string; authorization?: string } = {}): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    if (init.authorization !== undefined) headers.authorization = init.authorization;
    const res = await fetch(`${base.url}${path}`, { method: init.body === undefined ? 'GET' : 'POST', headers, body: init.body === undefined ? null : JSON.stringify(init.body) });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
    } catch {
      throw new Error(`${path}: ${res.status} ${text}\n--- process output ---\n${base.output()}`);
    }
  };
  const login = async () => {
    const answer = await call('/api/token/', { body: { username: USERNAME, password: PASSWORD } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body as { refresh: string; access: string };
  };
  const tokenNotValid = (answer: Answer) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(401);
    expect(answer.body.code).toBe('token_not_valid');
  };

  beforeAll(async () => {
    base = await (launched.get(target) as Promise<Launched>);
  });

  it('is served by the runtime it was started with', async () => {
    const { status, body } = await call('/api/runtime/');
    expect(status).toBe(200);
    const bin = runtimeBinary(target.runtime);
    expect(body.store).toBe(target.store);
    expect(body.node_compat, 'Node built-ins reachable').toBe(target.webOnly !== true);
    expect(body.runtime).toMatch(target.runtime === 'workerd' ? /^workerd Cloudflare-Workers/ : new RegExp(`^${target.runtime.replace(/\d+$/, '')} v?${bin.version}$`));
  });

  it('login: 200 with a refresh and an access token; a wrong password: 401 in simplejwt words', async () => {
    const pair = await login();
    expect(Object.keys(pair).sort()).toEqual(['access', 'refresh']);
    const wrong = await call('/api/token/', { body: { username: USERNAME, password: `${PASSWORD}x` } });
    expect(wrong).toEqual({ status: 401, body: { detail: 'No active account found with the given credentials', code: 'no_active_account' } });
  });

  it('the protected route: 200 with the access token; 401 without one, or with a forged or expired one', async () => {
    const { access } = await login();
    const ok = await call('/api/protected/', { token: access });
    expect(ok).toEqual({ status: 200, body: { message: 'Hello, authenticated user!', username: USERNAME } });
    expect(await call('/api/protected/')).toEqual({ status: 401, body: { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' } });

    const payload = JSON.parse(Buffer.from(access.split('.')[1] as string, 'base64url').toString()) as { user_id: string; exp: number; iat: number };
    const signature = access.slice(access.lastIndexOf('.') + 1);
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    tokenNotValid(await call('/api/protected/', { token: withSignature(access, flipped) }));
    tokenNotValid(await call('/api/protected/', { token: `${b64({ alg: 'none', typ: 'JWT' })}.${access.split('.')[1]}.` }));
    tokenNotValid(await call('/api/protected/', { token: await accessToken(randomBytes(48), 'HS256', { userId: payload.user_id, iat: now(), exp: now() + 300 }) }));
    // Signed with the app's own key, by jose: accepted while valid (the control), refused once past its exp.
    const control = await accessToken(appKey, 'HS256', { userId: payload.user_id, iat: now(), exp: now() + 300 });
    expect((await call('/api/protected/', { token: control })).status).toBe(200);
    const expired = await call('/api/protected/', { token: await accessToken(appKey, 'HS256', { userId: payload.user_id, iat: now() - 600, exp: now() - 300 }) });
    tokenNotValid(expired);
  });

  it('refresh rotates: a new refresh token, and the old one replayed is refused as blacklisted', async () => {
    const pair = await login();
    const rotated = await call('/api/token/refresh/', { body: { refresh: pair.refresh } });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(typeof rotated.body.access).toBe('string');
    expect(rotated.body.refresh).not.toBe(pair.refresh);
    const replay = await call('/api/token/refresh/', { body: { refresh: pair.refresh } });
    tokenNotValid(replay);
    expect(replay.body.detail).toBe('Token is blacklisted');
    expect((await call('/api/protected/', { token: rotated.body.access as string })).status).toBe(200);
  });

  it('verify: 200 for a valid token, 401 for a forged one', async () => {
    const { access, refresh } = await login();
    expect(await call('/api/token/verify/', { body: { token: access } })).toEqual({ status: 200, body: {} });
    expect((await call('/api/token/verify/', { body: { token: refresh } })).status).toBe(200);
    tokenNotValid(await call('/api/token/verify/', { body: { token: withSignature(access, 'AAAA') } }));
  });

  it('logout blacklists the refresh token: refreshing with it is then refused', async () => {
    const { refresh } = await login();
    expect(await call('/api/token/blacklist/', { body: { refresh } })).toEqual({ status: 200, body: {} });
    const after = await call('/api/token/refresh/', { body: { refresh } });
    tokenNotValid(after);
    expect(after.body.detail).toBe('Token is blacklisted');
  });

  it('the JWKS route accepts a token of the outside key, and refuses an unknown key and HS256', async () => {
    const claims = { userId: '7001', iat: now(), exp: now() + 300 };
    const accepted = await call('/api/remote/', { token: await accessToken(authority.privateKey, 'RS256', claims, JWKS_KID) });
    expect(accepted).toEqual({ status: 200, body: { user_id: '7001' } });
    tokenNotValid(await call('/api/remote/', { token: await accessToken(stranger.privateKey, 'RS256', claims, 'stranger-1') }));
    // A key the JWKS has under that kid is not enough: the signature must be its own.
    tokenNotValid(await call('/api/remote/', { token: await accessToken(stranger.privateKey, 'RS256', claims, JWKS_KID) }));
    tokenNotValid(await call('/api/remote/', { token: await accessToken(appKey, 'HS256', claims, JWKS_KID) }));
    // The app's own tokens are not the remote route's.
    tokenNotValid(await call('/api/remote/', { token: (await login()).access }));
  });

  it('stops on SIGTERM', async () => {
    const end = await base.stop();
    expect(end.killed, base.output()).toBe(false);
    expect(end.code === 0 || end.signal === 'SIGTERM', `exit ${String(end.code)} ${String(end.signal)}\n${base.output()}`).toBe(true);
  });
}

for (const target of targets) {
  if (runnable(target)) {
    describe(label(target), () => httpSuite(target));
  } else if (REQUIRED && !installed(target)) {
    describe(label(target), () => {
      it('is installed (RESTJWT_REQUIRE_RUNTIMES=1)', () => {
        throw new Error(`${target.runtime} is not installed at ${runtimeBinary(target.runtime).path}: run \`${INSTALL_HINT}\``);
      });
    });
  }
}

describe('the JWS differential test (restjwt against jose) in every runtime', () => {
  // Without the runtimes (and outside CI) every case below is left out: one skipped test says so, as vitest fails an empty suite.
  it.skipIf(true)(`needs the runtimes: ${INSTALL_HINT}`, () => undefined);
  for (const runtime of DIFFERENTIAL_RUNTIMES) {
    const bin = runtimeBinary(runtime);
    if (bin.version === undefined && !REQUIRED) continue;
    it(`${bin.label} ${bin.version ?? '(missing)'}: no failure, with each primitive it has`, async () => {
      if (bin.version === undefined) throw new Error(`${runtime} is not installed at ${bin.path}: run \`${INSTALL_HINT}\``);
      const line = await (differential.get(runtime) as Promise<DifferentialLine>);
      // WebCrypto everywhere; node:crypto wherever the runtime serves it (workerd does, through its Node compatibility).
      expect(line.web, JSON.stringify(line)).not.toBeNull();
      for (const result of [line.node, line.web]) {
        if (result === null) continue;
        expect(result.failures).toEqual([]);
        expect(result.checked).toBeGreaterThan(500);
      }
    }, 90_000);
  }
});

describe('the SQLite store on Node 24 with better-sqlite3 12', () => {
  const node24 = runtimeBinary('node24');
  it.skipIf(node24.version === undefined && !REQUIRED)('refuses at start-up, naming better-sqlite3 13 (better-sqlite3 12 aborts Node 24), instead of crashing', () => {
    if (node24.version === undefined) throw new Error(`node24 is not installed at ${node24.path}: run \`${INSTALL_HINT}\``);
    const code = "import { openSqliteStore } from '@restjwt/sqlite'; try { await openSqliteStore({ filename: ':memory:' }); console.log('{}'); } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }";
    const out = spawnSync(node24.path, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    const refused = JSON.parse(out.stdout.trim()) as { name?: string; message?: string };
    expect(refused.name, out.stderr).toBe('ConfigurationError');
    expect(refused.message).toMatch(/better-sqlite3 12 aborts Node 24\..*"overrides": \{ "better-sqlite3": "\^13\.2\.0" \}.*Node 22/);
  });
});

describe('the SQLite store on Bun', () => {
  const bun = runtimeBinary('bun');
  it.skipIf(bun.version === undefined && !REQUIRED)('says at start-up that it does not run there, and what to use instead', () => {
    if (bun.version === undefined) throw new Error(`bun is not installed at ${bun.path}: run \`${INSTALL_HINT}\``);
    const code = "import { openSqliteStore } from '@restjwt/sqlite'; try { await openSqliteStore({ filename: ':memory:' }); console.log('opened'); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }";
    // From the workspace root, so that `@restjwt/sqlite` resolves to the built package, as in an app's node_modules.
    const out = spawnSync(bun.path, ['--tsconfig-override=examples/runtimes/tsconfig.json', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    const refused = JSON.parse(out.stdout.trim()) as { name: string; code: string; message: string };
    expect(refused.name).toBe('ConfigurationError');
    expect(refused.code).toBe('improperly_configured');
    expect(refused.message).toMatch(/does not run on Bun .*@restjwt\/sql.*memory store.*Node/);
  });
});
