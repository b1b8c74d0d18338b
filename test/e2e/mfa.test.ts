/**
 * Second factors in Chromium, end to end through the demo and admin pages: enrolling an authenticator app (its QR code
 * drawn in the page, the test computing the codes from the secret the page shows), a passkey (Chromium's virtual
 * authenticator, through the DevTools protocol), recovery codes; the login's second step with each; passkey sign-in
 * without a password; and the admin resetting a user's factors. WebAuthn needs a secure context: the pages are opened
 * at http://localhost:PORT, which is one, and the server's MFA is configured for that origin and the RP id
 * `localhost`. `RESTJWT_SCREENSHOTS=1` rewrites docs/screenshots/mfa.png.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'otplib';
import { encode } from 'uqr';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRestJwt, type RestJwtOptions, type Store, type UserRecord } from '@restjwt/core';
import { createMfa } from '@restjwt/mfa';
import { openSqliteStore } from '@restjwt/sqlite';
import { otpauthUri } from '../../packages/mfa/src/totp.js';
import { buildServer } from '../../packages/restjwt/src/server/app.js';
import { claimsOf, fastHasher, PASSWORD, SECRET } from '../helpers/server.js';
import { browserEnvFor, describeBrowser, takeScreenshots, type BrowserEnv } from './browser.js';
import { freePort } from '../helpers/free-port.js';

const SCREENSHOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots/mfa.png');
/** The key the server encrypts TOTP secrets with (32 bytes, base64). */
const MFA_KEY = Buffer.alloc(32, 9).toString('base64');

interface MfaServer {
  /** `http://localhost:PORT`: the pages' origin, the one WebAuthn is configured for. */
  url: string;
  store: Store;
  /** The server's clock (ms). */
  now(): number;
  /** Moves the server's clock (ms): each TOTP time step is accepted once, so a later sign-in needs a later step. */
  advance(ms: number): void;
  user(username: string, extra?: { isStaff?: boolean }): Promise<UserRecord>;
  post(path: string, body: unknown, access?: string): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}


/**
 * The reference server with second factors, wired as an application does (createMfa → createRestJwt({ secondFactor })
 * → buildServer({ mfa })), over a SQLite file, with rotation, blacklisting and revocation checks on: a page that did
 * not adopt the pair an enrolment answers would lose its session.
 */
async function startMfaServer(settings: RestJwtOptions['settings'] = {}): Promise<MfaServer> {
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-e2e-mfa-'));
  const store = await openSqliteStore({ filename: join(dir, 'db.sqlite3') });
  const port = await freePort();
  const url = `http://localhost:${port}`;
  let offset = 0;
  const clock = () => Date.now() + offset;
  const mfa = createMfa({ store, rpId: 'localhost', rpName: 'restjwt demo', origins: [url], encryptionKey: MFA_KEY });
  const restjwt = createRestJwt({
    hasher: fastHasher,
    clock,
    store,
    settings: { signingKey: SECRET, rotateRefreshTokens: true, blacklistAfterRotation: true, checkRevokeToken: true, ...settings },
    secondFactor: mfa.secondFactor,
  });
  const app = await buildServer({ restjwt, logger: false, mfa });
  await app.listen({ host: '127.0.0.1', port });
  return {
    url,
    store,
    now: clock,
    advance: (ms) => {
      offset += ms;
    },
    user: async (username, extra = {}) =>
      store.createUser({ username, email: `${username}@example.com`, passwordHash: await fastHasher.hash(PASSWORD), isActive: true, isStaff: extra.isStaff ?? false }),
    post: async (path, body, access) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(access === undefined ? {} : { authorization: `Bearer ${access}` }) },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The authenticator app's code for `secret` at the server's time. */
const codeAt = (e: BrowserEnv<MfaServer>, secret: string): Promise<string> => generate({ secret, epoch: Math.floor(e.app.now() / 1000) });

/** A code of a time step no earlier code used: the server's clock moves on one step (30 s) first. */
function nextCode(e: BrowserEnv<MfaServer>, secret: string): Promise<string> {
  e.app.advance(30_000);
  return codeAt(e, secret);
}

async function open(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.locator('html[data-ready="true"]').waitFor();
}

/** Username and password in the sign-in form; Enter submits. */
async function submitPassword(page: Page, username: string): Promise<void> {
  const form = page.locator('#signin-form');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByLabel('Password').press('Enter');
}

async function expectSignedIn(page: Page, username: string): Promise<void> {
  await expect.poll(() => page.locator('#session').isVisible()).toBe(true);
  await expect.poll(() => page.locator('#who').textContent()).toBe(username);
}

/** The second step of the sign-in: shown in place of the password form. */
const secondStep = (page: Page) => page.getByRole('form', { name: 'Second step' });

async function claimsOn(page: Page): Promise<Record<string, unknown>> {
  return JSON.parse((await page.locator('#claims').textContent()) ?? '{}') as Record<string, unknown>;
}

/** The access token the page's client holds (localStorage: the demo's storage outside cookie mode). */
async function accessTokenOf(page: Page): Promise<string> {
  const raw = String(await page.evaluate("localStorage.getItem('restjwt.demo')"));
  return (JSON.parse(raw) as { access: string }).access;
}

/** Clicks one of the protected-call buttons; the "Last call" text. */
async function callProtected(page: Page, path: '/api/protected/' | '/api/protected/mfa/'): Promise<string> {
  await page.getByRole('button', { name: `Call ${path}`, exact: true }).click();
  await expect.poll(() => page.locator('#result').getAttribute('data-status')).not.toBeNull();
  const text = (await page.locator('#result').textContent()) ?? '';
  await page.locator('#result').evaluate((el) => el.removeAttribute('data-status'));
  return text;
}

async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await expect.poll(() => page.locator('#signin-form').isVisible()).toBe(true);
}

