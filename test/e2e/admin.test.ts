/**
 * The admin page in Chromium: a staff user in one browser context revokes the session another context logged in with,
 * and that context's refresh token is refused. `RESTJWT_SCREENSHOTS=1` rewrites docs/screenshots/admin.png.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IdentityStore, Store } from '@restjwt/core';
import { hasIdentities } from '@restjwt/core/store-kit';
import { createMemoryStore } from '@restjwt/core/memory';
import { PASSWORD } from '../helpers/server.js';
import { describeBrowser, startBrowserEnv, takeScreenshots, type BrowserEnv } from './browser.js';

// Functions passed to page.evaluate run in the browser; the project compiles without the DOM library, so they reach
// the page's globals through globalThis.
const SCREENSHOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots/admin.png');
const UA_B = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 (context B)';
const UA_C = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 (context C)';

interface Outcome {
  status: number;
  body: { detail?: string; code?: string; access?: string; refresh?: string } | null;
}

/** Logs `username` in from inside the page (a real browser request, with the context's User-Agent); tokens stay in the page. */
async function loginInPage(page: Page, username: string): Promise<Outcome> {
  return page.evaluate(
    async ([u, p]) => {
      const r = await fetch('/api/token/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: u, password: p }) });
      const body = (await r.json()) as { refresh?: string };
      (globalThis as unknown as { tokens: unknown }).tokens = body;
      return { status: r.status, body: { code: r.ok ? 'ok' : 'failed' } };
    },
    [username, PASSWORD] as const,
  );
}

/** Refreshes the page's tokens from inside the page (rotation on: keeps the new pair). */
async function refreshInPage(page: Page): Promise<Outcome> {
  return page.evaluate(async () => {
    const w = globalThis as unknown as { tokens: { refresh: string; access: string } };
    const r = await fetch('/api/token/refresh/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh: w.tokens.refresh }) });
    const body = (await r.json()) as { refresh?: string; access?: string; detail?: string; code?: string };
    if (r.ok && body.refresh !== undefined && body.access !== undefined) w.tokens = { refresh: body.refresh, access: body.access };
    return { status: r.status, body: r.ok ? { code: 'ok' } : { detail: body.detail, code: body.code } };
  });
}

/** Opens /admin/ in a fresh context and signs in. */
async function openAdmin(e: BrowserEnv, label: string, username: string): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await e.newContext(label);
  const opened = await e.newPage(context);
  await opened.page.goto(`${e.url}/admin/`);
  const signIn = opened.page.getByRole('region', { name: 'Sign in' });
  await signIn.getByLabel('Username').fill(username);
  await signIn.getByLabel('Password').fill(PASSWORD);
  await signIn.getByRole('button', { name: 'Sign in' }).click();
  return opened;
}

/** The store's linked identities (the memory store has them). */
function identities(store: Store): Store & IdentityStore {
  if (!hasIdentities(store)) throw new Error('the store has no linked identities');
  return store;
}

describeBrowser('admin page (Chromium)', () => {
  let e: BrowserEnv;
  let pageB: Page;
  let pageC: Page;
  let carol: string;

  beforeAll(async () => {
    e = await startBrowserEnv({ rotateRefreshTokens: true, blacklistAfterRotation: true, updateLastLogin: true }, { store: createMemoryStore() });
    await e.app.user('admin', { isStaff: true, email: 'admin@example.com' });
    await e.app.user('alice', { email: 'alice@example.com' });
    await e.app.user('bob', { email: 'bob@example.com' });
    await e.app.user('mallory', { email: '' });
    // Carol signed up through social login: no password, two linked identities.
    carol = (await e.app.store.createUser({ username: 'carol', email: 'carol@example.com', passwordHash: '' })).id;
    const at = new Date('2025-01-02T03:04:05Z');
    await identities(e.app.store).linkIdentity({ provider: 'github', subject: '583231', userId: carol, email: 'carol@users.noreply.example', at });
    await identities(e.app.store).linkIdentity({ provider: 'google', subject: '1098', userId: carol, email: null, at });
    // Alice logs in from two browsers: B (a desktop) and C (a phone).
    const b = await e.newPage(await e.newContext('B', { userAgent: UA_B }));
    pageB = b.page;
    await pageB.goto(`${e.url}/api/public/`);
    expect((await loginInPage(pageB, 'alice')).status).toBe(200);
    const c = await e.newPage(await e.newContext('C', { userAgent: UA_C }));
    pageC = c.page;
    await pageC.goto(`${e.url}/api/public/`);
    expect((await loginInPage(pageC, 'alice')).status).toBe(200);
    // B has been used since its login: its "last used" moves.
    e.app.advance(90_000);
    expect((await refreshInPage(pageB)).status).toBe(200);
    // Bob has a session too, so the blacklist has an entry from before.
    await e.app.login('bob');
  });
  afterAll(() => e?.close());

  it("the admin revokes B's session; B's refresh is then refused while C's still works", async () => {
    const { page, errors } = await openAdmin(e, 'A', 'admin');
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.locator('#whoami-name', { hasText: 'admin' }).waitFor();
    const aliceRow = page.getByRole('row').filter({ hasText: 'alice@example.com' });
    await aliceRow.getByRole('button', { name: 'Manage alice' }).click();
    await page.getByRole('heading', { name: 'Sessions of alice' }).waitFor();

    const rowB = page.getByRole('row').filter({ hasText: '(context B)' });
    const rowC = page.getByRole('row').filter({ hasText: '(context C)' });
    await rowB.waitFor();
    await rowC.waitFor();
    expect(await rowB.locator('td').nth(2).textContent()).toBe('127.0.0.1');
    expect(await rowB.getByText('Active', { exact: true }).count()).toBe(1);
    // B refreshed after its login: "last used" differs from "created".
    const [created, used] = await rowB.locator('time').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('datetime')));
    expect(Date.parse(used ?? '') - Date.parse(created ?? '')).toBeGreaterThanOrEqual(89_000);

    if (takeScreenshots) {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: false });
    }

    await rowB.getByRole('button', { name: /^Revoke the session/ }).click();
    await page.locator('#status', { hasText: 'Session revoked (1 token blacklisted).' }).waitFor();
    await rowB.waitFor({ state: 'detached' });
    await rowC.waitFor();
    // The revoked token shows in the blacklist table, with its user.
    await page.locator('#tokens-body tr', { hasText: 'alice' }).first().waitFor();

    const refusedB = await refreshInPage(pageB);
    expect(refusedB).toEqual({ status: 401, body: { detail: 'Token is blacklisted', code: 'token_not_valid' } });
    expect((await refreshInPage(pageC)).status).toBe(200);

    // Ended sessions on request.
    await page.getByLabel('Show ended sessions').check();
    await rowB.getByText('Ended', { exact: true }).waitFor();

    // Revoke all (confirmed): C's session ends too.
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke all sessions' }).click();
    await page.locator('#status', { hasText: 'All sessions of alice revoked' }).waitFor();
    expect((await refreshInPage(pageC)).status).toBe(401);

    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('creates a user and shows field errors from the API next to the fields', async () => {
    const { page, errors } = await openAdmin(e, 'A2', 'admin');
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.locator('#create-username').fill('alice');
    await page.locator('#create-password').fill('short');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('A user with that username already exists.').waitFor();
    await page.getByText('This password is too short. It must contain at least 8 characters.').waitFor();
    expect(await page.locator('#create-username').getAttribute('aria-invalid')).toBe('true');
    await page.locator('#create-username').fill('dora');
    await page.locator('#create-password').fill('dora password 1');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('#status', { hasText: 'User dora created.' }).waitFor();
    await page.getByRole('button', { name: 'Manage dora' }).waitFor();
    // The form errors were 400s the page expected; nothing else went wrong.
    expect(errors.filter((m) => !m.includes('400'))).toEqual([]);

    // Ten minutes later the access token has expired: the page refreshes it once and carries on.
    e.app.advance(10 * 60_000);
    await page.getByRole('button', { name: 'Manage dora' }).click();
    await page.getByRole('heading', { name: 'Sessions of dora' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'No active sessions.' }).waitFor();
    expect(await page.locator('#app').isVisible()).toBe(true);
  });

  it("shows a user's linked identities, unlinks one, and keeps the last way to sign in (the API's refusal)", async () => {
    const { page, errors } = await openAdmin(e, 'A3', 'admin');
    await page.getByRole('button', { name: 'Manage carol' }).click();
    await page.getByRole('heading', { name: 'Sessions of carol' }).waitFor();
    const section = page.getByRole('group', { name: 'Identities' });
    const github = section.getByRole('row').filter({ hasText: 'github' });
    const google = section.getByRole('row').filter({ hasText: 'google' });
    await github.waitFor();
    await google.waitFor();
    expect(await github.locator('td').allTextContents()).toEqual(['github', '583231', 'carol@users.noreply.example', expect.any(String), expect.any(String), 'Unlink']);
    expect(await google.locator('td').nth(2).textContent()).toBe('none');
    await section.getByText('No usable password', { exact: false }).waitFor();

    page.once('dialog', (d) => void d.accept());
    await google.getByRole('button', { name: 'Unlink google identity 1098' }).click();
    await page.locator('#status', { hasText: 'The google identity 1098 was unlinked from carol.' }).waitFor();
    await google.waitFor({ state: 'detached' });

    page.once('dialog', (d) => void d.accept());
    await github.getByRole('button', { name: 'Unlink github identity 583231' }).click();
    await page.locator('#status', { hasText: "This is the user's last way to sign in" }).waitFor();
    expect(await github.isVisible()).toBe(true);
    expect((await identities(e.app.store).listIdentities(carol)).map((i) => i.provider)).toEqual(['github']);
    // The refusal was a 400 the page expected; nothing else went wrong.
    expect(errors.filter((m) => !m.includes('400'))).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('tells a non-staff user the admin is for staff only (the API answers 403)', async () => {
    const { page } = await openAdmin(e, 'D', 'mallory');
    await page.getByRole('alert').filter({ hasText: 'Staff only' }).waitFor();
    expect(await page.locator('#app').isHidden()).toBe(true);
    // The page never got past the sign-in form, and the API agrees.
    const api = await page.evaluate(async () => {
      const login = await fetch('/api/token/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'mallory', password: 'correct horse battery staple' }) });
      const { access } = (await login.json()) as { access: string };
      const r = await fetch('/api/admin/users/', { headers: { Authorization: `Bearer ${access}` } });
      return { status: r.status, body: (await r.json()) as unknown };
    });
    expect(api).toEqual({ status: 403, body: { detail: 'You do not have permission to perform this action.', code: 'permission_denied' } });
  });
});

describeBrowser('admin page in cookie mode (Chromium)', () => {
  let e: BrowserEnv;

  beforeAll(async () => {
    e = await startBrowserEnv({ cookieMode: 'both', cookieSecure: false, rotateRefreshTokens: true, blacklistAfterRotation: true }, { store: createMemoryStore() });
    await e.app.user('admin', { isStaff: true });
    await e.app.user('alice');
  });
  afterAll(() => e?.close());

  it('works with the tokens in HttpOnly cookies, its POSTs passing the CSRF check', async () => {
    // Alice's session, outside the browser: her refresh token comes back as a cookie.
    const login = await e.app.post('/api/token/', { username: 'alice', password: PASSWORD });
    const refresh = login.headers.getSetCookie().find((c) => c.startsWith('restjwt-refresh='))?.split(';')[0]?.slice('restjwt-refresh='.length) ?? '';
    const refreshAlice = () => e.app.post('/api/token/refresh/', { refresh });
    expect(refresh).not.toBe('');
    const { page, errors } = await openAdmin(e, 'cookie-A', 'admin');
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    // The page never sees a token: only the CSRF cookie is readable.
    const cookies = await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie);
    expect(cookies).toMatch(/restjwt-csrf=/);
    expect(cookies).not.toMatch(/restjwt-(access|refresh)=/);
    await page.getByRole('button', { name: 'Manage alice' }).click();
    await page.getByRole('heading', { name: 'Sessions of alice' }).waitFor();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke all sessions' }).click();
    await page.locator('#status', { hasText: 'All sessions of alice revoked (1 token blacklisted).' }).waitFor();
    expect((await refreshAlice()).json).toEqual({ detail: 'Token is blacklisted', code: 'token_not_valid' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#status', { hasText: 'Signed out.' }).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).toBe('');
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });
});
