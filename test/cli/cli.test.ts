/**
 * End-to-end tests of the built `restjwt` CLI: every case spawns `node packages/restjwt/dist/cli/main.js …` in a fresh directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { calculateJwkThumbprint } from 'jose';
import { afterAll, describe, expect, test } from 'vitest';
import { openSqliteStore } from '@restjwt/sqlite';
import { builtCli } from '../helpers/built-cli.js';
import { waitForListening } from '../helpers/serve-process.js';
import { deleteRedisKeys, probeRedis, REDIS_URL, uniqueName } from '../stores/services.js';

const CLI = builtCli();

const tempDirs: string[] = [];
const children: ChildProcess[] = [];

/** A fresh working directory for one test. */
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-cli-'));
  tempDirs.push(dir);
  return dir;
}

/** The environment without any RESTJWT_* variable of the caller's, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RESTJWT_')) env[k] = v;
  return { ...env, ...extra };
}

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one short-lived command to completion. */
function run(cwd: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    input: options.input ?? '',
    env: cleanEnv(options.env),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Server {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** What it logged on stdout so far (Fastify's JSON log lines). */
  stdout: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `serve` and resolves once it printed its listening line. */
async function startServer(cwd: string, args: string[] = [], env: Record<string, string> = {}): Promise<Server> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  // Read stdout always: a full pipe would block the server's logger.
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal })),
  );
  const started = waitForListening(child, exit, 15_000);
  return { url: await started.url, child, stderr: started.stderr, stdout: () => stdout, exit };
}

/** The `msg` of each JSON log line. */
function logMessages(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { msg?: string }).msg ?? '');
}

