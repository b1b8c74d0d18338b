/**
 * Both directions with one signing key and separate databases (the same users on each side): tokens issued by the
 * real simplejwt are accepted by restjwt, and tokens issued by restjwt are accepted by simplejwt — on the protected
 * view, on verify, and (simplejwt does not look the user up there) on refresh.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { bearer, claimsOf, client, headerOf, type Client } from './helpers/client.js';
import { djangoSkipReason, migrateDjango, seedDjangoUsers, SHARED_KEY, startDjango, type DjangoPeer } from './helpers/django.js';

const skip = djangoSkipReason();
if (skip !== null) console.warn(`[interop] skipping the cross-acceptance tests: ${skip}`);


describe.skipIf(skip !== null)(`tokens cross between simplejwt 5.2.2 and restjwt${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
  let dir: string;
  let peer: DjangoPeer | undefined;
  let app: TestApp | undefined;
  let django: Client;
  let restjwt: Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'restjwt-interop-cross-'));
    const config = { databaseUrl: `sqlite:///${join(dir, 'django.sqlite3')}` };
    await Promise.all([
      (async () => {
        await migrateDjango(config);
        await seedDjangoUsers(config, [{ username: 'alice', password: PASSWORD }]);
        peer = await startDjango(config);
      })(),
      (async () => {
        // restjwt's own defaults (5.5 messages, no rotation): only the key is shared.
        app = await startApp({ signingKey: SHARED_KEY });
        await app.user('alice');
      })(),
    ]);
    django = client(peer!.url);
    restjwt = client(app!.url);
  }, 60_000);

  afterAll(async () => {
    await peer?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('issues tokens in the same format: header, claim names and order (user_id: 5.2 integer, 5.5 string)', async () => {
    const [d, r] = await Promise.all([django.login('alice', PASSWORD), restjwt.login('alice', PASSWORD)]);
    for (const kind of ['access', 'refresh'] as const) {
      expect(headerOf(r[kind])).toEqual(headerOf(d[kind]));
      expect(Object.keys(claimsOf(r[kind]))).toEqual(Object.keys(claimsOf(d[kind])));
      expect(claimsOf(r[kind]).token_type).toBe(claimsOf(d[kind]).token_type);
      expect(claimsOf(r[kind]).exp as number - (claimsOf(r[kind]).iat as number)).toBe(
        (claimsOf(d[kind]).exp as number) - (claimsOf(d[kind]).iat as number),
      );
    }
    expect(claimsOf(d.access).user_id).toBe(1);
    expect(claimsOf(r.access).user_id).toBe('1');
  });

  it('restjwt accepts simplejwt tokens: protected view, verify (access and refresh)', async () => {
    const d = await django.login('alice', PASSWORD);
    const protectedView = await restjwt.get('/api/protected/', bearer(d.access));
    expect(protectedView.status).toBe(200);
    expect(protectedView.json).toEqual({ message: 'Hello, authenticated user!' });
    expect((await restjwt.post('/api/token/verify/', { token: d.access })).status).toBe(200);
    expect((await restjwt.post('/api/token/verify/', { token: d.refresh })).status).toBe(200);
  });

  it('simplejwt accepts restjwt tokens: protected view, verify (access and refresh)', async () => {
    const r = await restjwt.login('alice', PASSWORD);
    const protectedView = await django.get('/api/protected/', bearer(r.access));
    expect(protectedView.status).toBe(200);
    expect(protectedView.json).toEqual({ message: 'Hello, authenticated user!' });
    expect((await django.post('/api/token/verify/', { token: r.access })).json).toEqual({});
    expect((await django.post('/api/token/verify/', { token: r.refresh })).json).toEqual({});
  });

  it('each side refreshes the other side\'s refresh token, and the access token it mints works on the other side', async () => {
    const r = await restjwt.login('alice', PASSWORD);
    const atDjango = await django.post('/api/token/refresh/', { refresh: r.refresh });
    expect(atDjango.status).toBe(200);
    expect((await restjwt.get('/api/protected/', bearer(atDjango.json.access))).status).toBe(200);

    const d = await django.login('alice', PASSWORD);
    const atRestjwt = await restjwt.post('/api/token/refresh/', { refresh: d.refresh });
    expect(atRestjwt.status).toBe(200);
    // simplejwt's refresh copies iat from the refresh token; restjwt does the same.
    expect(claimsOf(atRestjwt.json.access).iat).toBe(claimsOf(d.refresh).iat);
    expect((await django.get('/api/protected/', bearer(atRestjwt.json.access))).status).toBe(200);
  });

  it('neither side accepts a token signed with another key by the other', async () => {
    const stranger = await startApp({ signingKey: 'a-different-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789ab' });
    try {
      await stranger.user('alice');
      const s = await stranger.login();
      expect((await django.get('/api/protected/', bearer(s.access))).status).toBe(401);
      expect((await restjwt.get('/api/protected/', bearer(s.access))).status).toBe(401);
    } finally {
      await stranger.close();
    }
  });
});
