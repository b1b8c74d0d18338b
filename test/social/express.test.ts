/** The handlers are framework-neutral: mounted on Express from `routes()`, exactly as docs/social-login.md shows. */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRestJwt } from '@restjwt/core';
import { headerRecord, outgoingHeaders, responseText } from '@restjwt/core/adapter-kit';
import { createSocialLogin } from '@restjwt/social';
import { createMemoryStore } from '@restjwt/core/memory';
import { SECRET } from '../helpers/server.js';

let url: string;
let close: () => void;
beforeAll(async () => {
  const restjwt = createRestJwt({ store: createMemoryStore(), settings: { signingKey: SECRET } });
  const social = createSocialLogin(restjwt, {
    publicUrl: 'http://localhost:8000',
    allowedRedirects: ['http://localhost:3000/signed-in'],
    providers: { github: { type: 'github', clientId: 'gh-id', clientSecret: 'gh-secret' } },
  });
  // --- as in the docs ---
  const app = express();
  app.use('/api/auth', express.text({ type: '*/*' }));
  for (const route of social.routes()) {
    app[route.method === 'GET' ? 'get' : route.method === 'POST' ? 'post' : 'delete'](route.path, async (req, res) => {
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
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close());

it('login redirects to GitHub with the binding cookie; errors keep their codes', async () => {
  const login = await fetch(`${url}/api/auth/github/login?next=${encodeURIComponent('http://localhost:3000/signed-in')}`, { redirect: 'manual' });
  expect(login.status).toBe(302);
  expect(login.headers.get('location')).toMatch(/^https:\/\/github\.com\/login\/oauth\/authorize\?/);
  expect(login.headers.getSetCookie()[0]).toMatch(/^restjwt-social=/);
  const bad = await fetch(`${url}/api/auth/github/login?next=${encodeURIComponent('https://evil.example/')}`, { redirect: 'manual' });
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ code: 'social_redirect_not_allowed' });
  const exchange = await fetch(`${url}/api/auth/exchange/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'nope' }) });
  expect(exchange.status).toBe(400);
  expect(await exchange.json()).toMatchObject({ code: 'social_exchange_code_invalid' });
  const identities = await fetch(`${url}/api/auth/identities/`);
  expect(identities.status).toBe(401);
});
