/**
 * The pages before and without their script, in Chromium: `/` and `/admin/` render their sign-in form in the HTML
 * (JavaScript off, the script held back, at DOMContentLoaded), the script takes that form over without hiding or
 * replacing it, "Signed in as" is said once, and the admin's "Last login" says what a missing value means.
 * The first-paint screenshots are written to the system's temp directory (restjwt-e2e/), for looking at.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMemoryStore } from '@restjwt/core/memory';
import { PASSWORD } from '../helpers/server.js';
import { describeBrowser, startBrowserEnv, type BrowserEnv } from './browser.js';

const SHOTS = join(tmpdir(), 'restjwt-e2e');

const PAGES = [
  { name: 'demo', path: '/', script: '/assets/demo/demo.js' },
  { name: 'admin', path: '/admin/', script: '/admin/admin.js' },
] as const;

/** The sign-in form is there and usable: both inputs and the button visible, nothing says "Loading". */
async function expectSignInForm(page: Page): Promise<void> {
  const form = page.locator('#signin-form');
  expect(await form.count()).toBe(1);
  expect(await form.getByLabel('Username').isVisible()).toBe(true);
  expect(await form.getByLabel('Password').isVisible()).toBe(true);
  expect(await form.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true);
  expect(await page.getByText('Loading').count()).toBe(0);
}

/**
 * Records, from before the page's own scripts run, every change that would hide, restyle or remove the sign-in form
 * (an init script: it runs outside the page's CSP).
 */
const WATCH_SIGNIN = `
  globalThis.__signinChanges = [];
  new MutationObserver((records) => {
    for (const r of records) {
      // The section and the form only: Chromium's autofill sets styles on the inputs themselves.
      if (r.type === 'attributes' && (r.target.id === 'signin' || r.target.id === 'signin-form')) globalThis.__signinChanges.push(r.attributeName + ' on #' + r.target.id);
      for (const n of r.removedNodes) if (n.nodeType === 1 && (n.id === 'signin' || n.querySelector('#signin'))) globalThis.__signinChanges.push('removed');
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['hidden', 'class', 'style'] });
`;

