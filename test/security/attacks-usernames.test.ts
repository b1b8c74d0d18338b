/**
 * Look-alike usernames: `ａｌｉｃｅ` (fullwidth), `𝐚𝐥𝐢𝐜𝐞` (mathematical bold) or `ⓐⓛⓘⓒⓔ` beside `alice`. Usernames
 * are one name in NFKC form, as Django's `normalize_username` stores them, so no creation path makes a second
 * `alice`, login with any spelling reaches the one user its NFKC form names, and the login throttle counts every
 * spelling under one name. Over real HTTP against the reference server (SQLite store), and a real OpenID Provider
 * for social sign-up. The CLI paths are in test/cli/cli.test.ts, importdjango in test/interop/importdjango.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '@restjwt/core';
import { createMemoryRateCounter } from '@restjwt/core/memory';
import { claimsOf, PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { identitiesOf } from '../social/app.js';
import { Browser } from '../social/browser.js';
import { startWorld, type World } from '../social/world.js';
import { NO_ACCOUNT } from './attack-kit.js';

/** Spellings of "alice" that differ from it but share its NFKC form. */
const LOOK_ALIKES = ['ａｌｉｃｅ', 'ａlice', '𝐚𝐥𝐢𝐜𝐞', 'ⓐⓛⓘⓒⓔ', 'ａｌｉｃe'];
const TAKEN = { username: ['A user with that username already exists.'] };

const bearer = (access: string) => ({ authorization: `Bearer ${access}` });

describe('look-alike usernames: creation through the admin API, and login', () => {
  let t: TestApp;
  let staff: Record<string, string>;
  let aliceId: string;

  beforeAll(async () => {
    t = await startApp();
    await t.user('admin', { isStaff: true });
    aliceId = (await t.user('alice')).id;
    staff = bearer((await t.login('admin')).access);
  });
  afterAll(() => t.close());

  it('the admin API refuses every look-alike of an existing username as a duplicate (400), creating nothing', async () => {
    const before = (await t.store.listUsers()).map((u) => u.username);
    for (const username of LOOK_ALIKES) {
      expect(username).not.toBe('alice');
      const r = await t.post('/api/admin/users/', { username, password: 'long enough password' }, staff);
      expect({ username, status: r.status, body: r.json }).toEqual({ username, status: 400, body: TAKEN });
    }
    expect((await t.store.listUsers()).map((u) => u.username)).toEqual(before);
  });

  it('the admin API stores a new username in NFKC form; every spelling of it then logs in to that one user', async () => {
    const r = await t.post('/api/admin/users/', { username: ' ｃａｒｏｌ ', password: 'carol password 1' }, staff);
    expect(r.status, r.text).toBe(201);
    expect(r.json.username).toBe('carol');
    expect(await t.store.findUser('username', 'ｃａｒｏｌ')).toBeNull();
    const ids = new Set<unknown>();
    for (const username of ['carol', 'ｃａｒｏｌ', '𝐜𝐚𝐫𝐨𝐥']) {
      const login = await t.post('/api/token/', { username, password: 'carol password 1' });
      expect(login.status, username).toBe(200);
      ids.add(claimsOf(login.json.access).user_id);
    }
    expect([...ids]).toEqual([r.json.id]);
    // And the plain spelling is a duplicate of it now.
    expect((await t.post('/api/admin/users/', { username: 'carol', password: 'long enough password' }, staff)).json).toEqual(TAKEN);
  });

  it('NFKC that lengthens a name past 150 characters is refused as too long, as Django validates after normalising', async () => {
    // U+FDFA (one code unit) is 18 characters in NFKC form.
    const r = await t.post('/api/admin/users/', { username: '\uFDFA'.repeat(9), password: 'long enough password' }, staff);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ username: ['Ensure this field has no more than 150 characters.'] });
  });

  it('login with a look-alike spelling authenticates alice, and only with her password', async () => {
    for (const username of LOOK_ALIKES) {
      const ok = await t.post('/api/token/', { username, password: PASSWORD });
      expect(ok.status, username).toBe(200);
      expect(claimsOf(ok.json.access).user_id).toBe(aliceId);
      const wrong = await t.post('/api/token/', { username, password: 'wrong password' });
      expect({ status: wrong.status, body: wrong.json }).toEqual({ status: 401, body: NO_ACCOUNT });
    }
  });

  it('a legacy row stored in non-NFKC form logs in by its own spelling only, and loses to an NFKC row of that name', async () => {
    // Written below the rule, as a row from before normalisation (or from SQL) is.
    const legacy = await t.user('ｄａｖｅ', { password: 'legacy password 1' });
    const asLegacy = await t.post('/api/token/', { username: 'ｄａｖｅ', password: 'legacy password 1' });
    expect(asLegacy.status).toBe(200);
    expect(claimsOf(asLegacy.json.access).user_id).toBe(legacy.id);
    expect((await t.post('/api/token/', { username: 'dave', password: 'legacy password 1' })).status).toBe(401);
    // Its exact spelling is taken for creation too.
    expect((await t.post('/api/admin/users/', { username: 'ｄａｖｅ', password: 'long enough password' }, staff)).json).toEqual(TAKEN);

    // Once an NFKC row exists (restjwt checkusernames reports the pair), every spelling reaches that row only.
    const dave = await t.user('dave', { password: 'nfkc password 1' });
    expect((await t.post('/api/token/', { username: 'ｄａｖｅ', password: 'legacy password 1' })).status).toBe(401);
    const asDave = await t.post('/api/token/', { username: 'ｄａｖｅ', password: 'nfkc password 1' });
    expect(claimsOf(asDave.json.access).user_id).toBe(dave.id);
  });
});

