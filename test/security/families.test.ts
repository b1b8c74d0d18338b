/**
 * Refresh-token families, reuse detection and revocation, attacked through real HTTP against the reference server
 * over SQLite (rotateRefreshTokens + blacklistAfterRotation).
 *
 * Behaviour under test (see README, "Sessions and revocation"):
 * - Presenting a refresh token that is already blacklisted is reuse: its whole family (every token descending from
 *   the same login) is revoked, so the thief's and the victim's current tokens both stop working; other logins of
 *   the same user are untouched.
 * - Concurrent refreshes of one token ARE reuse when `refreshReuseInterval` is 0: exactly one answer is 200, the
 *   others 401, and the losers revoke the family, so the winner's new refresh token is dead too (clients must
 *   serialize refreshes, as src/client does, or set an interval). Within an interval, they all get the same successor.
 * - `refreshFamilyMaxAge` bounds a session from its login (`auth_time`), whatever the rotations.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '@restjwt/core';
import { claimsOf, startApp, type Answer, type TestApp } from '../helpers/server.js';
import { assertNothingIssued, BLACKLISTED, EXPIRED } from './attack-kit.js';

const ROTATION = { rotateRefreshTokens: true, blacklistAfterRotation: true } as const;

let t: TestApp | undefined;
let events: LogEvent[] = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
  events = [];
});

async function app(settings: Record<string, unknown> = {}): Promise<TestApp> {
  t = await startApp({ ...ROTATION, ...settings } as never, { log: (e) => events.push(e) });
  await t.user('alice');
  await t.user('bob');
  return t;
}

const refresh = (token: string): Promise<Answer> => t!.post('/api/token/refresh/', { refresh: token });
const jtiOf = (token: string): string => claimsOf(token).jti as string;

function expectBlacklisted(r: Answer, presented: string[]): void {
  expect(r.status).toBe(401);
  expect(r.json).toEqual(BLACKLISTED);
  assertNothingIssued(r, presented);
}

describe('reuse of a rotated-out refresh token', () => {
  it('revokes the family: the current token dies too; another login of the same user keeps working', async () => {
    const a = await app();
    const { refresh: stolen } = await a.login('alice');
    const other = await a.login('alice');
    const r1 = await refresh(stolen);
    expect(r1.status).toBe(200);
    const r2 = await refresh(r1.json.refresh);
    expect(r2.status).toBe(200);
    const current = r2.json.refresh as string;
    // The whole chain shares the login's family.
    expect((await a.store.findOutstanding(jtiOf(current)))?.familyId).toBe(jtiOf(stolen));
    const before = await a.store.countTokens();

    const replay = await refresh(stolen);
    expectBlacklisted(replay, [stolen]);
    // The live member of the family (current) was blacklisted; nothing was added.
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding, blacklisted: before.blacklisted + 1 });
    expectBlacklisted(await refresh(current), [current]);
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding, blacklisted: before.blacklisted + 1 });

    const reuse = events.find((e) => e.event === 'refresh_token_reuse');
    expect(reuse).toMatchObject({ level: 'warn', jti: jtiOf(stolen), familyId: jtiOf(stolen), userId: (await a.store.findUser('username', 'alice'))?.id });
    expect(JSON.stringify(events)).not.toContain(stolen);

    // The other session is another family: untouched.
    const o = await refresh(other.refresh);
    expect(o.status).toBe(200);
    expect((await a.get('/api/protected/', { authorization: `Bearer ${o.json.access}` })).status).toBe(200);
  });

  it('within refreshReuseInterval: the same successor again, a new access token, nothing revoked', async () => {
    const a = await app({ refreshReuseInterval: 30 });
    const { refresh: first } = await a.login('alice');
    const r1 = await refresh(first);
    expect(r1.status).toBe(200);
    const before = await a.store.countTokens();
    a.advance(10_000);
    const again = await refresh(first);
    expect(again.status).toBe(200);
    expect(again.json.refresh).toBe(r1.json.refresh);
    expect(again.json.access).not.toBe(r1.json.access);
    expect(await a.store.countTokens()).toEqual(before);
    expect(events.some((e) => e.event === 'refresh_token_reuse')).toBe(false);
    // The successor still rotates normally.
    expect((await refresh(r1.json.refresh)).status).toBe(200);
  });

  it('outside refreshReuseInterval: reuse, the family is revoked', async () => {
    const a = await app({ refreshReuseInterval: 30 });
    const { refresh: first } = await a.login('alice');
    const r1 = await refresh(first);
    expect(r1.status).toBe(200);
    const before = await a.store.countTokens();
    a.advance(31_000);
    expectBlacklisted(await refresh(first), [first]);
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding, blacklisted: before.blacklisted + 1 });
    expectBlacklisted(await refresh(r1.json.refresh), [r1.json.refresh]);
  });

  it('a replay after the successor was itself rotated is reuse even within the interval', async () => {
    const a = await app({ refreshReuseInterval: 30 });
    const { refresh: first } = await a.login('alice');
    const r1 = await refresh(first);
    const r2 = await refresh(r1.json.refresh);
    expect(r2.status).toBe(200);
    expectBlacklisted(await refresh(first), [first]);
    expectBlacklisted(await refresh(r2.json.refresh), [r2.json.refresh]);
  });
});

describe('concurrent refreshes of one token', () => {
  it('interval 0: exactly one 200; the losers are reuse and revoke the family, the winner\'s token included', async () => {
    const a = await app();
    const { refresh: token } = await a.login('alice');
    const before = await a.store.countTokens();
    const answers = await Promise.all(Array.from({ length: 10 }, () => refresh(token)));
    const won = answers.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    for (const r of answers.filter((x) => x.status !== 200)) expectBlacklisted(r, [token]);
    // One successor recorded; the presented token and the successor blacklisted.
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding + 1, blacklisted: before.blacklisted + 2 });
    expectBlacklisted(await refresh(won[0]!.json.refresh), [won[0]!.json.refresh]);
  });

  it('interval 30: every request gets the same successor, one rotation, nothing revoked', async () => {
    const a = await app({ refreshReuseInterval: 30 });
    const { refresh: token } = await a.login('alice');
    const before = await a.store.countTokens();
    const answers = await Promise.all(Array.from({ length: 10 }, () => refresh(token)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((r) => r.json.refresh)).size).toBe(1);
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding + 1, blacklisted: before.blacklisted + 1 });
    expect((await refresh(answers[0]!.json.refresh)).status).toBe(200);
  });
});

describe('absolute family lifetime (refreshFamilyMaxAge)', () => {
  it('login sets auth_time; rotation keeps it and caps exp; past the limit refresh is refused, nothing issued', async () => {
    const a = await app({ refreshFamilyMaxAge: 100, refreshTokenLifetime: 86_400 });
    const { refresh: first } = await a.login('alice');
    const authTime = claimsOf(first).auth_time as number;
    expect(authTime).toBe(claimsOf(first).iat);
    a.advance(50_000);
    const r1 = await refresh(first);
    expect(r1.status).toBe(200);
    const next = claimsOf(r1.json.refresh);
    expect(next.auth_time).toBe(authTime);
    expect(next.exp).toBe(authTime + 100);
    expect((await a.store.findOutstanding(next.jti as string))?.expiresAt.getTime()).toBe((authTime + 100) * 1000);

    a.advance(51_000);
    const before = await a.store.countTokens();
    const late = await refresh(r1.json.refresh);
    expect(late.status).toBe(401);
    expect(late.json).toEqual(EXPIRED);
    assertNothingIssued(late, [r1.json.refresh]);
    expect(await a.store.countTokens()).toEqual(before);
  });

  it('off by default: no auth_time claim', async () => {
    const a = await app();
    const { refresh: first } = await a.login('alice');
    expect(claimsOf(first).auth_time).toBeUndefined();
  });
});

describe('log out everywhere (POST token/logout-all/)', () => {
  it('refuses an anonymous or forged caller, changing nothing', async () => {
    const a = await app();
    await a.login('alice');
    const before = await a.store.countTokens();
    const anon = await a.post('/api/token/logout-all/', {});
    expect(anon.status).toBe(401);
    expect(anon.json.code).toBe('not_authenticated');
    const { refresh: r } = await a.login('alice');
    // A refresh token is not an access token.
    const wrong = await a.post('/api/token/logout-all/', {}, { authorization: `Bearer ${r}` });
    expect(wrong.status).toBe(401);
    assertNothingIssued(wrong, [r]);
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding + 1, blacklisted: before.blacklisted });
  });

  it('blacklists the refresh token of every session of the user, not other users\'; access tokens die with checkRevokeToken', async () => {
    const a = await app({ checkRevokeToken: true });
    const s1 = await a.login('alice');
    const s2 = await a.login('alice');
    const rotated = await refresh(s2.refresh);
    expect(rotated.status).toBe(200);
    const bob = await a.login('bob');
    const before = await a.store.countTokens();

    const r = await a.post('/api/token/logout-all/', {}, { authorization: `Bearer ${s1.access}` });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({});
    // s1's refresh and s2's current refresh were live: two blacklisted, nothing recorded.
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding, blacklisted: before.blacklisted + 2 });
    for (const token of [s1.refresh, rotated.json.refresh as string]) expectBlacklisted(await refresh(token), [token]);
    for (const access of [s1.access, s2.access, rotated.json.access as string]) {
      const p = await a.get('/api/protected/', { authorization: `Bearer ${access}` });
      expect(p.status).toBe(401);
      expect(p.json.code).toBe('password_changed');
    }
    expect((await a.get('/api/protected/', { authorization: `Bearer ${bob.access}` })).status).toBe(200);
    expect((await refresh(bob.refresh)).status).toBe(200);
    // A new login works.
    const fresh = await a.login('alice');
    expect((await a.get('/api/protected/', { authorization: `Bearer ${fresh.access}` })).status).toBe(200);
  });
});

describe('password change and deactivation end every session', () => {
  it('changePassword (what `restjwt changepassword` runs) blacklists every refresh token of the user', async () => {
    const { changePassword } = await import('@restjwt/core');
    const a = await app();
    const s1 = await a.login('alice');
    const s2 = await a.login('alice');
    const bob = await a.login('bob');
    const alice = (await a.store.findUser('username', 'alice'))!;
    const before = await a.store.countTokens();
    expect(await changePassword(a.restjwt, alice.id, 'a new password')).toBe(2);
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding, blacklisted: before.blacklisted + 2 });
    for (const token of [s1.refresh, s2.refresh]) expectBlacklisted(await refresh(token), [token]);
    expect((await refresh(bob.refresh)).status).toBe(200);
    expect((await a.post('/api/token/', { username: 'alice', password: 'a new password' })).status).toBe(200);
  });

  it('deactivateUser blacklists every refresh token and refuses the user', async () => {
    const { deactivateUser } = await import('@restjwt/core');
    const a = await app();
    const s1 = await a.login('alice');
    const alice = (await a.store.findUser('username', 'alice'))!;
    expect(await deactivateUser(a.restjwt, alice.id)).toBe(1);
    expectBlacklisted(await refresh(s1.refresh), [s1.refresh]);
    expect((await a.get('/api/protected/', { authorization: `Bearer ${s1.access}` })).status).toBe(401);
  });
});

describe('access-token revocation (revokeAccessTokens)', () => {
  const bearer = (access: string) => ({ authorization: `Bearer ${access}` });

  it('logout with `access` makes that access token fail at once; other access tokens keep working', async () => {
    const a = await app({ revokeAccessTokens: true });
    const mine = await a.login('alice');
    const other = await a.login('alice');
    expect((await a.get('/api/protected/', bearer(mine.access))).status).toBe(200);
    const before = await a.store.countTokens();
    const out = await a.post('/api/token/blacklist/', { refresh: mine.refresh, access: mine.access });
    expect(out.status).toBe(200);
    expect(out.json).toEqual({});
    expect(await a.store.countTokens()).toEqual({ outstanding: before.outstanding, blacklisted: before.blacklisted + 1 });
    expect(await a.store.isAccessRevoked(claimsOf(mine.access).jti as string)).toBe(true);

    const p = await a.get('/api/protected/', bearer(mine.access));
    expect(p.status).toBe(401);
    expect(p.json.code).toBe('token_not_valid');
    expect(JSON.stringify(p.json)).toContain('Token is blacklisted');
    assertNothingIssued(p, [mine.access]);
    expect((await a.get('/api/protected/', bearer(other.access))).status).toBe(200);
  });

  it('refuses another user\'s access token and changes nothing', async () => {
    const a = await app({ revokeAccessTokens: true });
    const mine = await a.login('alice');
    const victim = await a.login('bob');
    const before = await a.store.countTokens();
    const r = await a.post('/api/token/blacklist/', { refresh: mine.refresh, access: victim.access });
    expect(r.status).toBe(401);
    assertNothingIssued(r, [victim.access]);
    expect(await a.store.countTokens()).toEqual(before);
    expect(await a.store.isAccessRevoked(claimsOf(victim.access).jti as string)).toBe(false);
    expect((await a.get('/api/protected/', bearer(victim.access))).status).toBe(200);
    expect((await refresh(mine.refresh)).status).toBe(200);
  });

  it('without the setting, `access` is ignored and access tokens live until exp (simplejwt behaviour)', async () => {
    const a = await app();
    const mine = await a.login('alice');
    expect((await a.post('/api/token/blacklist/', { refresh: mine.refresh, access: mine.access })).status).toBe(200);
    expect(await a.store.isAccessRevoked(claimsOf(mine.access).jti as string)).toBe(false);
    expect((await a.get('/api/protected/', bearer(mine.access))).status).toBe(200);
  });

  it('flushExpired drops revocations once their access token has expired', async () => {
    const a = await app({ revokeAccessTokens: true });
    const mine = await a.login('alice');
    await a.post('/api/token/blacklist/', { refresh: mine.refresh, access: mine.access });
    const jti = claimsOf(mine.access).jti as string;
    await a.store.flushExpired(new Date(((claimsOf(mine.access).exp as number) + 1) * 1000));
    expect(await a.store.isAccessRevoked(jti)).toBe(false);
  });
});

describe('a revocation cache ahead of the database (a rotation still in flight)', () => {
  /** A memory store behind a cache that reports `pending` blacklisted, as Redis does between another instance's write there and its SQL commit. */
  async function startBehindCache(settings: Record<string, unknown>) {
    const { createMemoryStore } = await import('@restjwt/core/memory');
    const inner = createMemoryStore();
    const cache = { pending: null as string | null };
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'isBlacklisted') return async (jti: string) => jti === cache.pending || (await target.isBlacklisted(jti));
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const { startApp: start } = await import('../helpers/server.js');
    return { t: await start(settings, { store }), cache };
  }

  it('a refresh that reads the blacklist first and sees the token there before the database does loses without revoking the family', async () => {
    // Without rotation the blacklist is read before anything else.
    const { t, cache } = await startBehindCache({ rotateRefreshTokens: false });
    try {
      await t.user('alice');
      const { refresh } = await t.login();
      cache.pending = claimsOfToken(refresh).jti as string;
      const before = await t.store.countTokens();
      const lost = await t.post('/api/token/refresh/', { refresh });
      expect(lost.status).toBe(401);
      expect(lost.json).toEqual({ detail: 'Token is blacklisted', code: 'token_not_valid' });
      expect(await t.store.countTokens()).toEqual(before); // no family revocation
      cache.pending = null; // the in-flight operation never committed: the token is still the live one
      expect((await t.post('/api/token/refresh/', { refresh })).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('a rotation is decided by the database alone: a cache entry the database does not have neither refuses it nor revokes the family', async () => {
    const { t, cache } = await startBehindCache({ rotateRefreshTokens: true, blacklistAfterRotation: true });
    try {
      await t.user('alice');
      const { refresh } = await t.login();
      cache.pending = claimsOfToken(refresh).jti as string;
      const won = await t.post('/api/token/refresh/', { refresh });
      expect(won.status).toBe(200);
      const next = (won.json as { refresh: string }).refresh;
      cache.pending = null;
      // The database recorded the rotation: the presented token is spent, its successor live.
      expect(await t.store.isBlacklisted(claimsOfToken(refresh).jti as string)).toBe(true);
      expect(await t.store.isBlacklisted(claimsOfToken(next).jti as string)).toBe(false);
      expect(await t.store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
    } finally {
      await t.close();
    }
  });
});

function claimsOfToken(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