const status = (page: Page) => page.getByRole('status').textContent();

/** Starts adding an authenticator app from the page; the secret it shows (without the spaces that group it). */
async function startTotp(page: Page): Promise<string> {
  await page.getByRole('button', { name: 'Add an authenticator app' }).click();
  const form = page.getByRole('form', { name: 'Add an authenticator app' });
  await form.waitFor();
  await expect.poll(() => page.locator('#totp-secret').textContent()).toMatch(/\S/);
  return ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s+/g, '');
}

async function confirmTotp(e: BrowserEnv<MfaServer>, page: Page, secret: string): Promise<void> {
  const form = page.getByRole('form', { name: 'Add an authenticator app' });
  await form.getByLabel('Code from the app').fill(await nextCode(e, secret));
  await form.getByRole('button', { name: 'Confirm' }).click();
  await expect.poll(() => status(page)).toContain('Authenticator app added');
  expect(await form.isVisible()).toBe(false);
}

/** Chromium's virtual authenticator (a platform passkey with user verification), for the pages of `context`. */
async function addVirtualAuthenticator(context: BrowserContext, page: Page): Promise<void> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
}

/** Chromium logs every 4xx answer to fetch as a console error: those a test expects are taken out of `errors`. */
function expectOnly401s(errors: string[], count: number): void {
  const expected = 'console: Failed to load resource: the server responded with a status of 401 (Unauthorized)';
  expect(errors, errors.join('\n')).toEqual(Array.from({ length: count }, () => expected));
  errors.length = 0;
}

