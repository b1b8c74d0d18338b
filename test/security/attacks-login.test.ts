/**
 * Login policy against a credential stuffer: unknown user, wrong password and inactive user cannot be told apart by
 * the answer (bytes and headers) or by its timing with the production password hasher; hostile usernames and
 * passwords are answered 400/401, never 500, and never change a user row.
 *
 * Extends test/http/obtain.test.ts (identical bodies with the cheap test hasher) and
 * test/unit/passwords.test.ts ("burn takes a good fraction of a real verify") with headers, the real argon2id
 * parameters over HTTP, and hostile inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher } from '@restjwt/core';
import { encodeDjangoPbkdf2 } from '../../packages/core/src/passwords/index.js';
import { PASSWORD, startApp, type Answer, type TestApp } from '../helpers/server.js';
import { expectRefused, median, NO_ACCOUNT } from './attack-kit.js';

/** Every header except Date, in order: what a client could compare. */
const headersOf = (r: Answer) => [...r.headers].filter(([name]) => name !== 'date');

describe('failed logins look the same', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ updateLastLogin: true, rotateRefreshTokens: true, blacklistAfterRotation: true });
    await t.user('alice');
    await t.user('sleepy', { isActive: false });
    await t.store.createUser({ username: 'sso-only', passwordHash: '' });
    await t.store.createUser({ username: 'django', passwordHash: await encodeDjangoPbkdf2(PASSWORD, 'seasalt123', 1000) });
  });
  afterAll(() => t?.close());

  it('unknown user, wrong password, inactive user, unusable password, legacy hash: byte-identical bodies and headers', async () => {
    const attempts = [
      { username: 'nobody', password: PASSWORD },
      { username: 'alice', password: 'wrong password' },
      { username: 'sleepy', password: PASSWORD },
      { username: 'sso-only', password: PASSWORD },
      { username: 'django', password: 'wrong password' },
      { username: 'Alice', password: PASSWORD },
    ];
    const answers: Answer[] = [];
    for (const body of attempts) answers.push(await expectRefused(t, () => t.post('/api/token/', body), { status: 401, body: NO_ACCOUNT }, [PASSWORD]));
    const first = answers[0] as Answer;
    for (const a of answers) {
      expect(a.text).toBe(first.text);
      expect(headersOf(a)).toEqual(headersOf(first));
    }
    expect(first.headers.get('www-authenticate')).toBe('Bearer realm="api"');
  });

  it.each([
    ["' OR '1'='1", 'wrong'],
    ["alice'--", 'wrong'],
    ["alice' OR 1=1--", "' OR '1'='1"],
    ['"; DROP TABLE auth_user; --', 'wrong'],
    ['%', 'wrong'],
    ['a%', PASSWORD],
    ['_lice', PASSWORD],
    ['alice\u0000', PASSWORD],
    ['alice\u0000admin', PASSWORD],
    ['ａｌｉｃｅ (fullwidth)', PASSWORD],
    ['ALICE', PASSWORD],
    ['alice\u200B', PASSWORD],
    ['{"$ne": null}', PASSWORD],
  ])('username %j is a plain 401', async (username, password) => {
    await expectRefused(t, () => t.post('/api/token/', { username, password }), { status: 401, body: NO_ACCOUNT }, [PASSWORD]);
  });

  it.each([
    ['a MongoDB-style operator object as username', { username: { $ne: null }, password: PASSWORD }, { username: ['Not a valid string.'] }],
    ['an operator object as password', { username: 'alice', password: { $ne: null } }, { password: ['Not a valid string.'] }],
    ['a list of usernames', { username: ['nobody', 'alice'], password: PASSWORD }, { username: ['Not a valid string.'] }],
    ['a 255-character username (the limit is 254)', { username: 'a'.repeat(255), password: PASSWORD }, { username: ['Ensure this field has no more than 254 characters.'] }],
    ['a 60,000-character username', { username: 'a'.repeat(60_000), password: PASSWORD }, { username: ['Ensure this field has no more than 254 characters.'] }],
    ['a 4,097-character password (the limit is 4,096)', { username: 'alice', password: 'p'.repeat(4097) }, { password: ['Ensure this field has no more than 4096 characters.'] }],
  ])('%s is a 400 field error', async (_n, body, expected) => {
    await expectRefused(t, () => t.post('/api/token/', body), { status: 400, body: expected }, [PASSWORD]);
  });

  it('a 254-character username and a 4,096-character password are a plain 401 (the limits are not off by one)', async () => {
    await expectRefused(t, () => t.post('/api/token/', { username: 'a'.repeat(254), password: 'p'.repeat(4096) }), { status: 401, body: NO_ACCOUNT });
  });

  it('a wrong password for a legacy-hash user leaves the hash as it was (no rehash on failure)', async () => {
    const before = (await t.store.findUser('username', 'django'))?.passwordHash;
    await expectRefused(t, () => t.post('/api/token/', { username: 'django', password: `${PASSWORD}!` }), { status: 401, body: NO_ACCOUNT });
    expect((await t.store.findUser('username', 'django'))?.passwordHash).toBe(before);
  });
});

