import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, snapshot, startApp, type TestApp } from '../helpers/server.js';

describe('transport: methods, media types, sizes, paths', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
    await t.user('alice');
  });
  afterAll(() => t.close());

  it.each(['GET', 'PUT', 'PATCH', 'DELETE'])('%s on a token endpoint is 405 with Allow', async (method) => {
    const r = await t.send(method, '/api/token/');
    expect(r.status).toBe(405);
    expect(r.json).toEqual({ detail: `Method "${method}" not allowed.`, code: 'method_not_allowed' });
    expect(r.headers.get('allow')).toBe('POST, OPTIONS');
  });

  it('OPTIONS describes the endpoint', async () => {
    const r = await t.send('OPTIONS', '/api/token/refresh/');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ name: 'Token Refresh', actions: { POST: { refresh: { type: 'string', required: true } } } });
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['application/xml', 'application/xml'],
    ['multipart/form-data; boundary=x', 'multipart/form-data'],
  ])('refuses %s with 415', async (ct, shown) => {
    const before = await snapshot(t.store);
    const r = await t.send('POST', '/api/token/', { body: 'username=alice', headers: { 'content-type': ct } });
    expect(r.status).toBe(415);
    expect(r.json).toEqual({ detail: `Unsupported media type "${shown}" in request.`, code: 'unsupported_media_type' });
    expect(await snapshot(t.store)).toBe(before);
  });

  it('accepts application/json with a charset parameter', async () => {
    const r = await t.send('POST', '/api/token/', {
      body: JSON.stringify({ username: 'alice', password: PASSWORD }),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(r.status).toBe(200);
  });

  it('refuses a body over the limit with 413 and issues nothing', async () => {
    const before = await snapshot(t.store);
    const r = await t.post('/api/token/', { username: 'alice', password: PASSWORD, pad: 'x'.repeat(70_000) });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ detail: 'Request body is larger than 65536 bytes.', code: 'request_too_large' });
    expect(await snapshot(t.store)).toBe(before);
  });

  it('refuses a token longer than maxTokenLength as invalid, without parsing it', async () => {
    const r = await t.post('/api/token/verify/', { token: `${'a'.repeat(9000)}.b.c` });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ detail: 'Token is invalid', code: 'token_not_valid' });
  });

  it('redirects a missing trailing slash with 308 (method kept)', async () => {
    const r = await t.send('POST', '/api/token/refresh');
    expect(r.status).toBe(308);
    expect(r.headers.get('location')).toBe('/api/token/refresh/');
  });

  it('answers unknown paths with a JSON 404', async () => {
    const r = await t.get('/api/nothing/');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ detail: 'Not found.', code: 'not_found' });
  });

  it('speaks French when asked and configured, English otherwise', async () => {
    const fr = await startApp({ locales: ['en', 'fr'] });
    try {
      const r = await fr.post('/api/token/refresh/', {}, { 'accept-language': 'fr-CH, fr;q=0.9, en;q=0.8' });
      expect(r.json).toEqual({ refresh: ['Ce champ est obligatoire.'] });
      const e = await fr.post('/api/token/verify/', { token: 'x' }, { 'accept-language': 'de, fr;q=0.5' });
      expect(e.json).toEqual({ detail: "Le jeton n'est pas valide", code: 'token_not_valid' });
      expect((await fr.post('/api/token/verify/', { token: 'x' }, { 'accept-language': 'de' })).json.detail).toBe('Token is invalid');
      // not configured: English whatever the header says
      expect((await t.post('/api/token/verify/', { token: 'x' }, { 'accept-language': 'fr' })).json.detail).toBe('Token is invalid');
    } finally {
      await fr.close();
    }
  });

  it('GET /healthz answers ok', async () => {
    const r = await t.get('/healthz');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok' });
  });
});

describe('the store going away', () => {
  it('answers 503 with a clear body on every endpoint and issues nothing', async () => {
    const t = await startApp();
    await t.user('alice');
    const { access, refresh } = await t.login();
    await t.store.close();
    const login = await t.post('/api/token/', { username: 'alice', password: PASSWORD });
    expect(login.status).toBe(503);
    expect(login.json).toEqual({
      detail: 'The token store is unavailable. Nothing was issued or changed; try again shortly.',
      code: 'store_unavailable',
    });
    expect(login.headers.get('retry-after')).toBe('1');
    expect((await t.post('/api/token/refresh/', { refresh })).status).toBe(503);
    expect((await t.get('/api/protected/', { authorization: `Bearer ${access}` })).status).toBe(503);
    expect((await t.get('/healthz')).status).toBe(503);
    // the answers carry no stack and no SQL
    expect(login.text).not.toMatch(/at .*\.ts|SELECT|sqlite/i);
    await t.close().catch(() => {});
  });
});
