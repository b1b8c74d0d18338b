/**
 * One test world: a real OpenID Provider (oidc-provider on loopback) and the reference server with social login
 * pointed at it, plus the steps of the browser flow.
 */
import type { RestJwtOptions } from '@restjwt/core';
import type { SocialOptions } from '@restjwt/social';
import { reserveOrigin, startSocialApp, type SocialApp } from './app.js';
import { Browser, type Step } from './browser.js';
import { startOp, type TestOp } from './op.js';

export const CLIENT_ID = 'restjwt';
export const CLIENT_SECRET = 'restjwt-client-secret-0123456789-abcdef';
export const OTHER_CLIENT_ID = 'other-app';
export const OTHER_CLIENT_SECRET = 'other-client-secret-0123456789-abcdef';
/** A native app registered at the provider as a public client. */
export const NATIVE_CLIENT_ID = 'native-app';
export const NATIVE_REDIRECT = 'http://127.0.0.1/native-callback';
/** A redirect URI of our own client that a native app may use, redeemed by the server (the backend-exchange pattern). */
export const APP_REDIRECT = 'http://127.0.0.1/app-callback';
export const NEXT = 'http://localhost:3000/done';
export const OTHER_NEXT = 'http://localhost:3000/elsewhere';

export interface World {
  op: TestOp;
  app: SocialApp;
  /** Our callback URL for the `op` provider. */
  callback: string;
  /** Login → provider (signed in as `account`, consent) → the callback URL the provider sends the browser to. */
  toCallback(browser: Browser, account: string, next?: string): Promise<string>;
  /** The whole browser flow; returns our callback's answer (a redirect to `next`). */
  signIn(browser: Browser, account: string, next?: string): Promise<Step>;
  /** The whole flow with the Bearer delivery, then the exchange: the pair. */
  pair(browser: Browser, account: string): Promise<{ refresh: string; access: string }>;
  close(): Promise<void>;
}

export async function startWorld(
  o: { social?: Partial<SocialOptions>; settings?: RestJwtOptions['settings']; options?: Parameters<typeof startSocialApp>[3] } = {},
): Promise<World> {
  const origin = await reserveOrigin();
  const callback = `${origin.url}/api/auth/op/callback`;
  const op = await startOp([
    { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [callback, APP_REDIRECT] },
    { client_id: OTHER_CLIENT_ID, client_secret: OTHER_CLIENT_SECRET, redirect_uris: [NATIVE_REDIRECT] },
    { client_id: NATIVE_CLIENT_ID, redirect_uris: [NATIVE_REDIRECT], token_endpoint_auth_method: 'none', application_type: 'native' },
  ]);
  op.accounts.set('alice-op', { email: 'alice@example.com', email_verified: true, name: 'Alice', preferred_username: 'alice' });
  op.accounts.set('bob-op', { email: 'bob@example.com', email_verified: true, name: 'Bob', preferred_username: 'bob' });
  op.accounts.set('mallory', { email: 'victim@example.com', email_verified: false, preferred_username: 'mallory' });
  op.accounts.set('victim-op', { email: 'victim@example.com', email_verified: true, preferred_username: 'victim' });
  op.accounts.set('nomail', { preferred_username: 'nomail' });

  const app = await startSocialApp(
    origin,
    {
      providers: {
        op: {
          type: 'oidc',
          issuer: op.issuer,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          allowInsecureRequests: true,
          audiences: [NATIVE_CLIENT_ID],
          nativeRedirectUris: [APP_REDIRECT],
        },
      },
      allowedRedirects: [NEXT, OTHER_NEXT],
      ...o.social,
    },
    o.settings,
    o.options,
  );

  const toCallback: World['toCallback'] = async (browser, account, next) => {
    const start = await browser.get(`${app.url}/api/auth/op/login${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`);
    if (start.status !== 302 || start.location === null) throw new Error(`login did not redirect: ${start.status} ${start.text}`);
    return browser.throughProvider(start.location, account, callback);
  };
  const signIn: World['signIn'] = async (browser, account, next) => browser.get(await toCallback(browser, account, next));
  return {
    op,
    app,
    callback,
    toCallback,
    signIn,
    async pair(browser, account) {
      const landed = await signIn(browser, account);
      const code = new URL(landed.location ?? 'x:').hash.replace(/^#code=/, '');
      const res = await browser.post(`${app.url}/api/auth/exchange/`, { code: decodeURIComponent(code) });
      if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${res.text} (callback: ${landed.status} ${landed.text})`);
      return res.json as { refresh: string; access: string };
    },
    async close() {
      await app.close();
      await op.close();
    },
  };
}

/** The exchange code in a landing URL's fragment. */
export function codeIn(location: string | null): string {
  const hash = new URL(location ?? 'x:').hash;
  return decodeURIComponent(hash.replace(/^#code=/, ''));
}
