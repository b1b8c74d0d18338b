/**
 * A client holding a stolen (or already used) refresh token, against a server with rotateRefreshTokens and
 * blacklistAfterRotation (the reference server's defaults): replays, races, logout, wrong types and wrong keys.
 * Each refusal issues nothing and leaves the store as it was; each race has exactly one winner.
 *
 * Extends test/http/refresh-verify-blacklist.test.ts (one replay, 10 concurrent refreshes, logout without rotation)
 * with 20-way races, mixed refresh/logout races, replays on every endpoint and chains of rotations.
 */
import { createSecretKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, mint, PASSWORD, startApp, type Answer, type TestApp } from '../helpers/server.js';
import { assertNothingIssued, BLACKLISTED, claims, expectRefused, INVALID, state, tokenError, WRONG_TYPE } from './attack-kit.js';

const VERIFY_BLACKLISTED = { non_field_errors: ['Token is blacklisted'] };

let t: TestApp;
beforeAll(async () => {
  t = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true });
  await t.user('alice');
  await t.user('mallory');
});
afterAll(() => t?.close());

const refresh = (token: string) => t.post('/api/token/refresh/', { refresh: token });
const logout = (token: string) => t.post('/api/token/blacklist/', { refresh: token });
const verify = (token: string) => t.post('/api/token/verify/', { token });

describe('replay of a rotated refresh token', () => {
  it('revokes the whole family (the legitimate successor too), then is refused on refresh, logout and verify', async () => {
    const { refresh: stolen } = await t.login();
    const r = await refresh(stolen);
    expect(r.status).toBe(200);
    const successor = r.json.refresh as string;
    const before = await t.store.countTokens();
    const replay = await refresh(stolen);
    expect(replay.status).toBe(401);
    expect(replay.json).toEqual(BLACKLISTED);
    assertNothingIssued(replay, [stolen]);
    // RFC 9700 §4.14: reuse of a rotated-out token revokes the family, so the party holding the successor is out too.
    expect(await t.store.countTokens()).toEqual({ outstanding: before.outstanding, blacklisted: before.blacklisted + 1 });
    expect((await verify(successor)).status).toBe(400);
    await expectRefused(t, () => refresh(stolen), { status: 401, body: BLACKLISTED }, [stolen]);
    await expectRefused(t, () => logout(stolen), { status: 401, body: BLACKLISTED }, [stolen]);
    await expectRefused(t, () => verify(stolen), { status: 400, body: VERIFY_BLACKLISTED }, [stolen]);
  });

  it('is still refused after its successor has itself been rotated twice', async () => {
    const { refresh: first } = await t.login();
    let current = first;
    for (let i = 0; i < 3; i++) {
      const r = await refresh(current);
      expect(r.status).toBe(200);
      current = r.json.refresh;
    }
    expect((await verify(current)).status).toBe(200);
    const replay = await refresh(first);
    expect(replay.status).toBe(401);
    assertNothingIssued(replay, [first]);
    // the chain's newest token dies with its family, however many rotations ago the replayed token was
    expect((await verify(current)).status).toBe(400);
    await expectRefused(t, () => refresh(first), { status: 401, body: BLACKLISTED }, [first]);
  });
});

describe('races on one refresh token', () => {
  const winners = (answers: Answer[]) => answers.filter((a) => a.status === 200);

  it('20 concurrent refreshes: exactly one 200, the others blacklisted with nothing issued; the losers count as reuse', async () => {
    const { refresh: token } = await t.login();
    const before = await t.store.countTokens();
    const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(token)));
    expect(winners(answers)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(401);
      expect(a.json).toEqual(BLACKLISTED);
      assertNothingIssued(a, [token]);
    }
    // one rotation stored, and its successor revoked with the family (refreshReuseInterval 0: strict)
    expect(await t.store.countTokens()).toEqual({ outstanding: before.outstanding + 1, blacklisted: before.blacklisted + 2 });
    expect((await verify(winners(answers)[0]!.json.refresh as string)).status).toBe(400);
  });

  it('20 concurrent logouts: exactly one {}, the others blacklisted, one blacklist row', async () => {
    const { refresh: token } = await t.login();
    const before = await t.store.countTokens();
    const answers = await Promise.all(Array.from({ length: 20 }, () => logout(token)));
    expect(winners(answers)).toHaveLength(1);
    expect(winners(answers)[0]?.json).toEqual({});
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.json).toEqual(BLACKLISTED);
      assertNothingIssued(a, [token]);
    }
    expect(await t.store.countTokens()).toEqual({ outstanding: before.outstanding, blacklisted: before.blacklisted + 1 });
  });

  it('10 refreshes racing 10 logouts: exactly one of the twenty succeeds', async () => {
    const { refresh: token } = await t.login();
    const before = await t.store.countTokens();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? refresh(token) : logout(token))));
    const won = winners(answers);
    expect(won).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) expect(a.json).toEqual(BLACKLISTED);
    const after = await t.store.countTokens();
    const refreshWon = won[0]?.json.refresh !== undefined;
    // a refresh win records its successor, which the losing refreshes then revoke with the family; a logout win
    // records nothing new
    expect(after.outstanding).toBe(before.outstanding + (refreshWon ? 1 : 0));
    expect(after.blacklisted).toBe(before.blacklisted + (refreshWon ? 2 : 1));
  });
});

