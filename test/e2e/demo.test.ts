/**
 * The demo page, driven in Debian's Chromium: sign-in, a protected call, silent refresh with 3-second access tokens,
 * two tabs refreshing at once, logout, and "log out everywhere" seen from another browser. Then the same in cookie
 * mode, and the API reference page. Needs the compiled client (`npm run build`).
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CSP } from '../../packages/restjwt/src/server/pages.js';
import { PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { describeBrowser, startBrowserEnv, takeScreenshots, type BrowserEnv } from './browser.js';

const ROOT = new URL('../../', import.meta.url);
const SCREENSHOTS = fileURLToPath(new URL('docs/screenshots/', ROOT));

/** The page imports @restjwt/core's dist/client: refuse to test a stale build rather than pass or fail for the wrong reason. */
function assertClientBuilt(): void {
  const src = fileURLToPath(new URL('packages/core/src/client/', ROOT));
  const dist = fileURLToPath(new URL('packages/core/dist/client/', ROOT));
  let built: number;
  try {
    built = statSync(`${dist}index.js`).mtimeMs;
  } catch {
    throw new Error('packages/core/dist/client/ is missing: run `npm run build` before the browser tests.');
  }
  const newest = Math.max(...readdirSync(src).map((f) => statSync(`${src}${f}`).mtimeMs));
  if (newest > Math.max(...readdirSync(dist).map((f) => statSync(`${dist}${f}`).mtimeMs)) + 1000) {
    throw new Error('packages/core/dist/client/ is older than its sources: run `npm run build` before the browser tests.');
  }
  void built;
}

/** Collects the answers to token requests of a page, to prove none was refused. */
function watchTokenAnswers(page: Page): { path: string; status: number }[] {
  const seen: { path: string; status: number }[] = [];
  page.on('response', (r: Response) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/api/token/')) seen.push({ path, status: r.status() });
  });
  return seen;
}

async function open(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.locator('html[data-ready="true"]').waitFor();
}

/** Signs in with the keyboard: labels find the fields, Enter submits. */
async function signIn(page: Page, username: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Password').press('Enter');
  await expect.poll(() => page.locator('#session').isVisible()).toBe(true);
  await expect.poll(() => page.locator('#who').textContent()).toBe(username);
}

async function claimsOn(page: Page): Promise<Record<string, unknown>> {
  return JSON.parse((await page.locator('#claims').textContent()) ?? '{}') as Record<string, unknown>;
}

async function callProtected(page: Page): Promise<string> {
  await page.getByRole('button', { name: 'Call /api/protected/' }).click();
  await expect.poll(() => page.locator('#result').getAttribute('data-status')).not.toBeNull();
  const text = (await page.locator('#result').textContent()) ?? '';
  await page.locator('#result').evaluate((el) => el.removeAttribute('data-status'));
  return text;
}

const logKinds = async (page: Page): Promise<string[]> => page.locator('#log li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind') ?? ''));

