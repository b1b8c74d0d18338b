import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, exportJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { signCompact } from '../../packages/core/src/jws/sign.js';
import { headerOf, PASSWORD, startApp } from '../helpers/server.js';

const pem = (k: import('node:crypto').KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();

describe('GET /.well-known/jwks.json', () => {
  it('publishes the public key (no private members) with the kid tokens carry, cacheable, and jose verifies with it', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const t = await startApp({ algorithm: 'ES256', signingKey: pem(privateKey) });
    try {
      await t.user('alice');
      const { access } = await t.login();
      const r = await t.get('/.well-known/jwks.json');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
      expect(r.headers.get('cache-control')).toBe('public, max-age=300');
      expect(r.json.keys).toHaveLength(1);
      const [jwk] = r.json.keys;
      expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: headerOf(access).kid });
      const { payload } = await jwtVerify(access, createLocalJWKSet(r.json));
      expect(payload.token_type).toBe('access');
    } finally {
      await t.close();
    }
  });

  it('publishes nothing for an HMAC secret', async () => {
    const t = await startApp();
    try {
      const r = await t.get('/.well-known/jwks.json');
      expect(r.json).toEqual({ keys: [] });
    } finally {
      await t.close();
    }
  });
});

describe('key rotation without logging anyone out', () => {
  it('a retired key keeps verifying through additionalVerifyingKeys; without it, its tokens are refused', async () => {
    const k1 = generateKeyPairSync('ed25519').privateKey;
    const k2 = generateKeyPairSync('ed25519').privateKey;
    const before = await startApp({ algorithm: 'EdDSA', signingKey: pem(k1), signingKeyId: 'k1' });
    await before.user('alice');
    const old = await before.login();
    await before.close();
    const pub1 = JSON.stringify(await exportJWK(k1));
    const pub1Public = JSON.stringify({ ...JSON.parse(pub1), d: undefined });
    const after = await startApp({
      algorithm: 'EdDSA',
      signingKey: pem(k2),
      signingKeyId: 'k2',
      rotateRefreshTokens: true,
      additionalVerifyingKeys: [{ alg: 'EdDSA', key: pub1Public, kid: 'k1' }],
    });
    try {
      await after.user('alice');
      expect((await after.get('/api/protected/', { authorization: `Bearer ${old.access}` })).status).toBe(200);
      const r = await after.post('/api/token/refresh/', { refresh: old.refresh });
      expect(r.status).toBe(200);
      expect(headerOf(r.json.access).kid).toBe('k2');
      const kids = (await after.get('/.well-known/jwks.json')).json.keys.map((k: { kid: string }) => k.kid);
      expect(kids).toEqual(['k2', 'k1']);
    } finally {
      await after.close();
    }
    const only2 = await startApp({ algorithm: 'EdDSA', signingKey: pem(k2), signingKeyId: 'k2' });
    try {
      await only2.user('alice');
      expect((await only2.get('/api/protected/', { authorization: `Bearer ${old.access}` })).status).toBe(401);
    } finally {
      await only2.close();
    }
  });
});

describe('the token header never chooses the key', () => {
  it.each([
    ['an embedded jwk', (attacker: import('node:crypto').KeyObject) => ({ jwk: attacker.export({ format: 'jwk' }) })],
    ['a jku URL', () => ({ jku: 'http://127.0.0.1:1/jwks.json' })],
    ['an x5u URL', () => ({ x5u: 'http://127.0.0.1:1/cert.pem' })],
    ['a path-traversal kid', () => ({ kid: '../../../../dev/null' })],
    ['a SQL kid', () => ({ kid: "' OR '1'='1" })],
  ])('refuses an attacker-signed token with %s', async (_name, extra) => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const attacker = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const t = await startApp({ algorithm: 'ES256', signingKey: pem(privateKey) });
    try {
      await t.user('alice');
      const now = Math.floor(Date.now() / 1000);
      const payload = { token_type: 'access', exp: now + 60, iat: now, jti: 'a'.repeat(32), user_id: '1' };
      const header = { alg: 'ES256', typ: 'JWT', ...extra(attacker.publicKey) };
      const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
      const forged = `${input}.${signCompact('ES256', attacker.privateKey, payload).split('.')[2]}`;
      // re-sign the exact input with the attacker key so only the key choice is under test
      const { sign } = await import('node:crypto');
      const sig = sign('sha256', Buffer.from(input), { key: attacker.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
      for (const token of [forged, `${input}.${sig}`]) {
        const r = await t.get('/api/protected/', { authorization: `Bearer ${token}` });
        expect(r.status).toBe(401);
        expect(r.json.code).toBe('token_not_valid');
      }
      expect((await t.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
