/**
 * Shared helper for the Chromium end-to-end tests: launches Debian's Chromium through playwright-core, starts the
 * reference server, and records every request a page makes so that a test can prove nothing left the test server
 * (no fonts, CDNs, telemetry).
 *
 * Usage:
 * ```ts
 * describeBrowser('demo page', () => {
 *   let e: BrowserEnv;
 *   beforeAll(async () => { e = await startBrowserEnv({ accessTokenLifetime: 3 }); });
 *   afterAll(() => e?.close());
 *   it('…', async () => {
 *     const { page } = await e.newPage();
 *     await page.goto(e.url + '/');
 *     …
 *     e.assertNoExternalRequests();
 *   });
 * });
 * ```
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { describe } from 'vitest';
import type { RestJwtOptions } from '@restjwt/core';
import { startApp, type TestApp } from '../helpers/server.js';

/** Where Debian installs Chromium; `RESTJWT_CHROMIUM` overrides it. */
export const CHROMIUM_PATH = process.env.RESTJWT_CHROMIUM ?? '/usr/bin/chromium';

/** Whether the browser tests can run here. */
export const hasChromium = existsSync(CHROMIUM_PATH);

/** Flags that keep Chromium quiet: no GPU, no sandbox (containers), and no background traffic of its own. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let warned = false;

/** Per-test timeout inside {@link describeBrowser}: a browser, real timers and two shared CPU cores are slow. */
export const BROWSER_TEST_TIMEOUT = 60_000;

/**
 * `describe` when Chromium is installed (with {@link BROWSER_TEST_TIMEOUT} per test), otherwise a skipped
 * `describe` whose name says why (and one warning on stderr), so that a missing browser never looks like a pass.
 */
export const describeBrowser = (name: string, fn: () => void): void => {
  if (hasChromium) {
    describe(name, { timeout: BROWSER_TEST_TIMEOUT }, fn);
    return;
  }
  if (!warned) {
    warned = true;
    process.stderr.write(`[e2e] skipping browser tests: no Chromium at ${CHROMIUM_PATH} (install chromium or set RESTJWT_CHROMIUM)\n`);
  }
  describe.skip(`${name} (skipped: no Chromium at ${CHROMIUM_PATH})`, fn);
};

/** Launches headless Chromium with {@link CHROMIUM_ARGS}. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** One request a page made, as recorded by {@link BrowserEnv}. */
export interface RecordedRequest {
  method: string;
  url: string;
  /** The context's label given to {@link BrowserEnv.newContext}. */
  context: string;
}

export interface BrowserEnv<A extends ServerUnderTest = TestApp> {
  /** The test server's origin, e.g. `http://127.0.0.1:41234`. */
  url: string;
  app: A;
  browser: Browser;
  /** Every request any page of any context made, in order. */
  requests: RecordedRequest[];
  /** Requests to anything other than the test server (data:, blob: and about: URLs do not count). */
  externalRequests(): RecordedRequest[];
  /** Throws, listing them, if any page made a request outside the test server. */
  assertNoExternalRequests(): void;
  /** A fresh browser context (its own cookies and storage), recorded. Closed by {@link close}. */
  newContext(label?: string, options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A page in a fresh context (or in `context`). Console errors and page errors are kept in `errors`. */
  newPage(context?: BrowserContext): Promise<{ page: Page; context: BrowserContext; errors: string[] }>;
  close(): Promise<void>;
}

/** What {@link browserEnvFor} needs of a server: where pages open it (its origin), and how to stop it. */
export interface ServerUnderTest {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the reference server (see `startApp`; `settings` such as `{ accessTokenLifetime: 3, rotateRefreshTokens:
 * true, blacklistAfterRotation: true }`) and Chromium, and records requests from every context made through it.
 */
export async function startBrowserEnv(
  settings: RestJwtOptions['settings'] = {},
  options: Parameters<typeof startApp>[1] = {},
): Promise<BrowserEnv> {
  return browserEnvFor(await startApp(settings, options));
}

/**
 * Chromium for a server started some other way (e.g. with second factors, on http://localhost:PORT for WebAuthn):
 * requests anywhere but `app.url`'s origin count as external. Closing the env closes the server.
 */
export async function browserEnvFor<A extends ServerUnderTest>(app: A): Promise<BrowserEnv<A>> {
  let browser: Browser;
  try {
    browser = await launchChromium();
  } catch (e) {
    await app.close();
    throw e;
  }
  const origin = new URL(app.url).origin;
  const requests: RecordedRequest[] = [];
  const contexts: BrowserContext[] = [];
  let contextNo = 0;

  const isExternal = (raw: string): boolean => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return true;
    }
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return false;
    return u.origin !== origin;
  };

  const env: BrowserEnv<A> = {
    url: app.url,
    app,
    browser,
    requests,
    externalRequests: () => requests.filter((r) => isExternal(r.url)),
    assertNoExternalRequests() {
      const ext = env.externalRequests();
      if (ext.length > 0) {
        throw new Error(`pages made requests outside ${origin}:\n${ext.map((r) => `  [${r.context}] ${r.method} ${r.url}`).join('\n')}`);
      }
    },
    async newContext(label = `context-${++contextNo}`, contextOptions = {}) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
      contexts.push(context);
      // Context-level: covers every page, popup and worker of the context, including requests that fail.
      context.on('request', (r) => requests.push({ method: r.method(), url: r.url(), context: label }));
      return context;
    },
    async newPage(context) {
      const ctx = context ?? (await env.newContext());
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      return { page, context: ctx, errors };
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await app.close();
    },
  };
  return env;
}

/** Whether screenshots for `docs/` should be (re)written: `RESTJWT_SCREENSHOTS=1`. */
export const takeScreenshots = process.env.RESTJWT_SCREENSHOTS === '1';