describeBrowser('second factors in the demo and admin pages (Chromium)', () => {
  let e: BrowserEnv<MfaServer>;

  beforeAll(async () => {
    e = await browserEnvFor(await startMfaServer());
    for (const u of ['tina', 'paula', 'rita', 'adam']) await e.app.user(u);
    await e.app.user('admin', { isStaff: true });
  });
  afterAll(() => e?.close());

  it('enrols an authenticator app from its QR code, then signs in with password and code (amr otp mfa)', async () => {
    const { page, errors } = await e.newPage(await e.newContext('totp'));
    await open(page, e.url);
    // Without a second factor the password alone signs in.
    await submitPassword(page, 'tina');
    await expectSignedIn(page, 'tina');
    const factors = page.getByRole('region', { name: 'Second factor' });
    await expect.poll(() => factors.locator('#factors-summary').textContent()).toContain('None yet');
    // A password-only token: the second-factor endpoint refuses it.
    expect(await callProtected(page, '/api/protected/mfa/')).toMatch(/^HTTP 403[\s\S]*mfa_required/);
    expect(errors).toEqual(['console: Failed to load resource: the server responded with a status of 403 (Forbidden)']);
    errors.length = 0;

    const secret = await startTotp(page);
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    // The QR code: an <svg> drawn in the page, one square per dark module, with a 4-module margin.
    const qr = page.locator('#totp-qr');
    const drawn = await qr.evaluate((svg) => ({ viewBox: svg.getAttribute('viewBox'), d: svg.querySelector('path')?.getAttribute('d') ?? '' }));
    const side = Number(drawn.viewBox?.split(' ')[2]);
    expect(side).toBeGreaterThanOrEqual(21 + 8);
    const dark = [...drawn.d.matchAll(/M(\d+) (\d+)/g)].map((m) => `${m[1]},${m[2]}`);
    expect(dark.length).toBeGreaterThan(200);
    // Exactly the modules of the server's otpauth:// URI for this secret (issuer: the RP name; account: the username).
    const expected = encode(otpauthUri(secret, 'restjwt demo', 'tina'), { ecc: 'M', border: 4 });
    expect(side).toBe(expected.size);
    expect(new Set(dark)).toEqual(new Set(expected.data.flatMap((line, y) => line.flatMap((on, x) => (on ? [`${x},${y}`] : [])))));
    const box = await qr.boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(100);
    // A pending (not confirmed) app is listed, and not asked for yet.
    await expect.poll(() => factors.getByText('not confirmed').count()).toBe(1);
    if (takeScreenshots) {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.getByLabel('Code from the app').fill('');
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }
    await confirmTotp(e, page, secret);
    // The page continues with the pair the enrolment answered (the old one was revoked: checkRevokeToken is on).
    expect((await claimsOn(page)).amr).toEqual(expect.arrayContaining(['otp', 'mfa']));
    expect(await callProtected(page, '/api/protected/')).toMatch(/^HTTP 200/);
    await expect.poll(() => factors.locator('li[data-kind="totp"]').count()).toBe(1);
    expect(await factors.getByText('not confirmed').count()).toBe(0);
    await expect.poll(() => factors.locator('#factors-summary').textContent()).toContain('a code from your authenticator app');

    await logOut(page);
    await submitPassword(page, 'tina');
    await secondStep(page).waitFor();
    expect(await page.locator('#signin-form').isVisible()).toBe(false);
    // TOTP only: no passkey button.
    expect(await secondStep(page).getByRole('button', { name: 'Use a passkey' }).isVisible()).toBe(false);
    await secondStep(page).getByLabel('Code', { exact: true }).fill(await nextCode(e, secret));
    await secondStep(page).getByRole('button', { name: 'Verify' }).click();
    await expectSignedIn(page, 'tina');
    expect(await status(page)).toContain('authenticator app');
    const claims = await claimsOn(page);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    expect(await callProtected(page, '/api/protected/mfa/')).toMatch(/^HTTP 200[\s\S]*second factor/);
    // The client's own token, checked from outside: it is the one the claims show.
    const access = await accessTokenOf(page);
    expect(claimsOf(access).amr).toEqual(expect.arrayContaining(['otp', 'mfa']));
    const me = await fetch(`${e.app.url.replace('localhost', '127.0.0.1')}/api/protected/mfa/`, { headers: { authorization: `Bearer ${access}` } });
    expect(me.status).toBe(200);
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('enrols a passkey; signs in with password + passkey, then with the passkey alone (amr hwk|swk mfa)', async () => {
    const context = await e.newContext('passkey');
    const { page, errors } = await e.newPage(context);
    await addVirtualAuthenticator(context, page);
    await open(page, e.url);
    // Secure context (http://localhost) with WebAuthn: passkey sign-in is offered before any sign-in.
    expect(await page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).toBe(true);
    await submitPassword(page, 'paula');
    await expectSignedIn(page, 'paula');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect.poll(() => status(page)).toContain('Passkey added');
    const factors = page.getByRole('region', { name: 'Second factor' });
    await expect.poll(() => factors.locator('li[data-kind="webauthn"]').count()).toBe(1);
    const afterEnrol = await claimsOn(page);
    expect(afterEnrol.amr).toEqual(expect.arrayContaining(['mfa']));
    expect(await callProtected(page, '/api/protected/')).toMatch(/^HTTP 200/);

    await logOut(page);
    await submitPassword(page, 'paula');
    await secondStep(page).waitFor();
    // A passkey and no recovery codes: nothing to type.
    expect(await secondStep(page).getByLabel('Code', { exact: true }).isVisible()).toBe(false);
    await secondStep(page).getByRole('button', { name: 'Use a passkey' }).click();
    await expectSignedIn(page, 'paula');
    const second = await claimsOn(page);
    expect(second.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
    expect((second.amr as string[]).some((m) => m === 'hwk' || m === 'swk')).toBe(true);

    await logOut(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expectSignedIn(page, 'paula');
    expect(await status(page)).toContain('Signed in with a passkey');
    const alone = await claimsOn(page);
    expect(alone.amr).toEqual(expect.arrayContaining(['user', 'mfa']));
    expect(alone.amr).not.toContain('pwd');
    expect((alone.amr as string[]).some((m) => m === 'hwk' || m === 'swk')).toBe(true);
    expect(await callProtected(page, '/api/protected/mfa/')).toMatch(/^HTTP 200/);
    // The pair it was handed refreshes like any other.
    await page.getByRole('button', { name: 'Refresh now' }).click();
    await expect.poll(() => page.locator('#log li[data-kind="refresh"]').count()).toBeGreaterThan(0);
    expect(await callProtected(page, '/api/protected/')).toMatch(/^HTTP 200/);
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('signs in with a recovery code once; the same code again is refused; the last factor is removed with a code', async () => {
    const { page, errors } = await e.newPage(await e.newContext('recovery'));
    await open(page, e.url);
    await submitPassword(page, 'rita');
    await expectSignedIn(page, 'rita');
    const secret = await startTotp(page);
    await confirmTotp(e, page, secret);
    await page.getByRole('button', { name: 'Generate recovery codes' }).click();
    const list = page.getByRole('list', { name: 'Your recovery codes' });
    await expect.poll(() => list.getByRole('listitem').count()).toBe(10);
    const codes = await list.getByRole('listitem').allTextContents();
    expect(codes.every((c) => /^[0-9a-z]{5}-[0-9a-z]{5}$/.test(c))).toBe(true);
    await expect.poll(() => page.locator('#factors-summary').textContent()).toContain('10 unused recovery codes left');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    expect(await list.isVisible()).toBe(false);

    await logOut(page);
    // Recovery codes are never left on the page.
    expect(await page.locator('#recovery-codes li').count()).toBe(0);
    await submitPassword(page, 'rita');
    await secondStep(page).getByLabel('Code', { exact: true }).fill(codes[0]!.toUpperCase());
    await secondStep(page).getByRole('button', { name: 'Verify' }).click();
    await expectSignedIn(page, 'rita');
    expect(await status(page)).toContain('recovery code');
    expect((await claimsOn(page)).amr).toEqual(expect.arrayContaining(['mfa']));
    await expect.poll(() => page.locator('#factors-summary').textContent()).toContain('9 unused recovery codes left');

    await logOut(page);
    await submitPassword(page, 'rita');
    await secondStep(page).getByLabel('Code', { exact: true }).fill(codes[0]!);
    await secondStep(page).getByRole('button', { name: 'Verify' }).click();
    const refusal = secondStep(page).getByRole('alert');
    await expect.poll(() => refusal.textContent()).toBe('mfa_code_invalid: The code is wrong, expired or already used.');
    expect(await page.locator('#session').isVisible()).toBe(false);
    expectOnly401s(errors, 1);
    // The step stays open: another code finishes it.
    await secondStep(page).getByLabel('Code', { exact: true }).fill(codes[1]!);
    await secondStep(page).getByRole('button', { name: 'Verify' }).click();
    await expectSignedIn(page, 'rita');

    // The authenticator app is the last factor: removing it asks for a code (here a recovery code).
    const factors = page.getByRole('region', { name: 'Second factor' });
    await factors.locator('li[data-kind="totp"]').getByRole('button', { name: /^Remove/ }).click();
    const removal = page.getByRole('form', { name: /last second factor/ });
    await removal.waitFor();
    await removal.getByLabel('Code to confirm the removal').fill(codes[2]!);
    await removal.getByRole('button', { name: 'Remove' }).click();
    await expect.poll(() => status(page)).toContain('removed');
    await expect.poll(() => factors.locator('#factors-summary').textContent()).toContain('None yet');
    expect((await claimsOn(page)).amr).not.toContain('mfa');
    expect(await callProtected(page, '/api/protected/')).toMatch(/^HTTP 200/);
    await logOut(page);
    await submitPassword(page, 'rita');
    await expectSignedIn(page, 'rita');
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });

  it("a staff user sees a user's second factors in the admin and resets them; the user then signs in with the password alone", async () => {
    // Adam enrols an authenticator app and recovery codes through the API.
    const login = await e.app.post('/api/token/', { username: 'adam', password: PASSWORD });
    const started = await e.app.post('/api/mfa/totp/', { label: 'Work phone' }, login.json.access as string);
    expect(started.status).toBe(201);
    const confirmed = await e.app.post(`/api/mfa/totp/${String(started.json.id)}/confirm/`, { code: await nextCode(e, String(started.json.secret)) }, login.json.access as string);
    expect(confirmed.status).toBe(200);
    expect((await e.app.post('/api/mfa/recovery-codes/', {}, confirmed.json.access as string)).status).toBe(200);
    expect((await e.app.post('/api/token/', { username: 'adam', password: PASSWORD })).json.mfa_required).toBe(true);

    const { page, errors } = await e.newPage(await e.newContext('admin'));
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${e.url}/admin/`);
    const signIn = page.getByRole('region', { name: 'Sign in' });
    await signIn.getByLabel('Username').fill('admin');
    await signIn.getByLabel('Password').fill(PASSWORD);
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Manage adam' }).click();
    const group = page.getByRole('group', { name: 'Second factors' });
    const row = group.getByRole('row').filter({ hasText: 'Work phone' });
    await row.waitFor();
    expect(await row.locator('td').first().textContent()).toBe('Authenticator app');
    expect(await row.getByText('Confirmed', { exact: true }).count()).toBe(1);
    await expect.poll(() => group.getByRole('note').textContent()).toContain('10 unused recovery codes left');

    await group.getByRole('button', { name: 'Reset second factors' }).click();
    await expect.poll(() => status(page)).toMatch(/^Second factors of adam reset: 1 factor removed, \d+ tokens? revoked\.$/);
    await expect.poll(() => group.getByText('No second factors.').count()).toBe(1);
    await expect.poll(() => group.getByRole('note').textContent()).toContain('signs in with the password alone');
    expect(await group.getByRole('button', { name: 'Reset second factors' }).isDisabled()).toBe(true);
    expect(errors).toEqual([]);

    // Adam on the demo page: the password alone signs in again.
    const demo = await e.newPage(await e.newContext('adam'));
    await open(demo.page, e.url);
    await submitPassword(demo.page, 'adam');
    await expectSignedIn(demo.page, 'adam');
    expect(await secondStep(demo.page).isVisible()).toBe(false);
    expect(demo.errors).toEqual([]);
    e.assertNoExternalRequests();
  });
});

describeBrowser('second factors in the demo page, cookie mode (Chromium)', () => {
  let e: BrowserEnv<MfaServer>;

  beforeAll(async () => {
    e = await browserEnvFor(await startMfaServer({ cookieMode: 'refresh' }));
    await e.app.user('cora');
  });
  afterAll(() => e?.close());

  it('keeps the session on the refresh cookie the enrolment set, and signs in with the second step', async () => {
    const { page, errors } = await e.newPage(await e.newContext('cookie'));
    await open(page, e.url);
    await submitPassword(page, 'cora');
    await expectSignedIn(page, 'cora');
    const before = (await page.context().cookies()).find((c) => c.name === '__Secure-restjwt-refresh')?.value;
    const secret = await startTotp(page);
    await confirmTotp(e, page, secret);
    // The enrolment answered a new refresh cookie (the old one is blacklisted): a refresh with it works.
    const after = (await page.context().cookies()).find((c) => c.name === '__Secure-restjwt-refresh')?.value;
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    await page.getByRole('button', { name: 'Refresh now' }).click();
    await expect.poll(() => page.locator('#log li[data-kind="refresh"]').count()).toBe(1);
    expect((await claimsOn(page)).amr).toEqual(expect.arrayContaining(['otp', 'mfa']));
    expect(String(await page.evaluate('JSON.stringify(localStorage)'))).toBe('{}');

    await logOut(page);
    await submitPassword(page, 'cora');
    await secondStep(page).getByLabel('Code', { exact: true }).fill(await nextCode(e, secret));
    await secondStep(page).getByRole('button', { name: 'Verify' }).click();
    await expectSignedIn(page, 'cora');
    expect(await callProtected(page, '/api/protected/mfa/')).toMatch(/^HTTP 200/);
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });
});