describe('look-alike usernames: login throttling', () => {
  it('failures under look-alike spellings count as failures for alice: they lock out every spelling', async () => {
    const t = await startApp({ loginThrottle: true }, { rateCounter: createMemoryRateCounter() });
    try {
      await t.user('alice');
      // Five failures, one per spelling: each spelling alone stays under the limit of 5.
      for (const username of LOOK_ALIKES) expect((await t.post('/api/token/', { username, password: 'wrong' })).status).toBe(401);
      for (const username of ['alice', 'ａｌｉｃｅ']) {
        const locked = await t.post('/api/token/', { username, password: PASSWORD });
        expect({ username, status: locked.status, code: locked.json.code }).toEqual({ username, status: 429, code: 'throttled' });
      }
    } finally {
      await t.close();
    }
  });
});

describe('look-alike usernames: social sign-up', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.close());

  it('a provider whose preferred username is a look-alike of alice creates another name, never a second alice', async () => {
    const alice = await w.app.store.createUser({ username: 'alice', email: 'alice-local@example.com', passwordHash: 'x$y' });
    w.op.accounts.set('lookalike-op', { email: 'mallory@example.org', email_verified: true, preferred_username: 'ａｌｉｃｅ' });
    w.op.accounts.set('lookalike2-op', { email: 'mallory2@example.org', email_verified: true, preferred_username: '𝐚𝐥𝐢𝐜𝐞' });
    const created: string[] = [];
    for (const account of ['lookalike-op', 'lookalike2-op']) {
      const pair = await w.pair(new Browser(), account);
      const userId = String(claimsOf(pair.access).user_id);
      expect(userId).not.toBe(alice.id);
      const user = await w.app.store.findUser('id', userId);
      const username = user?.username ?? '';
      created.push(username);
      // Stored in NFKC form, and that form names this new user only: nobody can reach alice through it.
      expect(username.normalize('NFKC')).toBe(username);
      expect(username).toMatch(/^alice-[0-9a-f]{6}$/);
      expect((await findUserByUsername(w.app.store, username))?.id).toBe(userId);
    }
    expect(new Set(created).size).toBe(2);
    expect((await findUserByUsername(w.app.store, 'ａｌｉｃｅ'))?.id).toBe(alice.id);
    expect(await identitiesOf(w.app.store, alice.id)).toEqual([]);
  });
});
