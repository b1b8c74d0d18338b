/**
 * Install only what you use, checked as a user meets it: the workspaces packed with `npm pack`, installed into fresh
 * projects by the six install lines of test/install/apps.ts (the README's table), then for each app:
 * - `npm ls --all --omit=dev` holds the pieces its choice needs and no other (no other adapter's framework, no other
 *   store's driver, no OpenID Connect or Swagger code, no hasher for stateless verification);
 * - npm printed no engine warning, and no install script other than better-sqlite3's for the apps that chose SQLite;
 * - app.ts type-checks with `--strict` and without skipLibCheck under `nodenext` and `bundler` resolution;
 * - it runs and answers its protected route 200 with a token and 401 without.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { installLine, packWorkspaces, productionPackages, typeCheck, type Installed, type Tarballs } from '../helpers/packages.js';
import { waitForListening } from '../helpers/serve-process.js';
import { mysqlAdmin, MYSQL_URL, postgresAdmin, POSTGRES_URL, probeMysql, probePostgres, uniqueName, withDatabase, withParams } from '../stores/services.js';
import { APPS, PIECES, type ConsumerApp } from './apps.js';

const PASSWORD = 'correct horse battery staple';
const SECRET_KEY = 'restjwt-install-test-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz';
const DEV_TOOLS = ['typescript@5.9', '@types/node@20'];

const temp: string[] = [];
const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
let tarballs: Tarballs = {};

beforeAll(() => {
  const packDir = mkdtempSync(join(tmpdir(), 'restjwt-packs-'));
  temp.push(packDir);
  tarballs = packWorkspaces(packDir);
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

/** The install scripts npm 11 reported as not covered by allowScripts. */
function scriptsReported(output: string): string[] {
  return [...new Set([...output.matchAll(/^npm warn install-scripts\s+(\S+)@\S+ \(/gm)].map((m) => m[1] ?? ''))];
}

/** app.ts type-checked under both resolutions, and emitted as app.js by the nodenext pass. */
function compileApp(app: ConsumerApp, dir: string): void {
  for (const run of typeCheck(dir, 'app.ts', { flags: app.tscFlags ?? [], emit: true })) {
    expect(run.status, `(${app.id}) tsc (${run.resolution}):\n${run.output}`).toBe(0);
  }
}

/** Starts `node app.js` (or the CLI) and resolves with its URL once it printed its listening line. */
async function start(command: string[], dir: string, env: Record<string, string>, pattern: RegExp): Promise<string> {
  const [bin, ...args] = command;
  const child = spawn(bin ?? process.execPath, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start in 90 s:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const m = pattern.exec(output);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${String(code)}) before listening:\n${output}`));
    });
  });
}

async function login(url: string): Promise<string> {
  const res = await fetch(`${url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
  const body = (await res.json()) as { access?: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access ?? '';
}

async function expectProtected(url: string, access: string): Promise<void> {
  const ok = await fetch(`${url}/api/protected/`, { headers: { authorization: `Bearer ${access}` } });
  expect(ok.status, await ok.text()).toBe(200);
  const anonymous = await fetch(`${url}/api/protected/`);
  expect(anonymous.status).toBe(401);
  expect(((await anonymous.json()) as { code?: string }).code).toBe('not_authenticated');
  const forged = await fetch(`${url}/api/protected/`, { headers: { authorization: `Bearer ${access.slice(0, -4)}AAAA` } });
  expect(forged.status).toBe(401);
}

/** A JWKS server for app (a), and a token signed by its key. */
async function jwksIssuer(): Promise<{ url: string; token: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'install-test', alg: 'RS256', use: 'sig' };
  const server: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  const token = await new SignJWT({ token_type: 'access', user_id: 7, jti: randomUUID() })
    .setProtectedHeader({ alg: 'RS256', kid: 'install-test' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, token };
}

/** A fresh database (schema or database) for apps (b) and (e), dropped afterwards. */
async function databaseFor(app: ConsumerApp): Promise<string | null> {
  if (app.database === 'postgres') {
    if (!(await probePostgres()).ok) return null;
    const schema = uniqueName('install');
    await postgresAdmin(`CREATE SCHEMA ${schema}`);
    cleanups.push(() => postgresAdmin(`DROP SCHEMA ${schema} CASCADE`));
    return withParams(POSTGRES_URL, { schema });
  }
  if (app.database === 'mysql') {
    if (!(await probeMysql()).ok) return null;
    const name = uniqueName('install');
    await mysqlAdmin(`CREATE DATABASE ${name}`);
    cleanups.push(() => mysqlAdmin(`DROP DATABASE ${name}`));
    return withDatabase(MYSQL_URL, name);
  }
  return '';
}

describe.concurrent('installing one choice brings that choice only, and it runs', () => {
  for (const app of APPS) {
    test(`(${app.id}) ${app.title}: ${app.line}`, async () => {
      const database = await databaseFor(app);
      if (database === null) {
        console.warn(`[restjwt tests] SKIPPING install app (${app.id}): its database server is not reachable.`);
        return;
      }
      const installed: Installed = await installLine(app.line, tarballs, { dev: app.source === undefined ? [] : DEV_TOOLS, reuseNativeBuild: true });
      temp.push(installed.dir);
      expect(installed.status, installed.output).toBe(0);

      // What got installed: this choice's pieces, every one of them, and no other.
      const packages = productionPackages(installed.dir);
      const pieces = packages.filter((p) => (PIECES as readonly string[]).includes(p));
      expect(pieces.sort(), `(${app.id}) pieces installed`).toEqual([...app.pieces].sort());

      // A quiet install: engines true of the whole tree (Node 20.19 here), and only the native build the user chose.
      expect(installed.output, 'engine warnings').not.toMatch(/EBADENGINE/);
      const chosenScripts = app.pieces.includes('better-sqlite3') ? ['better-sqlite3'] : [];
      expect(scriptsReported(installed.output), 'install scripts').toEqual(chosenScripts);

      if (app.kind === 'cli') {
        const cli = ['node', join(installed.dir, 'node_modules', 'restjwt', 'dist', 'cli', 'main.js')];
        const created = spawnSync(cli[0] ?? 'node', [...cli.slice(1), 'createuser', 'alice', '--password-stdin'], { cwd: installed.dir, input: PASSWORD, encoding: 'utf8' });
        expect(created.status, created.stderr).toBe(0);
        const child = spawn(cli[0] ?? 'node', [...cli.slice(1), 'serve', '--port', '0'], { cwd: installed.dir, stdio: ['ignore', 'ignore', 'pipe'] });
        children.add(child);
        const url = await waitForListening(child, new Promise((r) => child.once('exit', r)), 30_000).url;
        await expectProtected(url, await login(url));
        // The optional pieces this app did not install: one line naming the install command, before anything opens.
        for (const [command, flags, line] of [
          ['migrate', ['--database', 'postgres://postgres@127.0.0.1:5432/test'], 'restjwt: a PostgreSQL database needs the "@restjwt/sql" and "pg" packages: npm i @restjwt/sql pg'],
          ['migrate', ['--database', 'mariadb://root@127.0.0.1:3306/test'], 'restjwt: a MariaDB/MySQL database needs the "@restjwt/sql" and "mysql2" packages: npm i @restjwt/sql mysql2'],
          ['flushexpiredtokens', ['--redis', 'redis://127.0.0.1:6379'], 'restjwt: the Redis cache (--redis, REDIS_URL) needs the "@restjwt/redis" package: npm i @restjwt/redis'],
          ['serve', ['--port', '0', '--metrics-port', '0'], 'restjwt: metrics (--metrics-port) needs the "@restjwt/metrics" package: npm i @restjwt/metrics'],
        ] as const) {
          const r = spawnSync(cli[0] ?? 'node', [...cli.slice(1), command, ...flags], { cwd: installed.dir, encoding: 'utf8', timeout: 30_000 });
          expect(r.status, r.stderr).toBe(1);
          expect(r.stderr.trim()).toBe(line);
        }
        // The pages of the front door: demo, admin and the API reference with its Swagger UI files.
        for (const page of ['/', '/admin/', '/api/docs/', '/api/docs/assets/swagger-ui-bundle.js']) {
          expect((await fetch(`${url}${page}`)).status, page).toBe(200);
        }
        return;
      }

      writeFileSync(join(installed.dir, 'app.ts'), app.source ?? '');
      compileApp(app, installed.dir);
      const env: Record<string, string> = { PORT: '0', SECRET_KEY, DATABASE_URL: database };
      let token = '';
      if (app.kind === 'jwks') {
        const issuer = await jwksIssuer();
        env.JWKS_URL = issuer.url;
        token = issuer.token;
      }
      const url = await start([process.execPath, 'app.js'], installed.dir, env, /listening on (http:\/\/\S+)/);
      await expectProtected(url, app.kind === 'jwks' ? token : await login(url));
      if (app.missing !== undefined) {
        // A piece this choice left out, used anyway: the error names the package to install.
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', app.missing.code], { cwd: installed.dir, encoding: 'utf8', timeout: 30_000 });
        expect(r.stdout.trim(), r.stderr).toBe(`MissingPackageError ${app.missing.message}`);
      }
    }, 600_000);
  }
});