describe('failed logins take the same time with the production hasher', () => {
  // createPasswordHasher() with its defaults: argon2id m=19456 KiB, t=2, p=1.
  const production = createPasswordHasher();
  const kinds = {
    unknown: { username: 'nobody', password: PASSWORD },
    wrong: { username: 'alice', password: 'wrong password' },
    inactive: { username: 'sleepy', password: PASSWORD },
    // Accounts without a usable password (SSO-only, imported, Django's set_unusable_password()).
    unusable: { username: 'sso-only', password: PASSWORD },
    djangoUnusable: { username: 'locked', password: PASSWORD },
    // A 400 that never reaches the hasher: the floor, to show the hash is really paid.
    invalid: { username: 'alice' },
  };
  type Name = keyof typeof kinds;
  const m = {} as Record<Name, number>;
  let report = '';
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({}, { hasher: production });
    // The users' hashes must be production hashes too: verify reads its cost from the stored hash.
    await t.store.createUser({ username: 'alice', passwordHash: await production.hash(PASSWORD) });
    await t.store.createUser({ username: 'sleepy', passwordHash: await production.hash(PASSWORD), isActive: false });
    await t.store.createUser({ username: 'sso-only', passwordHash: '' });
    await t.store.createUser({ username: 'locked', passwordHash: '!Xq3Vn8uYt1LQk2mC7pRz9aWdE4fG6hJ0sB5vN' });
    const names = Object.keys(kinds) as Name[];
    const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
    // Warm-up (the dummy hash is computed on the first unknown-user login), then interleaved rounds of 15 so that
    // any load from other test files falls on every kind alike.
    for (const name of names) await t.post('/api/token/', kinds[name]);
    for (let round = 0; round < 15; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length] as Name;
        const started = performance.now();
        const r = await t.post('/api/token/', kinds[name]);
        times[name].push(performance.now() - started);
        expect(r.status).toBe(name === 'invalid' ? 400 : 401);
      }
    }
    for (const n of names) m[n] = median(times[n]);
    report = JSON.stringify(Object.fromEntries(names.map((n) => [n, Number(m[n].toFixed(2))])));
  }, 60_000);
  afterAll(() => t?.close());

  it('unknown user and inactive user: medians of 15 logins within 0.5–2× of a wrong password', () => {
    expect(m.unknown / m.wrong, report).toBeGreaterThan(0.5);
    expect(m.unknown / m.wrong, report).toBeLessThan(2);
    expect(m.inactive / m.wrong, report).toBeGreaterThan(0.5);
    expect(m.inactive / m.wrong, report).toBeLessThan(2);
    // Each refused login paid for a hash: clearly above a request that never hashes.
    expect(m.unknown, report).toBeGreaterThan(3 * m.invalid);
    expect(m.wrong, report).toBeGreaterThan(3 * m.invalid);
  });

  // Django's CVE-2024-39329 (fixed in 4.2.14/5.0.7): a user with an unusable password answered faster than one with
  // a wrong password, so accounts could be enumerated by timing. The fix pays for one hash on that path too.
  it('a user without a usable password ("" or Django\'s "!…"): medians within 0.5–2× of a wrong password', () => {
    expect(m.unusable / m.wrong, report).toBeGreaterThan(0.5);
    expect(m.unusable / m.wrong, report).toBeLessThan(2);
    expect(m.djangoUnusable / m.wrong, report).toBeGreaterThan(0.5);
    expect(m.djangoUnusable / m.wrong, report).toBeLessThan(2);
  });
});
