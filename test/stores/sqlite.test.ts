import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../../packages/core/src/store/errors.js';
import { CredentialExistsError } from '../../packages/core/src/stores/shared/errors.js';
import type { AuditEvent, AuditEventType, NewFactor } from '../../packages/core/src/store/types.js';
import { appliedMigrations, migrate, migrations, type Migration } from '../../packages/sqlite/src/migrations.js';
import { openSqliteStore, SqliteStore } from '@restjwt/sqlite';
import { sqliteFilenameFromUrl } from '../../packages/sqlite/src/url.js';
import { makeToken, runStoreContract } from './contract.js';
import { startApp } from '../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'restjwt-sqlite-'));
let counter = 0;
const freshFile = (): string => join(dir, `db-${++counter}.sqlite3`);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

runStoreContract('sqlite', () => openSqliteStore({ filename: freshFile() }));
runStoreContract('sqlite (:memory:)', () => openSqliteStore({ filename: ':memory:' }));

/** Stores opened by a test, closed after it even when it fails. */
const opened: SqliteStore[] = [];
const raws: Database.Database[] = [];
async function open(filename: string, options: { migrate?: boolean; busyTimeoutMs?: number } = {}): Promise<SqliteStore> {
  const store = await openSqliteStore({ filename, ...options });
  opened.push(store);
  return store;
}
function raw(filename: string): Database.Database {
  const db = new Database(filename);
  raws.push(db);
  return db;
}

/** SQLite's plan for `query` (EXPLAIN QUERY PLAN) bound to `params`, one line per step: what an index assertion reads. */
function queryPlan(db: Database.Database, query: string, ...params: object[]): string {
  return db
    .prepare<object[], { detail: string }>(`EXPLAIN QUERY PLAN ${query}`)
    .all(...params)
    .map((row) => row.detail)
    .join('\n');
}
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  for (const db of raws.splice(0)) if (db.open) db.close();
});

describe('sqliteFilenameFromUrl', () => {
  it.each([
    ['sqlite:./path.sqlite3', './path.sqlite3'],
    ['sqlite:db.sqlite3', 'db.sqlite3'],
    ['sqlite:../data/db.sqlite3', '../data/db.sqlite3'],
    ['sqlite:///abs/path', '/abs/path'],
    ['sqlite:///var/lib/my%20app/db.sqlite3', '/var/lib/my app/db.sqlite3'],
    ['sqlite:///C:/data/db.sqlite3', 'C:/data/db.sqlite3'],
    ['sqlite::memory:', ':memory:'],
    ['SQLITE::memory:', ':memory:'],
    ['  sqlite:./x.db  ', './x.db'],
  ])('%s → %s', (url, filename) => {
    expect(sqliteFilenameFromUrl(url)).toBe(filename);
  });

  it.each(['sqlite:', 'sqlite://', 'sqlite:///', 'sqlite://host/db.sqlite3', 'sqlite:./db?mode=ro', 'sqlite:./bad%zz', './db.sqlite3', 'file:./db'])(
    'rejects %s, naming the valid forms',
    (url) => {
      expect(() => sqliteFilenameFromUrl(url)).toThrow(/sqlite:\.\/db\.sqlite3.*sqlite:\/\/\/.*sqlite::memory:/);
    },
  );

  it('does not echo the URL of another backend (it may hold a password)', () => {
    expect(() => sqliteFilenameFromUrl('postgres://app:s3cret@db/app')).toThrow(/got a postgres: URL/);
    expect(() => sqliteFilenameFromUrl('postgres://app:s3cret@db/app')).not.toThrow(/s3cret/);
  });
});

