import { describe, expect, it } from 'vitest';
import { TokenError } from '@restjwt/core';
import { buildKeyset } from '../../packages/core/src/keys/keyset.js';
import { resolveSettings } from '../../packages/core/src/settings/resolve.js';
import { TokenService } from '../../packages/core/src/tokens/token-service.js';
import type { UserRecord } from '../../packages/core/src/store/types.js';
import { startApp } from '../helpers/server.js';

const user: UserRecord = {
  id: '1', username: 'alice', email: '', passwordHash: '', isActive: true, isStaff: false, lastLogin: null, dateJoined: new Date(), tokenVersion: 'v',
};

function service(clock: () => number, extra: Record<string, unknown> = {}) {
  const s = resolveSettings({ signingKey: 'k'.repeat(64), ...extra }).settings;
  return new TokenService(s, buildKeyset(s), clock);
}

describe('verified-token cache', () => {
  it('serves a repeated token from the cache but never past exp', () => {
    let now = 1_800_000_000_000;
    const tokens = service(() => now);
    const raw = tokens.encodeLocal(tokens.forUser('access', user));
    const first = tokens.decodeLocal(raw, 'access');
    expect(tokens.decodeLocal(raw, 'access')).toBe(first); // the same object: a hit
    now += 299_000;
    expect(tokens.decodeLocal(raw, 'access').payload.jti).toBe(first.payload.jti);
    now += 1_000; // exp reached
    expect(() => tokens.decodeLocal(raw, 'access')).toThrow(TokenError);
  });

  it('a hit needs the whole string: one sharing the cached token\'s key (length, signature tail) is verified and refused', () => {
    const tokens = service(Date.now);
    const raw = tokens.encodeLocal(tokens.forUser('access', user));
    const first = tokens.decodeLocal(raw, 'access');
    const dot = raw.indexOf('.') + 5; // inside the payload: the signature, and so the key, stay the same
    const edited = `${raw.slice(0, dot)}${raw[dot] === 'A' ? 'B' : 'A'}${raw.slice(dot + 1)}`;
    expect(edited).toHaveLength(raw.length);
    expect(edited.slice(-8)).toBe(raw.slice(-8));
    expect(() => tokens.decodeLocal(edited, 'access')).toThrow(TokenError);
    expect(tokens.decodeLocal(raw, 'access')).toBe(first); // the genuine entry is still there
  });

  it('a token whose iat is in the future within leeway is served only while now + leeway has not fallen behind iat', () => {
    let now = 1_800_000_000_000;
    const tokens = service(() => now, { leeway: 30 });
    const token = tokens.forUser('access', user);
    token.payload.iat = now / 1000 + 20;
    const raw = tokens.encodeLocal(token);
    const first = tokens.decodeLocal(raw, 'access');
    expect(tokens.decodeLocal(raw, 'access')).toBe(first);
    now -= 15_000; // a clock set back: iat is now 35 s ahead, past the leeway, even for a cached token
    expect(() => tokens.decodeLocal(raw, 'access')).toThrow(TokenError);
  });

  it('a hit is per token type: a cached refresh token is still the wrong type for authentication', () => {
    const tokens = service(Date.now);
    const raw = tokens.encodeLocal(tokens.forUser('refresh', user));
    tokens.decodeLocal(raw, 'refresh');
    expect(() => tokens.decodeLocal(raw, 'access')).toThrow(TokenError);
  });

  it('is bounded, and off with size 0', () => {
    const tokens = service(Date.now, { verifiedTokenCacheSize: 2 });
    const raws = [1, 2, 3].map(() => tokens.encodeLocal(tokens.forUser('access', user)));
    const first = tokens.decodeLocal(raws[0]!, 'access');
    tokens.decodeLocal(raws[1]!, 'access');
    tokens.decodeLocal(raws[2]!, 'access');
    expect(tokens.decodeLocal(raws[0]!, 'access')).not.toBe(first); // evicted
    const off = service(Date.now, { verifiedTokenCacheSize: 0 });
    const raw = off.encodeLocal(off.forUser('access', user));
    expect(off.decodeLocal(raw, 'access')).not.toBe(off.decodeLocal(raw, 'access'));
  });

  it('keeps least-recently-used order: a hit moves its token to the newest place, a hit on the newest changes nothing', () => {
    const tokens = service(Date.now, { verifiedTokenCacheSize: 2 });
    const [a, b, c, d] = [1, 2, 3, 4].map(() => tokens.encodeLocal(tokens.forUser('access', user))) as [string, string, string, string];
    const first = { a: tokens.decodeLocal(a, 'access'), b: tokens.decodeLocal(b, 'access') };
    expect(tokens.decodeLocal(a, 'access')).toBe(first.a); // a hit: a becomes the newest
    expect(tokens.decodeLocal(a, 'access')).toBe(first.a); // a hit on the newest
    tokens.decodeLocal(c, 'access'); // evicts b, the least recently used
    expect(tokens.decodeLocal(a, 'access')).toBe(first.a);
    expect(tokens.decodeLocal(b, 'access')).not.toBe(first.b); // b was evicted; it is back now, and c was evicted
    const again = tokens.decodeLocal(b, 'access');
    expect(tokens.decodeLocal(b, 'access')).toBe(again); // b is the newest, hit twice
    tokens.decodeLocal(d, 'access'); // evicts a (c went when b came back)
    expect(tokens.decodeLocal(b, 'access')).toBe(again);
    expect(tokens.decodeLocal(a, 'access')).not.toBe(first.a);
  });

  it('revocation is still checked on every hit (user deactivated, sliding token blacklisted)', async () => {
    const t = await startApp({ authTokenClasses: ['access', 'sliding'] });
    try {
      const u = await t.user('alice');
      const { access } = await t.login();
      const sliding = (await t.post('/api/token/sliding/', { username: 'alice', password: 'correct horse battery staple' })).json.token;
      for (const tok of [access, sliding]) expect((await t.get('/api/protected/', { authorization: `Bearer ${tok}` })).status).toBe(200);
      // blacklist the sliding token in the store: the cached verification must not let it through
      const c = JSON.parse(Buffer.from(sliding.split('.')[1], 'base64url').toString()) as { jti: string; exp: number; iat: number };
      await t.store.blacklist({ jti: c.jti, userId: u.id, tokenType: 'sliding', familyId: null, createdAt: new Date(c.iat * 1000), expiresAt: new Date(c.exp * 1000) });
      expect((await t.get('/api/protected/', { authorization: `Bearer ${sliding}` })).status).toBe(401);
      await t.store.setActive(u.id, false);
      const r = await t.get('/api/protected/', { authorization: `Bearer ${access}` });
      expect(r.status).toBe(401);
      expect(r.json.code).toBe('user_inactive');
    } finally {
      await t.close();
    }
  });
});