/** The scenarios shared by localStorage mode and cookie mode. */
function scenarios(mode: 'web' | 'cookie', settings: Record<string, unknown>) {
  let e: BrowserEnv;
  beforeAll(async () => {
    assertClientBuilt();
    e = await startBrowserEnv({ accessTokenLifetime: 3, rotateRefreshTokens: true, blacklistAfterRotation: true, ...settings });
    for (const u of ['alice', 'bob', 'carol', 'dave']) await e.app.user(u);
  });
  afterAll(() => e?.close());

  it('signs in, shows the claims and a countdown, and calls the protected endpoint', async () => {
    const { page, errors } = await e.newPage();
    await open(page, e.url);
    await expect.poll(() => page.locator('#signin').isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Signed out');
    // A wrong password: the server's message, in an alert.
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('no_active_account: No active account found with the given credentials');
    // Chromium logs every 4xx answer to fetch as a console error: that one was expected.
    expect(errors).toEqual(['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    errors.length = 0;
    await signIn(page, 'alice');
    const claims = await claimsOn(page);
    expect(claims).toMatchObject({ token_type: 'access', user_id: expect.anything() });
    expect(await page.locator('#countdown').textContent()).toMatch(/^\d\.\d s$/);
    expect(await callProtected(page)).toContain('Hello, authenticated user!');
    expect(await page.locator('#result').textContent()).toMatch(/^HTTP 200/);
    if (mode === 'cookie') {
      // The refresh token is in an HttpOnly cookie: invisible to the page, present in the browser.
      const visible = String(await page.evaluate('document.cookie'));
      // Secure cookies with their __Host-/__Secure- names: Chromium treats http://127.0.0.1 as a secure context.
      expect(visible).toMatch(/^__Host-restjwt-csrf=[\w-]+$/);
      const jar = await page.context().cookies();
      expect(jar.find((c) => c.name === '__Secure-restjwt-refresh')).toMatchObject({ httpOnly: true, secure: true, path: '/api/token/', sameSite: 'Strict' });
      expect(String(await page.evaluate('JSON.stringify(localStorage)'))).toBe('{}');
    }
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('refreshes silently before the 3-second token expires; a call after its expiry succeeds', async () => {
    const { page, errors } = await e.newPage();
    const answers = watchTokenAnswers(page);
    await open(page, e.url);
    await signIn(page, 'bob');
    const first = await claimsOn(page);
    // The refresh shows in the page's log, and the claims change, without any click.
    await page.locator('#log li[data-kind="refresh"]').first().waitFor({ timeout: 6000 });
    await expect.poll(async () => (await claimsOn(page)).jti).not.toBe(first.jti);
    // Past the first token's expiry:
    const wait = (first.exp as number) * 1000 - Date.now() + 200;
    if (wait > 0) await page.waitForTimeout(wait);
    expect(await callProtected(page)).toContain('HTTP 200');
    expect(answers.filter((a) => a.path === '/api/token/refresh/').every((a) => a.status === 200)).toBe(true);
    expect(await logKinds(page)).not.toContain('failure');
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('two tabs refreshing at once: both stay signed in and no refresh is refused', async () => {
    const context = await e.newContext(`${mode}-tabs`);
    const one = await e.newPage(context);
    const two = await e.newPage(context);
    const answers = watchTokenAnswers(one.page);
    const answers2 = watchTokenAnswers(two.page);
    await open(one.page, e.url);
    await signIn(one.page, 'carol');
    // The second tab shares the session (Web Storage, or the cookie) and resumes it.
    await open(two.page, e.url);
    await expect.poll(() => two.page.locator('#session').isVisible()).toBe(true);
    // Both refresh at the same moment, by hand, several times, while their timers refresh too.
    for (let i = 0; i < 3; i++) {
      await Promise.all([one.page.getByRole('button', { name: 'Refresh now' }).click(), two.page.getByRole('button', { name: 'Refresh now' }).click()]);
    }
    await one.page.waitForTimeout(3500); // more than a whole token lifetime of timer-driven refreshes
    for (const { page } of [one, two]) {
      expect(await page.locator('#session').isVisible()).toBe(true);
      expect(await logKinds(page)).not.toContain('failure');
      expect(await logKinds(page)).not.toContain('logout');
      expect(await callProtected(page)).toContain('HTTP 200');
    }
    const refreshes = [...answers, ...answers2].filter((a) => a.path === '/api/token/refresh/');
    expect(refreshes.length).toBeGreaterThan(0);
    expect(refreshes.filter((a) => a.status !== 200)).toEqual([]);
    // The family is intact: one more refresh works.
    await one.page.getByRole('button', { name: 'Refresh now' }).click();
    await expect.poll(() => one.page.locator('#log li[data-kind="failure"]').count()).toBe(0);
    expect(one.errors).toEqual([]);
    expect(two.errors).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('logs out: the refresh token is revoked, and the other tab signs out too', async () => {
    const context = await e.newContext(`${mode}-logout`);
    const one = await e.newPage(context);
    const two = await e.newPage(context);
    await open(one.page, e.url);
    await signIn(one.page, 'carol');
    await open(two.page, e.url);
    await expect.poll(() => two.page.locator('#session').isVisible()).toBe(true);
    const refresh = await stolenRefreshToken(one.page, context);
    await one.page.getByRole('button', { name: 'Log out', exact: true }).click();
    await expect.poll(() => one.page.locator('#signin').isVisible()).toBe(true);
    await expect.poll(() => one.page.getByRole('status').textContent()).toBe('Signed out.');
    await expect.poll(() => two.page.locator('#signin').isVisible()).toBe(true);
    expect(await logKinds(two.page)).toContain('logout');
    expect((await e.app.post('/api/token/refresh/', { refresh })).json).toEqual({ detail: 'Token is blacklisted', code: 'token_not_valid' });
    if (mode === 'cookie') expect((await context.cookies()).map((c) => c.name)).toEqual([]);
    else expect(String(await one.page.evaluate('localStorage.getItem("restjwt.demo")'))).toBe('null');
    // A reload stays signed out.
    await open(one.page, e.url);
    await expect.poll(() => one.page.locator('#signin').isVisible()).toBe(true);
    e.assertNoExternalRequests();
  });

  it('log out everywhere: another browser\'s session ends at its next refresh', async () => {
    const mine = await e.newPage(await e.newContext(`${mode}-everywhere-a`));
    const theirs = await e.newPage(await e.newContext(`${mode}-everywhere-b`));
    for (const { page } of [mine, theirs]) {
      await open(page, e.url);
      await signIn(page, 'dave');
    }
    await mine.page.getByRole('button', { name: 'Log out everywhere' }).click();
    await expect.poll(() => mine.page.locator('#signin').isVisible()).toBe(true);
    await expect.poll(() => mine.page.getByRole('status').textContent()).toContain('Signed out everywhere');
    // The other browser's timer refreshes within its 3-second token's lifetime and is refused.
    await theirs.page.locator('#log li[data-kind="failure"]').first().waitFor({ timeout: 6000 });
    expect(await theirs.page.locator('#log li[data-kind="failure"]').first().textContent()).toContain('token_not_valid');
    await expect.poll(() => theirs.page.locator('#signin').isVisible()).toBe(true);
    e.assertNoExternalRequests();
  });

  return () => e;
}

/** The refresh token the browser holds, read the way an attacker with the browser's storage would (for assertions). */
async function stolenRefreshToken(page: Page, context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name.endsWith('restjwt-refresh'));
  if (cookie !== undefined) return cookie.value;
  const stored = JSON.parse(String(await page.evaluate('localStorage.getItem("restjwt.demo")'))) as { refresh: string };
  return stored.refresh;
}

describe('demo page over HTTP (no browser needed)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ cookieMode: 'refresh', cookieSecure: false });
  });
  afterAll(() => t.close());

  it('serves the page with a strict CSP, no inline script or style, and nothing external', async () => {
    const page = await t.get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toBe(DEMO_CSP);
    expect(DEMO_CSP).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self';/);
    expect(page.text).toContain('<meta name="restjwt-cookie-mode" content="refresh">');
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script has a src
    expect(page.text).not.toMatch(/\sstyle=|\son[a-z]+=/i); // no inline styles or handlers
    for (const path of ['/', '/assets/demo/demo.js', '/assets/demo/demo.css']) {
      const r = await t.get(path);
      expect(r.status, path).toBe(200);
      expect(r.text, path).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    }
    expect((await t.get('/assets/demo/demo.js')).headers.get('content-type')).toMatch(/^text\/javascript/);
    // Labels for every input.
    for (const id of [...page.text.matchAll(/<input id="([^"]+)"/g)].map((m) => m[1])) expect(page.text).toContain(`<label for="${id}">`);
  });

  it('serves the compiled client as ES modules whose imports all resolve, and nothing else', async () => {
    assertClientBuilt();
    const seen = new Set<string>();
    const queue = ['/assets/client/index.js'];
    while (queue.length > 0) {
      const path = queue.pop()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const r = await t.get(path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(r.text, path).not.toMatch(/from ['"](node:|[a-z@])/); // browser-safe: relative imports only
      for (const m of r.text.matchAll(/from '(\.\/[\w-]+\.js)'/g)) queue.push(new URL(m[1]!, `http://x${path}`).pathname);
    }
    expect(seen.size).toBeGreaterThanOrEqual(5);
    for (const path of ['/assets/client/index.d.ts', '/assets/client/client.js.map', '/assets/client/..%2F..%2Fpackage.json', '/assets/demo/index.html', '/assets/demo/..%2Fpages.ts']) {
      expect((await t.get(path)).status, path).toBe(404);
    }
  });
});

describeBrowser('demo page in Chromium (tokens in localStorage)', () => {
  scenarios('web', {});
});

describeBrowser('demo page in Chromium (cookie mode: the refresh token in an HttpOnly cookie)', () => {
  const env = scenarios('cookie', { cookieMode: 'refresh' });

  it('resumes the session after a reload from the cookie alone', async () => {
    const { page, errors } = await env().newPage();
    await open(page, env().url);
    await signIn(page, 'alice');
    await page.reload();
    await page.locator('html[data-ready="true"]').waitFor();
    await expect.poll(() => page.locator('#session').isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('status').textContent()).toContain('session resumed');
    expect(await callProtected(page)).toContain('HTTP 200');
    expect(errors).toEqual([]);
    env().assertNoExternalRequests();
  });
});

describeBrowser('screenshots and the API reference in Chromium', () => {
  let e: BrowserEnv;
  beforeAll(async () => {
    assertClientBuilt();
    // 10-second tokens: a silent refresh happens 5 s in, and shows in the log of the screenshot.
    e = await startBrowserEnv({ cookieMode: 'refresh', rotateRefreshTokens: true, blacklistAfterRotation: true, accessTokenLifetime: 10 });
    await e.app.user('alice');
  });
  afterAll(() => e?.close());

  it('the demo page, signed in (docs/screenshots/demo.png with RESTJWT_SCREENSHOTS=1)', async () => {
    const { page, errors } = await e.newPage();
    await open(page, e.url);
    await signIn(page, 'alice');
    await page.locator('#log li[data-kind="refresh"]').first().waitFor({ timeout: 8000 });
    expect(await page.locator('#log li[data-kind="refresh"]').first().textContent()).toContain('Silent refresh');
    expect(await callProtected(page)).toContain('HTTP 200');
    expect(await page.locator('#countdown').textContent()).toMatch(/^\d\.\d s$/);
    if (takeScreenshots) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: `${SCREENSHOTS}demo.png` });
    }
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('the API reference renders from local assets, without CSP violations (docs/screenshots/api-docs.png)', async () => {
    const { page, errors } = await e.newPage();
    await page.goto(`${e.url}/api/docs/`);
    await page.locator('.swagger-ui .opblock-summary-path[data-path="/api/token/"]').first().waitFor();
    expect(await page.locator('.swagger-ui .opblock').count()).toBeGreaterThanOrEqual(10);
    expect(await page.locator('.swagger-ui .btn.authorize').count()).toBe(1);
    if (takeScreenshots) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: `${SCREENSHOTS}api-docs.png` });
    }
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });
});