/** Occurrences of "Signed in as" in what the page shows (innerText: hidden elements do not count). */
const signedInAsCount = (page: Page): Promise<number> =>
  page.evaluate(() => ((globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText.match(/Signed in as/g) ?? []).length);

/** The text of the admin's "Last login" cell for `username`. */
const lastLoginCell = (page: Page, username: string) => page.locator('#users-body tr', { has: page.getByText(username, { exact: true }) }).locator('td').nth(2);

async function signInAdmin(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/admin/`);
  const form = page.locator('#signin-form');
  await form.getByLabel('Username').fill('admin');
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#status', { hasText: 'Signed in.' }).waitFor();
  await page.locator('#users-body tr[data-user-id]').first().waitFor();
}

describeBrowser('pages before their script runs, and what they say once signed in (Chromium, updateLastLogin on)', () => {
  let e: BrowserEnv;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    e = await startBrowserEnv({ updateLastLogin: true }, { store: createMemoryStore() });
    await e.app.user('admin', { isStaff: true });
    await e.app.user('alice');
    await e.app.user('neverin');
  });
  afterAll(() => e?.close());

  for (const p of PAGES) {
    it(`${p.path} with JavaScript off: the sign-in form and a useful noscript note`, async () => {
      const { page } = await e.newPage(await e.newContext(`${p.name}-nojs`, { javaScriptEnabled: false }));
      await page.goto(`${e.url}${p.path}`);
      await page.screenshot({ path: join(SHOTS, `${p.name}-no-script.png`) });
      await expectSignInForm(page);
      const note = page.locator('.notice');
      expect(await note.getByText('JavaScript is off.').isVisible()).toBe(true);
      expect(await note.getByText(/^curl -d username=/).isVisible()).toBe(true);
      expect(await note.getByRole('link', { name: 'OpenAPI document' }).getAttribute('href')).toBe('/api/schema/');
      e.assertNoExternalRequests();
    });

    it(`${p.path} paints the sign-in form before its script runs, and the script takes it over as it is`, async () => {
      const context = await e.newContext(`${p.name}-held`);
      await context.addInitScript({ content: WATCH_SIGNIN });
      const { page, errors } = await e.newPage(context);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let asked = false;
      await page.route(`${e.url}${p.script}`, async (route) => {
        asked = true;
        await held;
        await route.continue();
      });
      await page.goto(`${e.url}${p.path}`, { waitUntil: 'commit' });
      await page.locator('#signin-form').waitFor();
      await expect.poll(() => asked).toBe(true); // the script is requested, and held: nothing of it has run
      await page.screenshot({ path: join(SHOTS, `${p.name}-before-script.png`) });
      await expectSignInForm(page);
      // Typed before the script arrives: kept when it takes over.
      await page.locator('#signin-form').getByLabel('Username').fill('alice');
      release();
      if (p.name === 'demo') await page.locator('html[data-ready="true"]').waitFor();
      else await page.waitForLoadState('load');
      await expectSignInForm(page);
      expect(await page.locator('#signin-form').getByLabel('Username').inputValue()).toBe('alice');
      expect(await page.evaluate(() => (globalThis as unknown as { __signinChanges: string[] }).__signinChanges)).toEqual([]);
      expect(errors).toEqual([]);
    });

    it(`${p.path} at DOMContentLoaded shows the sign-in form`, async () => {
      const { page, errors } = await e.newPage(await e.newContext(`${p.name}-dcl`));
      await page.goto(`${e.url}${p.path}`, { waitUntil: 'domcontentloaded' });
      await page.screenshot({ path: join(SHOTS, `${p.name}-domcontentloaded.png`) });
      await expectSignInForm(page);
      expect(errors).toEqual([]);
    });
  }

  it('JavaScript off, the demo form still signs in: the browser shows the token pair from /api/token/', async () => {
    const { page } = await e.newPage(await e.newContext('demo-nojs-post', { javaScriptEnabled: false }));
    await page.goto(`${e.url}/`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${e.url}/api/token/`);
    const pair = JSON.parse((await page.locator('body > pre').first().textContent()) ?? '{}') as { access?: string; refresh?: string };
    const me = await e.app.get('/api/me/', { authorization: `Bearer ${pair.access}` });
    expect(me.json).toMatchObject({ username: 'alice' });
    expect(pair.refresh).toEqual(expect.any(String));
  });

  it('the demo says "Signed in as" once after sign-in', async () => {
    const { page, errors } = await e.newPage();
    await page.goto(`${e.url}/`);
    await page.locator('html[data-ready="true"]').waitFor();
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await expect.poll(() => page.locator('#who').textContent()).toBe('alice');
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Signed in.');
    expect(await signedInAsCount(page)).toBe(1);
    expect(await page.getByRole('heading', { name: 'Signed in as alice' }).isVisible()).toBe(true);
    expect(errors).toEqual([]);
  });

  it('the admin says "Signed in as" once, and shows the last login of a user who signed in ("never" for one who did not)', async () => {
    await e.app.login('alice');
    const { page, errors } = await e.newPage();
    await signInAdmin(page, e.url);
    expect(await signedInAsCount(page)).toBe(1);
    expect(await page.locator('#whoami').textContent()).toContain('Signed in as admin');
    for (const username of ['admin', 'alice']) {
      const cell = lastLoginCell(page, username);
      const at = await cell.locator('time').getAttribute('datetime');
      expect(Date.now() - Date.parse(at ?? ''), username).toBeLessThan(120_000);
    }
    expect(await lastLoginCell(page, 'neverin').textContent()).toBe('never');
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });
});

describeBrowser('the admin with updateLastLogin off (Chromium)', () => {
  let e: BrowserEnv;
  beforeAll(async () => {
    e = await startBrowserEnv({ updateLastLogin: false }, { store: createMemoryStore() });
    await e.app.user('admin', { isStaff: true });
    await e.app.user('alice');
  });
  afterAll(() => e?.close());

  it('says a missing last login was "not recorded (updateLastLogin is off)", not "never"', async () => {
    await e.app.login('alice');
    const { page, errors } = await e.newPage();
    await signInAdmin(page, e.url);
    for (const username of ['admin', 'alice']) {
      expect(await lastLoginCell(page, username).textContent(), username).toBe('not recorded (updateLastLogin is off)');
    }
    expect(await page.getByText('never', { exact: true }).count()).toBe(0);
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });
});
