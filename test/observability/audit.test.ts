/**
 * The audit log through real HTTP against the reference server, on every store that keeps one (memory, SQLite, and
 * PostgreSQL and MariaDB when they run): every event type a request can cause, what each row holds (and never holds),
 * that a refused change writes no row, and the admin's events and summary endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord, AuditStore, Store } from '@restjwt/core';
import { hasAudit, hasIdentities } from '@restjwt/core/store-kit';
import { createMemoryRateCounter, createMemoryStore } from '@restjwt/core/memory';
import { claimsOf, PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { storeBackends } from '../helpers/store-backends.js';
import { withoutCapability } from '../helpers/without-capability.js';

const SETTINGS = { rotateRefreshTokens: true, blacklistAfterRotation: true, checkRevokeToken: true, loginThrottle: { perUsernameAndAddress: { limit: 3, windowSeconds: 300 } } };
const AGENT = 'AuditTest/1.0 (+https://example.test)';
const bearer = (access: string) => ({ authorization: `Bearer ${access}` });

function auditOf(store: Store): Store & AuditStore {
  if (!hasAudit(store)) throw new Error('the store keeps no audit log');
  return store;
}

/** Every event, oldest first. */
async function events(store: Store): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await auditOf(store).listAudit({ limit: 500, cursor });
    out.push(...page.events);
    cursor = page.next;
  } while (cursor !== null);
  return out.reverse();
}