describe('SQLite migrations', () => {
  it('open applies the schema; the migrations table records it', async () => {
    const file = freshFile();
    const store = await open(file);
    expect(await store.migrate()).toEqual([]);
    const db = raw(file);
    expect(appliedMigrations(db)).toEqual(['0001_initial', '0002_families', '0003_revoked_access', '0004_sessions_identities', '0005_audit_log', '0006_factors']);
    const tables = db.prepare<[], string>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
    expect(tables).toEqual(
      expect.arrayContaining([
        'restjwt_audit_event',
        'restjwt_blacklisted_token',
        'restjwt_factor',
        'restjwt_identity',
        'restjwt_migrations',
        'restjwt_one_time',
        'restjwt_outstanding_token',
        'restjwt_recovery_code',
        'restjwt_revoked_access',
        'restjwt_session',
        'restjwt_user',
      ]),
    );
    const indexes = db.prepare<[], string>(`SELECT name FROM sqlite_master WHERE type = 'index'`).pluck().all();
    expect(indexes).toEqual(
      expect.arrayContaining([
        'restjwt_outstanding_token_jti_uniq',
        'restjwt_outstanding_token_user_id_idx',
        'restjwt_outstanding_token_expires_at_idx',
        'restjwt_outstanding_token_family_id_idx',
        'restjwt_blacklisted_token_token_id_uniq',
        'restjwt_session_family_id_uniq',
        'restjwt_session_user_id_idx',
        'restjwt_identity_provider_subject_uniq',
        'restjwt_identity_user_id_idx',
        'restjwt_one_time_key_uniq',
        'restjwt_one_time_expires_at_idx',
        'restjwt_audit_event_at_idx',
        'restjwt_audit_event_user_id_idx',
        'restjwt_audit_event_username_idx',
        'restjwt_factor_credential_id_uniq',
        'restjwt_factor_user_id_idx',
      ]),
    );
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('with migrate: false, nothing is created until migrate() runs', async () => {
    const file = freshFile();
    const store = await open(file, { migrate: false });
    await expect(store.ping()).resolves.toBeUndefined();
    await expect(store.countTokens()).rejects.toThrow(/no restjwt schema.*restjwt migrate/);

    expect(await store.migrate()).toEqual(['0001_initial', '0002_families', '0003_revoked_access', '0004_sessions_identities', '0005_audit_log', '0006_factors']);
    expect(await store.migrate()).toEqual([]);
    await store.recordOutstanding(makeToken());
    expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
  });

  it('a store opened before another process migrated picks the schema up', async () => {
    const file = freshFile();
    const early = await open(file, { migrate: false });
    await open(file); // migrates
    await early.recordOutstanding(makeToken());
    expect(await early.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
  });

  it('a database from before 0004_sessions_identities upgrades in place: data kept, sessions and identities work', async () => {
    const file = freshFile();
    const old = raw(file);
    expect(migrate(old, migrations.slice(0, 3))).toEqual(['0001_initial', '0002_families', '0003_revoked_access']);
    const now = Date.now();
    old.prepare(`INSERT INTO restjwt_user (username, password, date_joined, token_version) VALUES ('olga', 'h', ?, 'v')`).run(now);
    const insertToken = old.prepare(
      `INSERT INTO restjwt_outstanding_token (jti, user_id, token_type, family_id, created_at, expires_at) VALUES (?, 1, 'refresh', ?, ?, ?)`,
    );
    insertToken.run('old-login', 'old-login', now - 1000, now + 3_600_000);
    insertToken.run('old-revoked', 'old-revoked', now - 2000, now + 3_600_000);
    old.prepare(`INSERT INTO restjwt_blacklisted_token (token_id, blacklisted_at) VALUES (2, ?)`).run(now);
    old.close();

    // An instance still on the old schema with migrate: false waits for the migration instead of half-working.
    const early = await open(file, { migrate: false });
    await expect(early.countTokens()).rejects.toThrow(/restjwt migrate/);

    const store = await open(file, { migrate: false });
    expect(await store.migrate()).toEqual(['0004_sessions_identities', '0005_audit_log', '0006_factors']);
    expect(await store.migrate()).toEqual([]);
    expect(appliedMigrations(raw(file))).toEqual(migrations.map((m) => m.name));
    expect(await store.findUser('username', 'olga')).toMatchObject({ id: '1', tokenVersion: 'v' });
    expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
    expect(await store.isBlacklisted('old-revoked')).toBe(true);

    // Families issued before the upgrade have no session row: nothing is listed for them, and touching one is a no-op.
    await store.touchSession({ familyId: 'old-login', at: new Date(now), clientAddress: '192.0.2.1', userAgent: null });
    expect(await store.listSessions('1', { includeEnded: true })).toEqual([]);
    // Their tokens are listed, and new logins record sessions.
    expect((await store.listTokens({ userId: '1' })).map((t) => [t.jti, t.username, t.blacklistedAt !== null])).toEqual([
      ['old-login', 'olga', false],
      ['old-revoked', 'olga', true],
    ]);
    await store.recordSession('1', { familyId: 'old-login', at: new Date(now), clientAddress: '192.0.2.1', userAgent: 'UA' });
    expect(await store.listSessions('1')).toMatchObject([{ familyId: 'old-login', active: true, expiresAt: new Date(now + 3_600_000) }]);
    expect(await store.linkIdentity({ provider: 'github', subject: '1', userId: '1', email: null, at: new Date(now) })).toBe('linked');
    await store.putOneTime('k', 'v', new Date(now + 60_000));
    expect(await store.takeOneTime('k')).toBe('v');
    // The instance that waited picks the new schema up.
    expect(await early.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
    expect(await early.sessionOwner('old-login')).toBe('1');
  });

  it('a database from before 0005_audit_log upgrades in place: data kept, the audit log works', async () => {
    const file = freshFile();
    const old = raw(file);
    expect(migrate(old, migrations.slice(0, 4))).toEqual(['0001_initial', '0002_families', '0003_revoked_access', '0004_sessions_identities']);
    const now = Date.now();
    old.prepare(`INSERT INTO restjwt_user (username, password, date_joined, token_version) VALUES ('otto', 'h', ?, 'v')`).run(now);
    old.prepare(
      `INSERT INTO restjwt_outstanding_token (jti, user_id, token_type, family_id, created_at, expires_at) VALUES ('old', 1, 'refresh', 'old', ?, ?)`,
    ).run(now - 1000, now + 3_600_000);
    old.prepare(`INSERT INTO restjwt_session (family_id, user_id, created_at, last_used_at) VALUES ('old', 1, ?, ?)`).run(now, now);
    old.close();

    // An instance on the old schema with migrate: false waits for the migration instead of half-working.
    const early = await open(file, { migrate: false });
    await expect(early.listAudit()).rejects.toThrow(/restjwt migrate/);

    const store = await open(file, { migrate: false });
    expect(await store.migrate()).toEqual(['0005_audit_log', '0006_factors']);
    expect(appliedMigrations(raw(file))).toEqual(migrations.map((m) => m.name));
    expect(await store.findUser('username', 'otto')).toMatchObject({ id: '1', tokenVersion: 'v' });
    expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
    expect(await store.sessionOwner('old')).toBe('1');
    expect(await store.listAudit()).toEqual({ events: [], next: null });
    // A change recorded before the upgrade is audited like any other.
    expect(await store.revokeUser('1', { audit: auditEvent('logout_all', { userId: '1' }) })).toBe(1);
    expect((await store.listAudit({ user: '1' })).events).toMatchObject([{ id: '1', type: 'logout_all', detail: { revoked: 1 } }]);
    expect(await early.listAudit()).toMatchObject({ events: [{ type: 'logout_all' }] });
  });

  it('a database from before 0006_factors upgrades in place: data kept, second factors work', async () => {
    const file = freshFile();
    const old = raw(file);
    expect(migrate(old, migrations.slice(0, 5))).toEqual(['0001_initial', '0002_families', '0003_revoked_access', '0004_sessions_identities', '0005_audit_log']);
    const now = Date.now();
    old.prepare(`INSERT INTO restjwt_user (username, password, date_joined, token_version) VALUES ('fritz', 'h', ?, 'v')`).run(now);
    old.prepare(
      `INSERT INTO restjwt_outstanding_token (jti, user_id, token_type, family_id, created_at, expires_at) VALUES ('old', 1, 'refresh', 'old', ?, ?)`,
    ).run(now - 1000, now + 3_600_000);
    old.prepare(`INSERT INTO restjwt_session (family_id, user_id, created_at, last_used_at) VALUES ('old', 1, ?, ?)`).run(now, now);
    old.prepare(`INSERT INTO restjwt_audit_event (type, at, user_id, detail) VALUES ('login', ?, '1', '{}')`).run(now);
    old.close();

    // An instance on the old schema with migrate: false waits for the migration instead of half-working.
    const early = await open(file, { migrate: false });
    await expect(early.listFactors('1')).rejects.toThrow(/restjwt migrate/);
    await expect(early.countTokens()).rejects.toThrow(/restjwt migrate/);

    const store = await open(file, { migrate: false });
    expect(await store.migrate()).toEqual(['0006_factors']);
    expect(appliedMigrations(raw(file))).toEqual(migrations.map((m) => m.name));
    expect(await store.findUser('username', 'fritz')).toMatchObject({ id: '1', tokenVersion: 'v' });
    expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
    expect(await store.sessionOwner('old')).toBe('1');
    expect((await store.listAudit()).events).toMatchObject([{ type: 'login', userId: '1' }]);
    // A user from before the upgrade has no factor, and can add one.
    expect(await store.listFactors('1')).toEqual([]);
    expect(await store.countRecoveryCodes('1')).toBe(0);
    const factor = await store.addFactor(newTotp('1'), { audit: auditEvent('factor_added', { userId: '1' }) });
    await store.setRecoveryCodes('1', ['h1', 'h2']);
    expect(await early.listFactors('1')).toEqual([factor]);
    expect(await early.countRecoveryCodes('1')).toBe(2);
    expect((await early.listAudit()).events.map((e) => e.type)).toEqual(['factor_added', 'login']);
  });

  it('applies only missing migrations, in order, and rolls back a failing run', () => {
    const db = raw(freshFile());
    const m1: Migration = { name: 'm1', up: ['CREATE TABLE a (x INTEGER)'] };
    const m2: Migration = { name: 'm2', up: ['CREATE TABLE b (x INTEGER)', 'INSERT INTO b VALUES (1)'] };
    const bad: Migration = { name: 'bad', up: ['CREATE TABLE c (x INTEGER)', 'INSERT INTO no_such_table VALUES (1)'] };

    expect(migrate(db, [m1])).toEqual(['m1']);
    expect(migrate(db, [m1, m2])).toEqual(['m2']);
    expect(migrate(db, [m1, m2])).toEqual([]);
    expect(() => migrate(db, [m1, m2, bad])).toThrow(/no_such_table/);
    expect(appliedMigrations(db)).toEqual(['m1', 'm2']);
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'c'`).get()).toBeUndefined();
  });
});

describe('SqliteStore', () => {
  it('keeps schema and data across a reopen', async () => {
    const file = freshFile();
    const first = await open(file);
    const user = await first.createUser({ username: 'olivia', email: 'o@example.com', passwordHash: 'h' });
    const token = makeToken({ userId: user.id });
    await first.recordOutstanding(token);
    await first.blacklist(token);
    await first.close();

    const second = await open(file);
    expect(await second.migrate()).toEqual([]);
    expect(await second.findUser('username', 'olivia')).toEqual(user);
    expect(await second.isBlacklisted(token.jti)).toBe(true);
    expect(await second.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
    await second.close();

    const third = await open(file, { migrate: false });
    expect(await third.findUser('id', user.id)).toEqual(user);
    expect(await third.createUser({ username: 'peggy', passwordHash: 'h' })).toMatchObject({ id: String(Number(user.id) + 1) });
  });

  it('returns user ids as decimal strings', async () => {
    const store = await open(freshFile());
    const a = await store.createUser({ username: 'a', passwordHash: 'h' });
    const b = await store.createUser({ username: 'b', passwordHash: 'h' });
    expect([a.id, b.id]).toEqual(['1', '2']);
    expect(await store.findUser('id', '01')).toBeNull();
    expect(await store.findUser('id', '1.0')).toBeNull();
    expect(await store.findUser('id', '99999999999999999999')).toBeNull();
  });

  // Its own writes at once; other connections' commits from the next turn of the event loop on, which is when a
  // request that arrives after them is handled (user-cache.ts says why that is the same promise as a SELECT).
  it('findUser by id (cached between writes) sees every change: its own at once, another connection\'s and another process\'s from the next turn', async () => {
    const file = freshFile();
    const a = await open(file);
    const b = await open(file);
    const u = await a.createUser({ username: 'una', passwordHash: 'h' });
    const seen = async () => {
      const found = await a.findUser('id', u.id);
      return found === null ? null : { isActive: found.isActive, isStaff: found.isStaff, tokenVersion: found.tokenVersion, passwordHash: found.passwordHash };
    };
    const first = await seen();
    expect(await seen()).toEqual(first); // a repeated lookup (from the cache)
    await a.setActive(u.id, false); // this connection's own write
    expect(await seen()).toMatchObject({ isActive: false });
    await b.setActive(u.id, true); // another connection, as another worker would
    await nextTurn();
    expect(await seen()).toMatchObject({ isActive: true });
    await b.renewTokenVersion(u.id);
    await nextTurn();
    expect((await seen())?.tokenVersion).not.toBe(first?.tokenVersion);
    raw(file).prepare('UPDATE restjwt_user SET is_staff = 1 WHERE id = ?').run(Number(u.id)); // not through a store at all
    await nextTurn();
    expect(await seen()).toMatchObject({ isStaff: true });
    // Another OS process (restjwt deactivate, Django on the same file).
    const update = `new (require('better-sqlite3'))(process.argv[1]).prepare("UPDATE restjwt_user SET password = 'from-elsewhere' WHERE id = ?").run(Number(process.argv[2]));`;
    await promisify(execFile)(process.execPath, ['-e', update, file, u.id], { cwd: resolve(import.meta.dirname, '../..') });
    expect(await seen()).toMatchObject({ passwordHash: 'from-elsewhere' });
    raw(file).prepare('DELETE FROM restjwt_user WHERE id = ?').run(Number(u.id));
    await nextTurn();
    expect(await seen()).toBeNull();
  });

  it('a request that arrives after another connection deactivated the user is refused, under load on the cache', async () => {
    const file = freshFile();
    const app = await startApp({}, { store: await open(file) });
    try {
      await app.user('ulla');
      const { access } = await app.login('ulla');
      const bearer = { authorization: `Bearer ${access}` };
      expect((await app.get('/api/protected/', bearer)).status).toBe(200); // the row is now in the cache
      // Requests in flight keep the event loop busy while the other connection commits.
      const load = Array.from({ length: 40 }, () => app.get('/api/protected/', bearer));
      const other = await open(file); // another worker's connection
      await other.setActive((await other.findUser('username', 'ulla'))!.id, false);
      const after = await app.get('/api/protected/', bearer);
      expect(after.status).toBe(401);
      expect(after.json).toMatchObject({ code: 'user_inactive' });
      expect((await Promise.all(load)).every((r) => r.status === 200 || r.status === 401)).toBe(true);
      await other.close();
    } finally {
      await app.close();
    }
  });

  it('two stores on one file (like two processes): of concurrent rotations exactly one wins', async () => {
    const file = freshFile();
    const a = await open(file);
    const b = await open(file);
    const presented = makeToken();
    await a.recordOutstanding(presented);

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).rotate(presented, makeToken())),
    );

    expect(results.filter((r) => r === 'rotated')).toHaveLength(1);
    expect(await a.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
    expect(await b.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
    expect(await b.isBlacklisted(presented.jti)).toBe(true);
  });

  it('separate OS processes rotating the same tokens: exactly one rotation per token wins', async () => {
    const file = freshFile();
    await (await open(file)).close();
    const script = buildStandaloneStore();
    const processes = 4;
    const tokens = 150;
    const startAt = Date.now() + 1500; // every process starts rotating at the same moment

    const outputs = await Promise.all(
      Array.from({ length: processes }, (_, worker) =>
        promisify(execFile)(process.execPath, [script, file, String(worker), String(tokens), String(startAt)], { timeout: 60_000 }),
      ),
    );
    const rotated = outputs.map((o) => (JSON.parse(o.stdout) as { rotated: number }).rotated);

    expect(rotated.reduce((sum, n) => sum + n, 0)).toBe(tokens);
    const store = await open(file);
    expect(await store.countTokens()).toEqual({ outstanding: 2 * tokens, blacklisted: tokens });
  }, 90_000);

  it('isBlacklisted is an indexed lookup, never a table scan', async () => {
    const store = await open(freshFile());
    const plan = store.explainIsBlacklisted();
    expect(plan.length).toBeGreaterThan(0);
    // e.g. SEARCH o USING COVERING INDEX restjwt_outstanding_token_jti_uniq (jti=?)
    //      SEARCH b USING COVERING INDEX restjwt_blacklisted_token_token_id_uniq (token_id=?)
    expect(plan.some((line) => /USING .*INDEX restjwt_outstanding_token_jti_uniq/.test(line))).toBe(true);
    expect(plan.filter((line) => /\bSCAN\b/.test(line))).toEqual([]);
    for (const line of plan) expect(line).toMatch(/USING .*INDEX/);
  });

  it('prepares its statements once, at open', async () => {
    const store = await open(freshFile());
    const prepare = vi.spyOn(Database.prototype, 'prepare');
    try {
      const user = await store.createUser({ username: 'q', passwordHash: 'h' });
      const token = makeToken({ userId: user.id });
      await store.findUser('username', 'q');
      await store.recordOutstanding(token);
      await store.isBlacklisted(token.jti);
      await store.rotate(token, makeToken());
      await store.blacklist(makeToken());
      await store.setPassword(user.id, 'h2');
      await store.flushExpired(new Date(), { batchSize: 1 });
      await store.countTokens();
      await store.ping();
      const use = { familyId: token.jti, at: new Date(), clientAddress: '192.0.2.1', userAgent: 'UA' };
      await store.recordSession(user.id, use);
      await store.touchSession(use);
      await store.listSessions(user.id, { includeEnded: true });
      await store.sessionOwner(token.jti);
      await store.listTokens({ userId: user.id, blacklisted: true });
      await store.countUsers();
      await store.linkIdentity({ provider: 'github', subject: '1', userId: user.id, email: null, at: new Date() });
      await store.touchIdentity('github', '1', null, new Date());
      await store.listIdentities(user.id);
      await store.putOneTime('k', 'v', new Date(Date.now() + 60_000));
      await store.takeOneTime('k');
      const audit = auditEvent('login', { userId: user.id });
      await store.recordOutstanding(makeToken({ userId: user.id }), { audit });
      await store.createUser({ username: 'q2', passwordHash: 'h' }, { audit: auditEvent('user_created') });
      await store.setActive(user.id, true, { audit: auditEvent('user_activated') });
      await store.blacklist(makeToken(), { audit: auditEvent('logout') });
      await store.revokeUser(user.id, { audit: auditEvent('logout_all') });
      await store.revokeFamily('f', { audit: auditEvent('session_revoked') });
      await store.unlinkIdentity(user.id, 'github', '1', { audit: auditEvent('identity_unlinked') });
      await store.appendAudit(auditEvent('login_failed'));
      await store.listAudit({ user: user.id });
      await store.listAudit({ type: 'login' });
      await store.countAudit({ since: new Date(0), until: new Date(), bucketSeconds: 60 });
      await store.flushAudit(new Date(), { batchSize: 1 });
      const factor = await store.addFactor(newTotp(user.id), { audit: auditEvent('factor_added') });
      await store.addFactor(newPasskey(user.id, 'cred'));
      await store.listFactors(user.id);
      await store.findFactorByCredential('cred');
      await store.confirmFactor(user.id, factor.id, { audit: auditEvent('factor_added') });
      await store.useFactor(factor.id, 1, new Date());
      await store.setRecoveryCodes(user.id, ['a', 'b'], { audit: auditEvent('recovery_codes_generated') });
      await store.useRecoveryCode(user.id, 'a', { audit: auditEvent('recovery_code_used') });
      await store.countRecoveryCodes(user.id);
      await store.removeFactor(user.id, factor.id, { audit: auditEvent('factor_removed') });
      await store.removeFactors(user.id, { audit: auditEvent('factors_reset') });
      expect(prepare).not.toHaveBeenCalled();
    } finally {
      prepare.mockRestore();
    }
  });

  it('a write lock held too long surfaces as StoreUnavailableError saying what to do', async () => {
    const file = freshFile();
    const store = await open(file, { busyTimeoutMs: 50 });
    const other = raw(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      const error = await store.blacklist(makeToken()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as StoreUnavailableError).message).toMatch(/locked by another connection for more than 50 ms.*Retry/);
      // Readers are not blocked by a writer in WAL mode.
      expect(await store.isBlacklisted('x')).toBe(false);
    } finally {
      other.exec('ROLLBACK');
    }
    expect(await store.blacklist(makeToken())).toBe('blacklisted');
  });

  it('opening a file in a missing directory fails with StoreUnavailableError', async () => {
    await expect(openSqliteStore({ filename: join(dir, 'missing', 'db.sqlite3') })).rejects.toThrow(
      /directory does not exist/,
    );
    await expect(openSqliteStore({ filename: join(dir, 'missing', 'db.sqlite3') })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('deleting a user deletes their tokens (foreign keys are on)', async () => {
    const file = freshFile();
    const store = await open(file);
    const user = await store.createUser({ username: 'r', passwordHash: 'h' });
    await store.blacklist(makeToken({ userId: user.id }));
    await store.recordOutstanding(makeToken({ userId: null }));
    // Deleting users is an admin operation outside the Store API; foreign_keys is per connection, so turn it on.
    const db = raw(file);
    db.pragma('foreign_keys = ON');
    db.prepare('DELETE FROM restjwt_user WHERE id = ?').run(Number(user.id));
    expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
  });

  it('deleting a user deletes their sessions and linked identities', async () => {
    const file = freshFile();
    const store = await open(file);
    const user = await store.createUser({ username: 's', passwordHash: 'h' });
    const token = makeToken({ userId: user.id });
    token.familyId = token.jti;
    await store.recordOutstanding(token);
    await store.recordSession(user.id, { familyId: token.jti, at: new Date(), clientAddress: null, userAgent: null });
    expect(await store.linkIdentity({ provider: 'github', subject: '7', userId: user.id, email: null, at: new Date() })).toBe('linked');
    const db = raw(file);
    db.pragma('foreign_keys = ON');
    db.prepare('DELETE FROM restjwt_user WHERE id = ?').run(Number(user.id));
    expect(await store.sessionOwner(token.jti)).toBeNull();
    expect(await store.findIdentity('github', '7')).toBeNull();
  });

  it('deleting a user deletes their second factors and recovery codes', async () => {
    const file = freshFile();
    const store = await open(file);
    const user = await store.createUser({ username: 't', passwordHash: 'h' });
    const other = await store.createUser({ username: 'u', passwordHash: 'h' });
    await store.addFactor(newPasskey(user.id, 'cred-t'));
    await store.setRecoveryCodes(user.id, ['h1']);
    await store.setRecoveryCodes(other.id, ['h1']);
    const db = raw(file);
    db.pragma('foreign_keys = ON');
    db.prepare('DELETE FROM restjwt_user WHERE id = ?').run(Number(user.id));
    expect(await store.findFactorByCredential('cred-t')).toBeNull();
    expect(db.prepare('SELECT count(*) FROM restjwt_recovery_code').pluck().get()).toBe(1);
    // The credential id is free for whoever registers it next.
    expect(await store.addFactor(newPasskey(other.id, 'cred-t'))).toMatchObject({ userId: other.id });
  });

  it('factor and recovery-code ids that cannot be rows match nothing', async () => {
    const store = await open(freshFile());
    const user = await store.createUser({ username: 'v', passwordHash: 'h' });
    const factor = await store.addFactor(newTotp(user.id));
    await store.setRecoveryCodes(user.id, ['h1']);
    for (const id of ['0' + factor.id, `${factor.id}.0`, '99999999999999999999', '']) {
      expect(await store.confirmFactor(user.id, id)).toBe(false);
      expect(await store.useFactor(id, 1, new Date())).toBe(false);
      expect(await store.removeFactor(user.id, id)).toBe(false);
    }
    for (const id of ['0' + user.id, `${user.id}.0`, 'abc']) {
      expect(await store.listFactors(id)).toEqual([]);
      expect(await store.countRecoveryCodes(id)).toBe(0);
      expect(await store.useRecoveryCode(id, 'h1')).toBe(false);
      expect(await store.removeFactors(id)).toBe(0);
      await expect(store.addFactor(newTotp(id))).rejects.toThrow(RangeError);
      await expect(store.setRecoveryCodes(id, ['h2'])).rejects.toThrow(RangeError);
    }
    expect(await store.listFactors(user.id)).toEqual([factor]);
    expect(await store.countRecoveryCodes(user.id)).toBe(1);
  });

  it('two stores on one file: a credential id taken through one is refused through the other', async () => {
    const file = freshFile();
    const a = await open(file);
    const b = await open(file);
    const user = await a.createUser({ username: 'w', passwordHash: 'h' });
    await a.addFactor(newPasskey(user.id, 'shared'));
    const error = await b.addFactor(newPasskey(user.id, 'shared'), { audit: auditEvent('factor_added', { userId: user.id }) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialExistsError);
    expect(await b.listFactors(user.id)).toHaveLength(1);
    expect((await b.listAudit()).events).toEqual([]);
  });

  it('the factor lookups are indexed', async () => {
    const file = freshFile();
    await open(file);
    const db = raw(file);
    const plan = (query: string) => queryPlan(db, query);
    expect(plan(`SELECT * FROM restjwt_factor WHERE credential_id = 'c'`)).toMatch(/INDEX restjwt_factor_credential_id_uniq/);
    expect(plan(`SELECT * FROM restjwt_factor WHERE user_id = 1 ORDER BY id`)).toMatch(/INDEX restjwt_factor_user_id_idx/);
    expect(plan(`UPDATE restjwt_factor SET counter = 2 WHERE id = 1 AND counter < 2`)).toMatch(/INTEGER PRIMARY KEY/);
    expect(plan(`DELETE FROM restjwt_recovery_code WHERE user_id = 1 AND code_hash = 'h'`)).toMatch(/PRIMARY KEY/);
    expect(plan(`SELECT count(*) FROM restjwt_recovery_code WHERE user_id = 1`)).toMatch(/PRIMARY KEY \(user_id=\?\)/);
  });

  it('takeOneTime and the session lookups are indexed', async () => {
    const file = freshFile();
    await open(file);
    const db = raw(file);
    const plan = (query: string) => queryPlan(db, query);
    expect(plan(`DELETE FROM restjwt_one_time WHERE "key" = 'k' RETURNING value`)).toMatch(/INDEX restjwt_one_time_key_uniq/);
    expect(plan(`SELECT user_id FROM restjwt_session WHERE family_id = 'f'`)).toMatch(/INDEX restjwt_session_family_id_uniq/);
    expect(plan(`SELECT * FROM restjwt_session WHERE user_id = 1`)).toMatch(/INDEX restjwt_session_user_id_idx/);
    expect(plan(`SELECT user_id FROM restjwt_identity WHERE provider = 'p' AND subject = 's'`)).toMatch(
      /INDEX restjwt_identity_provider_subject_uniq/,
    );
  });
});

describe('SQLite audit log', () => {
  /** A trigger that aborts every `action` on `table`, as a full disk or a constraint would fail a write. */
  const failEvery = (file: string, action: 'INSERT' | 'UPDATE', table: string) =>
    raw(file).exec(`CREATE TRIGGER fail_${table} BEFORE ${action} ON ${table} BEGIN SELECT RAISE(ABORT, 'x'); END`);
  const auditRows = (file: string) => raw(file).prepare<[], number>('SELECT count(*) FROM restjwt_audit_event').pluck().get();

  it('a change that fails writes no event: setPassword refused by the database leaves no audit row', async () => {
    const file = freshFile();
    const store = await open(file);
    const user = await store.createUser({ username: 'vera', passwordHash: 'h' });
    await store.findUser('id', user.id); // cached
    failEvery(file, 'UPDATE', 'restjwt_user');
    await expect(store.setPassword(user.id, 'h2', { audit: auditEvent('password_changed', { userId: user.id }) })).rejects.toThrow(/x/);
    await expect(store.setActive(user.id, false, { audit: auditEvent('user_deactivated', { userId: user.id }) })).rejects.toThrow(/x/);
    expect(auditRows(file)).toBe(0);
    expect(await store.findUser('id', user.id)).toMatchObject({ passwordHash: 'h', isActive: true, tokenVersion: user.tokenVersion });
  });

  it('an event that fails to be written undoes its change: each audited change rolls back with its record', async () => {
    const file = freshFile();
    const store = await open(file);
    const user = await store.createUser({ username: 'wanda', passwordHash: 'h' });
    const recorded = makeToken({ userId: user.id, familyId: 'fam' });
    await store.recordOutstanding(recorded);
    expect(await store.linkIdentity({ provider: 'github', subject: '1', userId: user.id, email: null, at: new Date() })).toBe('linked');
    failEvery(file, 'INSERT', 'restjwt_audit_event');

    const token = makeToken({ userId: user.id });
    await expect(store.blacklist(token, { audit: auditEvent('logout', { userId: user.id }) })).rejects.toThrow(/x/);
    expect(await store.isBlacklisted(token.jti)).toBe(false);
    // Recorded by the blacklisting's transaction, so undone with it too.
    expect(await store.findOutstanding(token.jti)).toBeNull();

    const fresh = makeToken({ userId: user.id });
    await expect(store.recordOutstanding(fresh, { audit: auditEvent('login', { userId: user.id }) })).rejects.toThrow(/x/);
    expect(await store.findOutstanding(fresh.jti)).toBeNull();
    await expect(store.createUser({ username: 'xena', passwordHash: 'h' }, { audit: auditEvent('user_created') })).rejects.toThrow(/x/);
    expect(await store.findUser('username', 'xena')).toBeNull();
    await expect(store.setPassword(user.id, 'h2', { audit: auditEvent('password_changed', { userId: user.id }) })).rejects.toThrow(/x/);
    await expect(store.setActive(user.id, false, { audit: auditEvent('user_deactivated', { userId: user.id }) })).rejects.toThrow(/x/);
    expect(await store.findUser('id', user.id)).toMatchObject({ passwordHash: 'h', isActive: true, tokenVersion: user.tokenVersion });
    await expect(store.revokeFamily('fam', { audit: auditEvent('session_revoked', { userId: user.id }) })).rejects.toThrow(/x/);
    await expect(store.revokeUser(user.id, { audit: auditEvent('sessions_revoked', { userId: user.id }) })).rejects.toThrow(/x/);
    expect(await store.isBlacklisted(recorded.jti)).toBe(false);
    await expect(store.unlinkIdentity(user.id, 'github', '1', { audit: auditEvent('identity_unlinked', { userId: user.id }) })).rejects.toThrow(/x/);
    expect(await store.findIdentity('github', '1')).not.toBeNull();
    expect(auditRows(file)).toBe(0);

    // Unaudited, the same changes do not touch the audit table.
    expect(await store.blacklist(token)).toBe('blacklisted');
    expect(await store.revokeUser(user.id)).toBe(1);
  });

  it('an audited factor change whose event fails to be written is undone with it', async () => {
    const file = freshFile();
    const store = await open(file);
    const user = await store.createUser({ username: 'zoe', passwordHash: 'h' });
    const factor = await store.addFactor(newTotp(user.id));
    await store.setRecoveryCodes(user.id, ['h1', 'h2']);
    failEvery(file, 'INSERT', 'restjwt_audit_event');
    const audit = (type: AuditEventType) => ({ audit: auditEvent(type, { userId: user.id }) });

    await expect(store.addFactor(newPasskey(user.id, 'cred-z'), audit('factor_added'))).rejects.toThrow(/x/);
    expect(await store.findFactorByCredential('cred-z')).toBeNull();
    expect(await store.listFactors(user.id)).toEqual([factor]);
    await expect(store.useRecoveryCode(user.id, 'h1', audit('recovery_code_used'))).rejects.toThrow(/x/);
    expect(await store.countRecoveryCodes(user.id)).toBe(2);
    await expect(store.confirmFactor(user.id, factor.id, audit('factor_added'))).rejects.toThrow(/x/);
    await expect(store.removeFactor(user.id, factor.id, audit('factor_removed'))).rejects.toThrow(/x/);
    await expect(store.removeFactors(user.id, audit('factors_reset'))).rejects.toThrow(/x/);
    expect(await store.listFactors(user.id)).toEqual([factor]);
    await expect(store.setRecoveryCodes(user.id, ['h3'], audit('recovery_codes_generated'))).rejects.toThrow(/x/);
    expect(await store.countRecoveryCodes(user.id)).toBe(2);
    expect(auditRows(file)).toBe(0);

    // Unaudited, the same changes do not touch the audit table; the code undone above is still there to spend.
    expect(await store.useRecoveryCode(user.id, 'h1')).toBe(true);
    expect(await store.addFactor(newPasskey(user.id, 'cred-z'))).toMatchObject({ credentialId: 'cred-z' });
  });

  it('its queries walk an index: a page by user stops at the page, the count and the flush read the at index', async () => {
    const store = await open(freshFile());
    const db = (store as unknown as { db: Database.Database }).db;
    const q = (store as unknown as { prepared: { listAudit: Record<'user' | 'all', Database.Statement>; countAudit: Database.Statement } }).prepared;
    const plan = (statement: Database.Statement) =>
      queryPlan(db, statement.source, { user: 'u', type: null, since: null, until: null, beforeId: 10, fetch: 51, bucketMs: 60_000 });
    const byUser = plan(q.listAudit.user);
    expect(byUser).toMatch(/SEARCH restjwt_audit_event USING INDEX restjwt_audit_event_user_id_idx \(user_id=\? AND rowid<\?\)/);
    expect(byUser).toMatch(/SEARCH restjwt_audit_event USING INDEX restjwt_audit_event_username_idx \(username=\? AND rowid<\?\)/);
    expect(plan(q.listAudit.all)).toMatch(/^SEARCH restjwt_audit_event USING INTEGER PRIMARY KEY \(rowid<\?\)$/);
    expect(plan(q.countAudit)).toMatch(/SEARCH restjwt_audit_event USING INDEX restjwt_audit_event_at_idx/);
    expect(plan(db.prepare('DELETE FROM restjwt_audit_event WHERE id IN (SELECT id FROM restjwt_audit_event WHERE at < 1 LIMIT 5)'))).toMatch(
      /COVERING INDEX restjwt_audit_event_at_idx/,
    );
  });

  it('keeps events across a reopen, and an event about a deleted user stays', async () => {
    const file = freshFile();
    const first = await open(file);
    const user = await first.createUser({ username: 'yuri', passwordHash: 'h' }, { audit: auditEvent('user_created', { actorId: '1' }) });
    await first.close();
    const db = raw(file);
    db.pragma('foreign_keys = ON');
    db.prepare('DELETE FROM restjwt_user WHERE id = ?').run(Number(user.id));
    const second = await open(file);
    expect((await second.listAudit({ user: 'yuri' })).events).toMatchObject([{ type: 'user_created', userId: user.id, username: 'yuri', actorId: '1' }]);
  });
});

/** A TOTP factor for `userId`, unconfirmed. */
function newTotp(userId: string): NewFactor {
  return { userId, kind: 'totp', label: 'Phone', confirmed: false, secret: 'v1.secret', credentialId: null, meta: '{}', createdAt: new Date() };
}

/** A WebAuthn factor for `userId` with `credentialId`. */
function newPasskey(userId: string, credentialId: string): NewFactor {
  return { userId, kind: 'webauthn', label: 'Key', confirmed: true, secret: 'pQECAyYgASFYI', credentialId, meta: '{}', createdAt: new Date() };
}

/** An audit event with every optional field empty. */
function auditEvent(type: AuditEventType, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { type, at: new Date(), userId: null, username: null, actorId: null, familyId: null, clientAddress: null, userAgent: null, detail: {}, ...overrides };
}

/**
 * A worker script, outside vitest, that opens the built @restjwt/sqlite and rotates tokens p-0 … p-(n-1). Returns the
 * worker script's path.
 */
function buildStandaloneStore(): string {
  const out = join(dir, 'standalone');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  const store = pathToFileURL(resolve('packages/sqlite/dist/index.js')).href;
  const worker = join(out, 'worker.js');
  writeFileSync(
    worker,
    `import { openSqliteStore } from '${store}';
const [filename, worker, count, startAt] = process.argv.slice(2);
const store = await openSqliteStore({ filename, migrate: false });
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 2));
const token = (jti) => ({ jti, userId: null, tokenType: 'refresh', familyId: null, createdAt: new Date(), expiresAt: new Date(Date.now() + 3600000) });
let rotated = 0;
for (let i = 0; i < Number(count); i++) {
  if ((await store.rotate(token('p-' + i), token('s-' + i + '-w' + worker))) === 'rotated') rotated++;
}
await store.close();
process.stdout.write(JSON.stringify({ rotated }));
`,
  );
  return worker;
}
