/**
 * The admin API is framework-neutral: its route table (`adminRoutes`) mounted on Express, as docs/admin.md shows,
 * answers exactly as the reference server (Fastify) does — same status, body and headers — over the same service.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '@restjwt/core/admin';
import { headerRecord, outgoingHeaders, responseText } from '@restjwt/core/adapter-kit';
import { createMemoryStore } from '@restjwt/core/memory';
import { startApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
let expressUrl: string;
let closeExpress: () => void;
let staff: Record<string, string>;
let plain: Record<string, string>;

beforeAll(async () => {
  t = await startApp({ locales: ['en', 'fr'] }, { store: createMemoryStore() });
  await t.user('admin', { isStaff: true });
  await t.user('alice');
  staff = { authorization: `Bearer ${(await t.login('admin')).access}` };
  plain = { authorization: `Bearer ${(await t.login('alice')).access}` };

  // --- as in the docs ---
  const app = express();
  // Express's own ETag and X-Powered-By would be the only differences: the core's answer is the whole answer.
  app.set('etag', false).disable('x-powered-by');
  app.use('/api/admin', express.text({ type: '*/*' }));
  for (const route of adminRoutes(t.restjwt)) {
    app[route.method === 'GET' ? 'get' : route.method === 'POST' ? 'post' : 'options'](route.path, async (req, res) => {
      const out = await route.handle(req.params as Record<string, string>, {
        method: req.method,
        headers: headerRecord(req.headers),
        rawBody: typeof req.body === 'string' ? req.body : undefined,
        ip: req.ip,
        url: req.originalUrl,
      });
      res.status(out.status).set(outgoingHeaders(out)).send(responseText(out));
    });
  }
  // ---
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  expressUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeExpress = () => server.close();
});
afterAll(async () => {
  closeExpress();
  await t.close();
});

interface Seen {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** One request's answer, with every header but the connection's own. */
async function ask(base: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Seen> {
  const init: RequestInit = { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, redirect: 'manual' };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(base + path, init);
  const kept = [...res.headers].filter(([name]) => !['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(name));
  return { status: res.status, headers: Object.fromEntries(kept), text: await res.text() };
}

/** Asks the reference server, then Express, the same thing; both answers must be the same, byte for byte. */
async function both(method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Seen> {
  const reference = await ask(t.url, method, path, headers, body);
  const mounted = await ask(expressUrl, method, path, headers, body);
  expect(mounted, `${method} ${path}`).toEqual(reference);
  return reference;
}

describe('the admin route table mounted on Express', () => {
  it('answers an anonymous request 401 not_authenticated with the challenge', async () => {
    const r = await both('GET', '/api/admin/users/');
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text)).toEqual({ detail: 'Authentication credentials were not provided.', code: 'not_authenticated' });
    expect(r.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect((await both('POST', '/api/admin/flush/', {}, {})).status).toBe(401);
  });

  it('answers a user who is not staff 403 permission_denied, in the request language', async () => {
    const r = await both('GET', '/api/admin/users/', plain);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.text)).toEqual({ detail: 'You do not have permission to perform this action.', code: 'permission_denied' });
    const fr = await both('POST', '/api/admin/users/', { ...plain, 'accept-language': 'fr' }, { username: 'mallory', password: 'long enough password' });
    expect(JSON.parse(fr.text).code).toBe('permission_denied');
    expect(await t.store.findUser('username', 'mallory')).toBeNull();
  });

  it('lists users for staff: 200, the paged body, never cached', async () => {
    const r = await both('GET', '/api/admin/users/?limit=1', staff);
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
    const page = JSON.parse(r.text) as { count: number; next: string | null; results: Array<{ username: string }> };
    expect(page.count).toBe(2);
    expect(page.next).toBe('/api/admin/users/?limit=1&offset=1');
    expect(page.results.map((u) => u.username)).toEqual(['admin']);
    expect((await both('OPTIONS', '/api/admin/users/', staff)).status).toBe(200);
  });

  it('answers invalid input with the same 400 field errors, body and query alike, creating nothing', async () => {
    const r = await both('POST', '/api/admin/users/', { ...staff, 'accept-language': 'fr' }, { username: '', password: 'short', is_staff: 'maybe' });
    expect(r.status).toBe(400);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(r.text)).toEqual({
      username: ['Ce champ ne peut être vide.'],
      password: ['Ce mot de passe est trop court. Il doit contenir au minimum 8 caractères.'],
      is_staff: ['Doit être un booléen valide.'],
    });
    const paging = await both('GET', '/api/admin/users/?limit=0&offset=x', staff);
    expect(paging.status).toBe(400);
    expect(JSON.parse(paging.text)).toEqual({ limit: ['Ensure this value is greater than or equal to 1.'], offset: ['A valid integer is required.'] });
    expect((await t.store.listUsers({ limit: 10, offset: 0 })).map((u) => u.username)).toEqual(['admin', 'alice']);
  });

  it('runs the operations for real: a user created through Express is the reference server\'s user', async () => {
    const created = await ask(expressUrl, 'POST', '/api/admin/users/', staff, { username: 'bob', password: 'long enough password' });
    expect(created.status).toBe(201);
    const { id } = JSON.parse(created.text) as { id: string };
    const fetched = await both('GET', `/api/admin/users/${id}/`, staff);
    expect(JSON.parse(fetched.text)).toEqual(JSON.parse(created.text));
    expect((await t.login('bob', 'long enough password')).access).toEqual(expect.any(String));
  });
});