const BACKENDS = storeBackends('rjt_audit');

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`audit log over HTTP on ${backend.name}`, () => {
    let t: TestApp;
    let drop: () => Promise<void>;
    let staff: Record<string, string>;
    let adminId: string;
    const secrets: string[] = [PASSWORD, 'wrong password 1', 'a new password 42'];

    beforeAll(async () => {
      const opened = await backend.open();
      drop = opened.drop;
      t = await startApp(SETTINGS, { rateCounter: createMemoryRateCounter(), ...(opened.store === undefined ? {} : { store: opened.store }) });
      adminId = (await t.user('admin', { isStaff: true })).id;
      const admin = await t.post('/api/token/', { username: 'admin', password: PASSWORD }, { 'user-agent': AGENT });
      expect(admin.status).toBe(200);
      staff = bearer(admin.json.access as string);
      secrets.push(admin.json.access as string, admin.json.refresh as string);
    });
    afterAll(async () => {
      await t?.close();
      await drop?.();
    });

    /** The events written since `before` (an event count). */
    const since = async (before: number) => (await events(t.store)).slice(before);
    const count = async () => (await events(t.store)).length;

    it('a login writes `login` with who, from where, the family and the method; never the password or a token', async () => {
      const alice = await t.user('alice');
      const before = await count();
      const r = await t.post('/api/token/', { username: 'alice', password: PASSWORD }, { 'user-agent': AGENT });
      expect(r.status).toBe(200);
      secrets.push(r.json.access as string, r.json.refresh as string);
      const [login, ...rest] = await since(before);
      expect(rest).toEqual([]);
      expect(login).toMatchObject({
        type: 'login',
        userId: alice.id,
        username: 'alice',
        actorId: null,
        familyId: claimsOf(r.json.refresh as string).jti,
        clientAddress: '127.0.0.1',
        userAgent: AGENT,
        detail: { method: 'password', token: 'refresh' },
      });
      expect(Math.abs((login?.at.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    });

    it('refused logins write `login_failed` with the name attempted and the reason; a throttled one says so', async () => {
      await t.user('bob');
      const before = await count();
      expect((await t.post('/api/token/', { username: 'bob', password: 'wrong password 1' })).status).toBe(401);
      expect((await t.post('/api/token/', { username: 'nobody-here', password: 'wrong password 1' })).status).toBe(401);
      expect((await t.post('/api/token/', { username: 'bob', password: 'wrong password 1' })).status).toBe(401);
      expect((await t.post('/api/token/', { username: 'bob', password: 'wrong password 1' })).status).toBe(401);
      // The limit (3 per username and address) is reached: refused before any password check.
      expect((await t.post('/api/token/', { username: 'bob', password: PASSWORD })).status).toBe(429);
      const rows = await since(before);
      expect(rows.map((e) => [e.type, e.username, e.detail.reason])).toEqual([
        ['login_failed', 'bob', 'bad_password'],
        ['login_failed', 'nobody-here', 'unknown_user'],
        ['login_failed', 'bob', 'bad_password'],
        ['login_failed', 'bob', 'bad_password'],
        ['login_failed', 'bob', 'throttled'],
      ]);
      expect(rows[1]?.userId).toBeNull();
      expect(rows.every((e) => e.clientAddress === '127.0.0.1')).toBe(true);
    });

    it('presenting a rotated refresh token writes `refresh_reuse` with its family and how many tokens it revoked', async () => {
      await t.user('carol');
      const first = await t.login('carol');
      const before = await count();
      const rotated = await t.post('/api/token/refresh/', { refresh: first.refresh });
      expect(rotated.status).toBe(200);
      // A refresh alone is no security event: nothing was written for it.
      expect(await count()).toBe(before);
      expect((await t.post('/api/token/refresh/', { refresh: first.refresh })).status).toBe(401);
      const [reuse, ...rest] = await since(before);
      expect(rest).toEqual([]);
      expect(reuse).toMatchObject({ type: 'refresh_reuse', familyId: claimsOf(first.refresh).jti, detail: { revoked: 1 } });
      expect(reuse?.userId).toBe((await t.store.findUser('username', 'carol'))?.id);
      expect(reuse?.username).toBe('carol');
    });

    it('a logout writes `logout`; logging out again with the same token is refused and writes nothing', async () => {
      const dave = await t.user('dave');
      const pair = await t.login('dave');
      const before = await count();
      expect((await t.post('/api/token/blacklist/', { refresh: pair.refresh }, { 'user-agent': AGENT })).status).toBe(200);
      expect((await t.post('/api/token/blacklist/', { refresh: pair.refresh })).status).toBe(401);
      const rows = await since(before);
      expect(rows.map((e) => [e.type, e.userId, e.username, e.userAgent])).toEqual([['logout', dave.id, 'dave', AGENT]]);
    });

    it('"log out everywhere" writes `logout_all` with the count', async () => {
      const erin = await t.user('erin');
      await t.login('erin');
      const pair = await t.login('erin');
      const before = await count();
      expect((await t.post('/api/token/logout-all/', {}, bearer(pair.access))).status).toBe(200);
      expect((await since(before)).map((e) => [e.type, e.userId, e.username, e.detail.revoked])).toEqual([['logout_all', erin.id, 'erin', 2]]);
    });

    it('admin actions write who did what to whom: create, deactivate, activate, password, sessions, identities', async () => {
      const before = await count();
      const created = await t.post('/api/admin/users/', { username: 'frank', email: 'frank@example.com', password: PASSWORD }, staff);
      expect(created.status, created.text).toBe(201);
      const frank = created.json.id as string;
      const session = await t.login('frank');
      const family = claimsOf(session.refresh).jti as string;
      expect((await t.post(`/api/admin/users/${frank}/sessions/${family}/revoke/`, {}, staff)).status).toBe(200);
      await t.login('frank');
      expect((await t.post(`/api/admin/users/${frank}/sessions/revoke-all/`, {}, staff)).status).toBe(200);
      expect((await t.post(`/api/admin/users/${frank}/password/`, { password: 'a new password 42' }, staff)).status).toBe(200);
      expect((await t.post(`/api/admin/users/${frank}/deactivate/`, {}, staff)).status).toBe(200);
      expect((await t.post(`/api/admin/users/${frank}/activate/`, {}, staff)).status).toBe(200);
      if (hasIdentities(t.store)) {
        await t.store.linkIdentity({ provider: 'github', subject: '77', userId: frank, email: null, at: new Date() });
        expect((await t.post(`/api/admin/users/${frank}/identities/github/77/unlink/`, {}, staff)).status).toBe(200);
      }
      const rows = (await since(before)).filter((e) => e.actorId !== null);
      expect(rows.map((e) => e.type)).toEqual(['user_created', 'session_revoked', 'sessions_revoked', 'password_changed', 'user_deactivated', 'user_activated', 'identity_unlinked']);
      for (const row of rows) expect(row).toMatchObject({ actorId: adminId, userId: frank, username: 'frank', clientAddress: '127.0.0.1' });
      expect(rows[1]).toMatchObject({ familyId: family, detail: { revoked: 1 } });
      expect(rows[6]?.detail).toEqual({ provider: 'github' });
      // The logins in between are frank's own (no actor).
      expect((await since(before)).filter((e) => e.actorId === null).map((e) => e.type)).toEqual(['login', 'login']);
    });

    it('a refused admin change writes nothing (deactivating yourself, an unknown user, a taken username)', async () => {
      const before = await count();
      expect((await t.post(`/api/admin/users/${adminId}/deactivate/`, {}, staff)).status).toBe(400);
      expect((await t.post('/api/admin/users/987654/password/', { password: 'a new password 42' }, staff)).status).toBe(404);
      expect((await t.post('/api/admin/users/', { username: 'alice', password: PASSWORD }, staff)).status).toBe(400);
      expect(await since(before)).toEqual([]);
    });

    it('no row holds a password or a token', async () => {
      const text = JSON.stringify(await events(t.store));
      for (const secret of secrets) expect(text).not.toContain(secret);
    });

    it('GET /api/admin/audit/ filters by user, type and time, pages with `next`, and is for staff only', async () => {
      const byUser = await t.get('/api/admin/audit/?user=bob', staff);
      expect(byUser.status).toBe(200);
      expect(byUser.headers.get('cache-control')).toBe('no-store');
      expect((byUser.json.results as Array<{ type: string; username: string }>).map((e) => e.type)).toEqual(['login_failed', 'login_failed', 'login_failed', 'login_failed']);
      const failed = await t.get('/api/admin/audit/?type=login_failed&limit=2', staff);
      expect(failed.json.results).toHaveLength(2);
      expect(failed.json.results[0]).toMatchObject({ type: 'login_failed', username: 'bob', detail: { reason: 'throttled' }, client_address: '127.0.0.1' });
      const older = await t.get(failed.json.next as string, staff);
      expect(older.status).toBe(200);
      expect(older.json.results.map((e: { id: string }) => e.id)).not.toContain(failed.json.results[0].id);
      const future = await t.get(`/api/admin/audit/?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`, staff);
      expect(future.json).toEqual({ next: null, results: [] });
      const bad = await t.get('/api/admin/audit/?type=nope&since=yesterday', staff);
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ type: ['"nope" is not a valid choice.'], since: [expect.stringContaining('Datetime has wrong format')] });
      const now = Date.now();
      const backwards = await t.get(`/api/admin/audit/?since=${encodeURIComponent(new Date(now).toISOString())}&until=${encodeURIComponent(new Date(now - 1000).toISOString())}`, staff);
      expect(backwards.status).toBe(400);
      expect(backwards.json).toEqual({ until: ['Ensure this is later than since.'] });
      const plain = await t.login('alice');
      expect((await t.get('/api/admin/audit/', bearer(plain.access))).status).toBe(403);
      expect((await t.get('/api/admin/audit/')).status).toBe(401);
    });

    it('GET /api/admin/audit/summary/ counts the last hour per type and minute, matching the events', async () => {
      const r = await t.get('/api/admin/audit/summary/', staff);
      expect(r.status).toBe(200);
      expect(r.json.bucket_seconds).toBe(60);
      expect(r.json.series.login).toHaveLength(60);
      const all = await events(t.store);
      const sum = (type: string) => (r.json.series[type] as number[]).reduce((a, b) => a + b, 0);
      for (const type of ['login', 'login_failed', 'refresh_reuse', 'logout', 'logout_all']) {
        expect(sum(type), type).toBe(all.filter((e) => e.type === type).length);
      }
      // Everything happened in the last minute or two: in the last buckets.
      expect((r.json.series.login as number[]).slice(0, 55).every((n) => n === 0)).toBe(true);
      expect((await t.get('/api/admin/audit/summary/?minutes=0', staff)).status).toBe(400);
    });
  });
}

describe('audit log: turned off, and a store without one', () => {
  it('with auditLog off nothing is written, and the admin says so', async () => {
    const t = await startApp({ auditLog: false }, { store: createMemoryStore() });
    try {
      await t.user('admin', { isStaff: true });
      const { access } = await t.login('admin');
      expect((await t.post('/api/token/', { username: 'admin', password: 'nope' })).status).toBe(401);
      expect(await events(t.store)).toEqual([]);
      expect((await t.get('/api/admin/settings/', bearer(access))).json.audit_log).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('a store without the capability: logins work, and the events view answers 501 audit_unsupported', async () => {
    const inner = createMemoryStore();
    const store = withoutCapability(inner, 'audit');
    const t = await startApp({}, { store });
    try {
      await t.user('admin', { isStaff: true });
      const { access } = await t.login('admin');
      const r = await t.get('/api/admin/audit/', bearer(access));
      expect(r.status).toBe(501);
      expect(r.json.code).toBe('audit_unsupported');
      expect(await inner.listAudit()).toEqual({ events: [], next: null });
    } finally {
      await t.close();
    }
  });
});