describe('logout', () => {
  it('then refresh: 401 blacklisted, nothing issued', async () => {
    const { refresh: token } = await t.login();
    expect((await logout(token)).status).toBe(200);
    await expectRefused(t, () => refresh(token), { status: 401, body: BLACKLISTED }, [token]);
  });

  it('then verify: 400 blacklisted (simplejwt\'s shape), nothing changed', async () => {
    const { refresh: token } = await t.login();
    expect((await logout(token)).status).toBe(200);
    await expectRefused(t, () => verify(token), { status: 400, body: VERIFY_BLACKLISTED }, [token]);
  });

  it('then logout again: 401 blacklisted, no second row', async () => {
    const { refresh: token } = await t.login();
    expect((await logout(token)).status).toBe(200);
    await expectRefused(t, () => logout(token), { status: 401, body: BLACKLISTED }, [token]);
  });

  it('with an access token: 401 wrong type, nothing blacklisted', async () => {
    const { access } = await t.login();
    await expectRefused(t, () => logout(access), { status: 401, body: WRONG_TYPE }, [access]);
  });

  it('with a refresh token signed by another key: 401 invalid, no row written for its jti', async () => {
    const forged = mint(claims('refresh'), createSecretKey(Buffer.alloc(64, 7)));
    await expectRefused(t, () => logout(forged), { status: 401, body: INVALID }, [forged]);
  });
});

describe('refresh with the wrong thing', () => {
  it('a refresh token signed by another key (with a live token\'s jti): 401 invalid', async () => {
    const { refresh: real } = await t.login();
    const forged = mint(claims('refresh', { jti: claimsOf(real).jti }), createSecretKey(Buffer.alloc(64, 9)));
    await expectRefused(t, () => refresh(forged), { status: 401, body: INVALID }, [forged]);
    expect((await refresh(real)).status).toBe(200);
  });

  it('an access token: 401 wrong type', async () => {
    const { access } = await t.login();
    await expectRefused(t, () => refresh(access), { status: 401, body: WRONG_TYPE }, [access]);
  });

  it('a sliding token: 401 wrong type', async () => {
    const s = await t.post('/api/token/sliding/', { username: 'alice', password: PASSWORD });
    expect(s.status).toBe(200);
    await expectRefused(t, () => refresh(s.json.token), { status: 401, body: WRONG_TYPE }, [s.json.token]);
  });

  it('the refresh token of a user deactivated since: 401, no rotation', async () => {
    const u = await t.user('leaver');
    const { refresh: token } = await t.login('leaver');
    await t.store.setActive(u.id, false);
    await expectRefused(t, () => refresh(token), { status: 401, body: { detail: 'No active account found for the given token.', code: 'no_active_account' } }, [token]);
  });

  it('mallory\'s genuine refresh token with alice\'s user_id pasted in: 401 invalid', async () => {
    const { refresh: own } = await t.login('mallory');
    const [h, , s] = own.split('.');
    const body = Buffer.from(JSON.stringify({ ...claimsOf(own), user_id: '1' })).toString('base64url');
    const pasted = `${h}.${body}.${s}`;
    await expectRefused(t, () => refresh(pasted), { status: 401, body: INVALID }, [pasted]);
  });

  it('an expired refresh token: 401 expired, no rotation', async () => {
    const { refresh: token } = await t.login();
    t.advance(86_400_000 + 1000);
    try {
      await expectRefused(t, () => refresh(token), { status: 401, body: tokenError('Token is expired') }, [token]);
    } finally {
      t.advance(-(86_400_000 + 1000));
    }
  });

  it('leaves the store exactly as it was after a burst of mixed bad refreshes', async () => {
    const { access, refresh: used } = await t.login();
    expect((await refresh(used)).status).toBe(200);
    // the first replay revokes the family (tested above); after it, nothing may change the store
    expect((await refresh(used)).status).toBe(401);
    const before = await state(t.store);
    const bad = [access, used, 'garbage', `${used}x`, mint(claims('refresh'), createSecretKey(Buffer.alloc(64, 3)))];
    const answers = await Promise.all(bad.map((b) => refresh(b)));
    for (const a of answers) {
      expect(a.status).toBe(401);
      assertNothingIssued(a, bad);
    }
    expect(await state(t.store)).toBe(before);
  });
});