/** Logs in and returns the token pair. */
async function login(url: string, username: string, password: string): Promise<{ access: string; refresh: string }> {
  const res = await fetch(`${url}/api/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { access: string; refresh: string };
}

async function getProtected(url: string, access: string): Promise<number> {
  const res = await fetch(`${url}/api/protected/`, { headers: { authorization: `Bearer ${access}` } });
  await res.arrayBuffer();
  return res.status;
}


afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('user management', () => {
  test('createuser, duplicate, changepassword', () => {
    const cwd = freshDir();
    const created = run(cwd, ['createuser', 'alice', '--email', 'alice@example.com', '--staff', '--password-stdin'], { input: 'pw-1\n' });
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(/Created user "alice"/);

    const dup = run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'other\n' });
    expect(dup.status).toBe(1);
    expect(dup.stderr).toMatch(/^restjwt: A user named "alice" already exists\..*changepassword/);
    expect(dup.stderr).not.toMatch(/\n\s+at /);

    const empty = run(cwd, ['createuser', 'bob', '--password-stdin'], { input: '\n' });
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/password is empty/);

    const noTty = run(cwd, ['createuser', 'bob']);
    expect(noTty.status).toBe(1);
    expect(noTty.stderr).toMatch(/--password-stdin/);

    const changed = run(cwd, ['changepassword', 'alice', '--password-stdin'], { input: 'pw-2\n' });
    expect(changed.status).toBe(0);
    expect(changed.stdout).toMatch(/Changed the password of "alice"/);

    const unknown = run(cwd, ['changepassword', 'nobody', '--password-stdin'], { input: 'x\n' });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^restjwt: There is no user named "nobody".*createuser nobody/);
  });

  test('changepassword ends every session: the user\'s refresh tokens are blacklisted, other users\' are not', async () => {
    const cwd = freshDir();
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw-1\n' }).status).toBe(0);
    expect(run(cwd, ['createuser', 'bob', '--password-stdin'], { input: 'pw-1\n' }).status).toBe(0);
    const filename = join(cwd, 'restjwt.sqlite3');
    let store = await openSqliteStore({ filename });
    const alice = (await store.findUser('username', 'alice'))!;
    const bob = (await store.findUser('username', 'bob'))!;
    const token = (jti: string, userId: string) => ({
      jti,
      userId,
      tokenType: 'refresh' as const,
      familyId: jti,
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    for (const t of [token('a1', alice.id), token('a2', alice.id), token('b1', bob.id)]) await store.recordOutstanding(t);
    await store.close();

    expect(run(cwd, ['changepassword', 'alice', '--password-stdin'], { input: 'pw-2\n' }).status).toBe(0);
    store = await openSqliteStore({ filename });
    try {
      expect(await store.isBlacklisted('a1')).toBe(true);
      expect(await store.isBlacklisted('a2')).toBe(true);
      expect(await store.isBlacklisted('b1')).toBe(false);
      expect((await store.findUser('id', alice.id))?.tokenVersion).not.toBe(alice.tokenVersion);
    } finally {
      await store.close();
    }
  });

  test('an unreachable server database is reported with what to check, without the password', () => {
    const r = run(freshDir(), ['migrate', '--database', 'postgres://user:secret@127.0.0.1:1/app']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^restjwt: The PostgreSQL database 127\.0\.0\.1:1\/app is unreachable \(.*ECONNREFUSED.*check that the server is running/);
    expect(r.stderr).not.toContain('secret');
  });

  test('an unknown database URL scheme is refused with the accepted forms', () => {
    const r = run(freshDir(), ['migrate', '--database', 'oracle://user:secret@db/app']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^restjwt: Unsupported database URL \(a oracle: URL\).*sqlite:.*postgres:\/\/.*mysql:\/\//);
    expect(r.stderr).not.toContain('secret');
  });
});

describe('look-alike usernames (NFKC, as Django)', () => {
  /** Users as rows written by SQL, below restjwt's rule (a database from before it, or an operator's INSERT). */
  function insertUsers(file: string, usernames: readonly string[]): void {
    const db = new Database(file);
    try {
      const insert = db.prepare(
        "INSERT INTO restjwt_user (username, email, password, is_active, is_staff, date_joined, token_version) VALUES (?, '', '', 1, 0, 0, 'v')",
      );
      db.transaction(() => usernames.forEach((u) => insert.run(u)))();
    } finally {
      db.close();
    }
  }

  function usernames(file: string): string[] {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare('SELECT username FROM restjwt_user ORDER BY id').pluck().all() as string[];
    } finally {
      db.close();
    }
  }

  test('createuser refuses a look-alike of an existing username, saying what to do; a new name is stored in NFKC form', () => {
    const cwd = freshDir();
    const file = join(cwd, 'restjwt.sqlite3');
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw-1\n' }).status).toBe(0);
    for (const lookAlike of ['ａｌｉｃｅ', '𝐚𝐥𝐢𝐜𝐞']) {
      const dup = run(cwd, ['createuser', lookAlike, '--password-stdin'], { input: 'pw-2\n' });
      expect(dup.status).toBe(1);
      expect(dup.stderr).toBe(
        `restjwt: A user named "alice" already exists ("${lookAlike}" is the same username once normalised to NFKC, as Django ` +
          'normalises usernames). Pick another username, or use "restjwt changepassword alice" to change its password.\n',
      );
    }
    expect(usernames(file)).toEqual(['alice']);

    const bob = run(cwd, ['createuser', 'ｂｏｂ', '--password-stdin'], { input: 'pw-3\n' });
    expect(bob.status).toBe(0);
    expect(bob.stdout).toMatch(/^Created user "bob" \(id \d+\)\.\n$/);
    expect(bob.stderr).toMatch(/"ｂｏｂ" was stored in its NFKC form "bob"/);
    expect(usernames(file)).toEqual(['alice', 'bob']);
    // changepassword finds users by the same rule.
    expect(run(cwd, ['changepassword', 'ｂｏｂ', '--password-stdin'], { input: 'pw-4\n' }).stdout).toBe('Changed the password of "bob".\n');
  });

  test('checkusernames: exit 0 on a clean database; look-alike and non-NFKC rows written by SQL are listed with their ids, exit 1', () => {
    const cwd = freshDir();
    const file = join(cwd, 'restjwt.sqlite3');
    expect(run(cwd, ['migrate']).status).toBe(0);
    // More than two pages (500 users each), with the look-alikes of alice in different pages.
    insertUsers(file, ['alice', ...Array.from({ length: 1198 }, (_, i) => `user${i}`), 'carol']);
    const clean = run(cwd, ['checkusernames']);
    expect(clean.stdout).toBe('Checked 1200 users: no look-alike usernames, every username in NFKC form.\n');
    expect(clean.stderr).toBe('checked 500 users…\nchecked 1000 users…\nchecked 1200 users…\n');
    expect(clean.status).toBe(0);

    insertUsers(file, ['ａｌｉｃｅ', 'ｄａｖｅ', 'ⓐⓛⓘⓒⓔ', 'ｃａｒｏｌ\u00A0']);
    const before = usernames(file);
    const dirty = run(cwd, ['checkusernames', '--database', 'sqlite:./restjwt.sqlite3']);
    expect(dirty.status).toBe(1);
    expect(dirty.stdout).toBe(
      'Look-alike usernames (the same once normalised to NFKC, as Django normalises usernames):\n' +
        '  "alice": id 1 "alice", id 1201 "ａｌｉｃｅ", id 1203 "ⓐⓛⓘⓒⓔ"\n' +
        'Usernames not stored in NFKC form:\n' +
        '  id 1201 "ａｌｉｃｅ" (NFKC form: "alice")\n' +
        '  id 1202 "ｄａｖｅ" (NFKC form: "dave")\n' +
        '  id 1203 "ⓐⓛⓘⓒⓔ" (NFKC form: "alice")\n' +
        '  id 1204 "ｃａｒｏｌ\\u{a0}" (NFKC form: "carol ")\n' +
        'Checked 1204 users: 1 group of look-alike usernames, 4 usernames not in NFKC form.\n',
    );
    expect(dirty.stderr).toMatch(/^checked 500 users…\nchecked 1000 users…\nchecked 1204 users…\nrestjwt: Some usernames need attention; nothing was changed\..*rename.*"restjwt checkusernames" again\.\n$/s);
    // Reported, never merged or renamed.
    expect(usernames(file)).toEqual(before);
  });
});

describe('database maintenance', () => {
  test('migrate twice: the second run has nothing to apply', () => {
    const cwd = freshDir();
    const first = run(cwd, ['migrate', '--database', 'sqlite:./app.db']);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^Applied \S+/m);
    const second = run(cwd, ['migrate'], { env: { RESTJWT_DATABASE: 'sqlite:./app.db' } });
    expect(second.status).toBe(0);
    expect(second.stdout).toBe('No migrations to apply.\n');
  });

  test('flushexpiredtokens deletes expired tokens and prints a summary', async () => {
    const cwd = freshDir();
    const store = await openSqliteStore({ filename: join(cwd, 'restjwt.sqlite3') });
    const past = new Date(Date.now() - 3600_000);
    const future = new Date(Date.now() + 3600_000);
    for (const [jti, expiresAt] of [['a', past], ['b', past], ['c', future]] as const) {
      await store.recordOutstanding({ jti, userId: null, tokenType: 'refresh', familyId: null, createdAt: past, expiresAt });
    }
    await store.close();

    const r = run(cwd, ['flushexpiredtokens']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('Deleted 2 expired tokens.\n');
    expect(r.stderr).toMatch(/deleted 2 expired tokens…/);
    expect(run(cwd, ['flushexpiredtokens']).stdout).toBe('Deleted 0 expired tokens.\n');
  });

  test('flushaudit trims the audit log to the retention (auditRetention, or --older-than) in batches, with progress', async () => {
    const cwd = freshDir();
    const store = await openSqliteStore({ filename: join(cwd, 'restjwt.sqlite3') });
    const day = 86_400_000;
    const event = (ageDays: number) => ({ type: 'login_failed' as const, at: new Date(Date.now() - ageDays * day), userId: null, username: 'x', actorId: null, familyId: null, clientAddress: null, userAgent: null, detail: {} });
    // 1 500 events older than 90 days (two batches), 3 between 10 and 90 days, 2 recent ones.
    for (let i = 0; i < 1500; i++) await store.appendAudit(event(91 + (i % 30)));
    for (const age of [11, 40, 89]) await store.appendAudit(event(age));
    for (const age of [0, 1]) await store.appendAudit(event(age));
    await store.close();

    const r = run(cwd, ['flushaudit']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Deleted 1500 audit events from before \d{4}-\d{2}-\d{2}T/);
    expect(r.stderr).toMatch(/deleted 1000 audit events…\ndeleted 1500 audit events…/);
    // A shorter retention from the settings, then from the flag.
    const settings = { RESTJWT_SETTINGS: JSON.stringify({ auditRetention: '30d' }) };
    expect(run(cwd, ['flushaudit'], { env: settings }).stdout).toMatch(/^Deleted 2 audit events /);
    expect(run(cwd, ['flushaudit', '--older-than', '12h']).stdout).toMatch(/^Deleted 2 audit events /);
    const reopened = await openSqliteStore({ filename: join(cwd, 'restjwt.sqlite3') });
    try {
      expect((await reopened.listAudit()).events.map((e) => Math.round((Date.now() - e.at.getTime()) / day))).toEqual([0]);
    } finally {
      await reopened.close();
    }
    const bad = run(cwd, ['flushaudit', '--older-than', 'soon']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--older-than must be a duration such as "90d"/);
  });

  test('changepassword writes a password_changed audit event (via the command line, no actor)', async () => {
    const cwd = freshDir();
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw-1\n' }).status).toBe(0);
    expect(run(cwd, ['changepassword', 'alice', '--password-stdin'], { input: 'pw-2\n' }).status).toBe(0);
    const store = await openSqliteStore({ filename: join(cwd, 'restjwt.sqlite3') });
    try {
      const alice = await store.findUser('username', 'alice');
      expect((await store.listAudit()).events).toMatchObject([{ type: 'password_changed', userId: alice?.id, username: 'alice', actorId: null, detail: { via: 'cli' } }]);
    } finally {
      await store.close();
    }
  });
});

describe('keygen', () => {
  test.each(['ES256', 'RS256', 'EdDSA'])('%s prints a PKCS#8 private key and its public JWK', async (alg) => {
    const r = run(freshDir(), ['keygen', '--alg', alg]);
    expect(r.status).toBe(0);
    const end = '-----END PRIVATE KEY-----';
    const cut = r.stdout.indexOf(end) + end.length;
    const pem = r.stdout.slice(0, cut);
    expect(pem.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
    const jwk = JSON.parse(r.stdout.slice(cut)) as Record<string, string>;

    const fromPem = createPublicKey(createPrivateKey(pem)).export({ format: 'jwk' }) as JsonWebKey;
    for (const member of ['kty', 'crv', 'x', 'y', 'n', 'e'] as const) expect(jwk[member]).toBe(fromPem[member]);
    expect(jwk.d).toBeUndefined();
    expect(jwk).toMatchObject({ alg, use: 'sig' });
    expect(jwk.kid).toBe(await calculateJwkThumbprint(fromPem as Parameters<typeof calculateJwkThumbprint>[0]));
  });

  test('--kid overrides the thumbprint; HS256 prints a long random secret', () => {
    const cwd = freshDir();
    const withKid = run(cwd, ['keygen', '--alg', 'ES256', '--kid', 'key-2024']);
    expect(withKid.stdout).toContain('"kid": "key-2024"');

    const hs = run(cwd, ['keygen', '--alg', 'HS256']);
    expect(hs.status).toBe(0);
    const secret = hs.stdout.trim();
    expect(secret).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(run(cwd, ['keygen', '--alg', 'HS256']).stdout.trim()).not.toBe(secret);

    const bad = run(cwd, ['keygen', '--alg', 'none']);
    expect(bad.status).toBe(1);
  });
});

describe('serve', () => {
  test('logs in, keeps its generated key across restarts, stops cleanly on SIGTERM', async () => {
    const cwd = freshDir();
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw\n' }).status).toBe(0);

    const first = await startServer(cwd);
    expect(first.stderr()).toMatch(/rotateRefreshTokens and blacklistAfterRotation are on/);
    expect(first.stderr()).toMatch(/created a new signing key in .*signing-key/);
    const keyFile = join(cwd, 'signing-key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const { access, refresh } = await login(first.url, 'alice', 'pw');
    expect(await getProtected(first.url, access)).toBe(200);
    // Rotation is on: a refresh returns a new refresh token.
    const refreshed = await fetch(`${first.url}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh }),
    });
    expect(((await refreshed.json()) as { refresh?: string }).refresh).toEqual(expect.any(String));
    first.child.kill('SIGTERM');
    expect(await first.exit).toEqual({ code: 0, signal: null });

    const second = await startServer(cwd);
    expect(second.stderr()).toMatch(/using the signing key in .*signing-key/);
    expect(await getProtected(second.url, access)).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exit).toEqual({ code: 0, signal: null });
  });

  test('rotatekey: a new key signs, the old one keeps verifying, nobody is logged out', async () => {
    const cwd = freshDir();
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw\n' }).status).toBe(0);
    const first = await startServer(cwd);
    const old = await login(first.url, 'alice', 'pw');
    first.child.kill('SIGTERM');
    await first.exit;
    const oldKey = readFileSync(join(cwd, 'signing-key'), 'utf8');

    const rotated = run(cwd, ['rotatekey']);
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(/New signing key [\w-]{16} .* now only verifies/);
    expect(readFileSync(join(cwd, 'signing-key'), 'utf8')).not.toBe(oldKey);
    expect(statSync(join(cwd, 'retired-keys.json')).mode & 0o777).toBe(0o600);

    const second = await startServer(cwd);
    expect(second.stderr()).toMatch(/1 retired signing key\(s\) still verify/);
    expect(await getProtected(second.url, old.access)).toBe(200);
    const res = await fetch(`${second.url}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh: old.refresh }),
    });
    expect(res.status).toBe(200);
    const fresh = (await res.json()) as { access: string };
    const kid = (t: string) => (JSON.parse(Buffer.from(t.split('.')[0] ?? '', 'base64url').toString()) as { kid?: string }).kid;
    expect(kid(fresh.access)).not.toBe(kid(old.access));
    second.child.kill('SIGTERM');
    expect(await second.exit).toEqual({ code: 0, signal: null });

    // A configured key is not rotated behind the operator's back.
    const refused = run(cwd, ['rotatekey'], { env: { RESTJWT_SIGNING_KEY: 'x'.repeat(64) } });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/additionalVerifyingKeys/);
  });

  test('--workers 2 serves requests and exits cleanly on SIGTERM', async () => {
    const cwd = freshDir();
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw\n' }).status).toBe(0);
    const server = await startServer(cwd, ['--workers', '2']);
    expect(server.stderr()).toMatch(/\(2 workers\)/);
    const { access } = await login(server.url, 'alice', 'pw');
    const statuses = await Promise.all(Array.from({ length: 8 }, () => getProtected(server.url, access)));
    expect(statuses).toEqual(Array(8).fill(200));
    server.child.kill('SIGTERM');
    expect(await server.exit).toEqual({ code: 0, signal: null });
  });

  test('throttling and last-login recording are on by default, say so, and say where attempts are counted', async () => {
    const cwd = freshDir();
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw\n' }).status).toBe(0);
    const server = await startServer(cwd);
    expect(server.stderr()).toMatch(/loginThrottle is on: .*"loginThrottle": false/);
    expect(server.stderr()).toMatch(/updateLastLogin is on: .*"updateLastLogin": false/);
    expect(server.stderr()).toMatch(/login throttling counts attempts in this process/);
    await login(server.url, 'alice', 'pw');
    const wrong = () =>
      fetch(`${server.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'nope' }) });
    for (let i = 0; i < 5; i++) expect((await wrong()).status).toBe(401);
    const locked = await wrong();
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('300');
    server.child.kill('SIGTERM');
    expect(await server.exit).toEqual({ code: 0, signal: null });
    // The core's warnings at run time go to the JSON log (after the exit, so every line has been read).
    const throttledLines = server.stdout().split('\n').filter((l) => l.includes('"login_throttled"'));
    expect(throttledLines).toHaveLength(1);
    expect(JSON.parse(throttledLines[0] ?? '{}')).toMatchObject({ level: 40, event: 'login_throttled', msg: 'login_throttled' });
    expect(server.stdout()).not.toContain('nope');
    const store = await openSqliteStore({ filename: join(cwd, 'restjwt.sqlite3') });
    try {
      expect((await store.findUser('username', 'alice'))?.lastLogin).toBeInstanceOf(Date);
    } finally {
      await store.close();
    }

    // Set in the config: no default applied, no notice; throttling off, so no counting line either.
    writeFileSync(join(cwd, 'off.json'), JSON.stringify({ loginThrottle: false, UPDATE_LAST_LOGIN: false }));
    const off = await startServer(cwd, ['--config', 'off.json']);
    expect(off.stderr()).not.toMatch(/loginThrottle|updateLastLogin|login throttling/);
    off.child.kill('SIGTERM');
    expect(await off.exit).toEqual({ code: 0, signal: null });
  });

  test('--workers: each worker counts in its own memory (said at start-up), or all in Redis with --redis', async () => {
    const cwd = freshDir();
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw\n' }).status).toBe(0);
    const local = await startServer(cwd, ['--workers', '2']);
    expect(local.stderr()).toMatch(/login throttling counts attempts in each worker process, not shared: with 2 workers/);
    local.child.kill('SIGTERM');
    expect(await local.exit).toEqual({ code: 0, signal: null });
    // The Redis part is skipped (probeRedis says so) when no Redis runs.
    if (!(await probeRedis()).ok) return;
    const prefix = `${uniqueName('rjt')}:`;
    try {
      const shared = await startServer(cwd, ['--workers', '2', '--redis', REDIS_URL], { RESTJWT_REDIS_PREFIX: prefix });
      expect(shared.stderr()).toMatch(/login throttling counts attempts in Redis \(shared by every instance\)/);
      shared.child.kill('SIGTERM');
      expect(await shared.exit).toEqual({ code: 0, signal: null });
    } finally {
      await deleteRedisKeys(prefix);
    }
  });

  test('rotation without blacklisting: serve prints the core\'s warning once, in one process or with --workers', async () => {
    const cwd = freshDir();
    writeFileSync(join(cwd, 'config.json'), JSON.stringify({ blacklistAfterRotation: false }));
    for (const args of [[], ['--workers', '2']]) {
      const server = await startServer(cwd, ['--config', 'config.json', ...args]);
      // The listening line comes after every worker started, hence after their start-up lines.
      const warnings = server.stderr().match(/warning \(rotation_without_blacklist\): [^\n]*/g) ?? [];
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/an old refresh token keeps working after rotation.*simplejwt.*blacklistAfterRotation: true/);
      expect(server.stderr()).toMatch(/rotateRefreshTokens is on: /);
      server.child.kill('SIGTERM');
      expect(await server.exit).toEqual({ code: 0, signal: null });
      expect(server.stderr().match(/rotation_without_blacklist/g)).toHaveLength(1);
    }
  });

  test('one access line per request by default; --no-request-log (or RESTJWT_REQUEST_LOG=0): none; the start-up line stays', async () => {
    const cwd = freshDir();
    expect(run(cwd, ['createuser', 'alice', '--password-stdin'], { input: 'pw\n' }).status).toBe(0);
    const cases: { args: string[]; env: Record<string, string>; requestLines: boolean }[] = [
      { args: [], env: {}, requestLines: true },
      { args: ['--no-request-log'], env: {}, requestLines: false },
      { args: [], env: { RESTJWT_REQUEST_LOG: '0' }, requestLines: false },
      { args: ['--no-request-log'], env: { RESTJWT_REQUEST_LOG: '1' }, requestLines: false }, // the flag wins
      { args: [], env: { RESTJWT_REQUEST_LOG: 'on' }, requestLines: true },
    ];
    for (const c of cases) {
      const server = await startServer(cwd, c.args, c.env);
      const res = await fetch(`${server.url}/api/public/`);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exit).toEqual({ code: 0, signal: null });
      // After the exit, so every line the server wrote has been read.
      const messages = logMessages(server.stdout());
      expect(messages.some((m) => m.startsWith('Server listening at'))).toBe(true);
      const requestLines = messages.filter((m) => m === 'request' || m === 'incoming request' || m === 'request completed');
      expect({ ...c, logged: requestLines }).toEqual({ ...c, logged: c.requestLines ? ['request'] : [] });
    }
  });

  test('RESTJWT_REQUEST_LOG with another value: exit 1 saying which values work', () => {
    const cwd = freshDir();
    const r = run(cwd, ['serve', '--port', '0'], { env: { RESTJWT_REQUEST_LOG: 'quiet' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('restjwt: RESTJWT_REQUEST_LOG must be 1 or 0 (or true/false, yes/no, on/off), not "quiet". Fix it or unset it.\n');
  });

  test('an asymmetric algorithm without a key: exit 1 naming RESTJWT_SIGNING_KEY and keygen', () => {
    const cwd = freshDir();
    const r = run(cwd, ['serve', '--port', '0'], { env: { RESTJWT_SETTINGS: '{"algorithm":"ES256"}' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'restjwt: ES256 needs a key: set RESTJWT_SIGNING_KEY (or "signingKey" in the --config file) to a private key, PEM or JWK, ' +
        'or set "verifyingKey" / "jwkUrl" in the config to only verify tokens. "npx restjwt keygen --alg ES256" makes a key pair.\n',
    );
  });

  test('refuses a key file other users can read', () => {
    const cwd = freshDir();
    writeFileSync(join(cwd, 'signing-key'), 'x'.repeat(86));
    chmodSync(join(cwd, 'signing-key'), 0o644);
    const r = run(cwd, ['serve', '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`chmod 600 ${join(cwd, 'signing-key')}`);
  });

  test('bad --config JSON: exit 1 naming the file and the position', () => {
    const cwd = freshDir();
    writeFileSync(join(cwd, 'bad.json'), '{\n  "accessTokenLifetime": "5m",\n  oops\n}\n');
    const r = run(cwd, ['serve', '--port', '0', '--config', 'bad.json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^restjwt: The config file bad\.json is not valid JSON: .*\(line 3, column 3\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(cwd, 'restjwt.sqlite3'))).toBe(false);
  });

  test('an unknown setting: exit 1 naming the setting', () => {
    const cwd = freshDir();
    const r = run(cwd, ['serve', '--port', '0'], { env: { RESTJWT_SETTINGS: '{"ACCESS_TOKEN_LIFETIM": "5m"}' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^restjwt: In RESTJWT_SETTINGS: Unknown setting "ACCESS_TOKEN_LIFETIM"/);
  });
});
