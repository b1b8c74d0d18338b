import { randomBytes, timingSafeEqualStrings } from '../bytes.js';
import { CsrfFailed } from '../errors.js';
import { encodeBase64url } from '../jws/base64url.js';
import type { Settings } from '../settings/types.js';
import { parseCookies, serializeCookie } from './cookies.js';
import type { HeaderMap } from './types.js';

/** Cookie names: `__Host-` (Path=/, no Domain) and `__Secure-` prefixes when Secure, plain names otherwise. */
export function cookieNames(settings: Settings): { refresh: string; access: string; csrf: string } {
  return settings.cookieSecure
    ? { refresh: '__Secure-restjwt-refresh', access: '__Host-restjwt-access', csrf: '__Host-restjwt-csrf' }
    : { refresh: 'restjwt-refresh', access: 'restjwt-access', csrf: 'restjwt-csrf' };
}

/** The CSRF header a cookie-mode client echoes the CSRF cookie in (double submit). */
export const CSRF_HEADER = 'x-csrf-token';

/**
 * Moves tokens from a success body into cookies: the refresh token always (HttpOnly, on the narrowest path that
 * reaches the refresh and logout endpoints), the access token with `both`, plus a readable CSRF cookie. What goes
 * into a cookie is removed from the body, so it is never in both.
 */
export function tokensToCookies(
  settings: Settings,
  prefix: string,
  body: Readonly<Record<string, unknown>>,
): { body: Record<string, unknown>; cookies: string[] } {
  const names = cookieNames(settings);
  const base = { secure: settings.cookieSecure, sameSite: settings.cookieSameSite };
  const out = { ...body };
  const cookies: string[] = [];
  if (typeof out.refresh === 'string') {
    cookies.push(serializeCookie(names.refresh, out.refresh, { ...base, path: `${prefix}token/`, httpOnly: true, maxAgeSeconds: settings.refreshTokenLifetime }));
    delete out.refresh;
    // A new CSRF secret with every new session or rotation, readable by the page (not HttpOnly) by design.
    cookies.push(serializeCookie(names.csrf, encodeBase64url(randomBytes(24)), { ...base, path: '/', httpOnly: false, maxAgeSeconds: settings.refreshTokenLifetime }));
  }
  if (settings.cookieMode === 'both' && typeof out.access === 'string') {
    cookies.push(serializeCookie(names.access, out.access, { ...base, path: '/', httpOnly: true, maxAgeSeconds: settings.accessTokenLifetime }));
    delete out.access;
  }
  return { body: out, cookies };
}

/** Set-Cookie values that delete every auth cookie (logout). */
export function clearingCookies(settings: Settings, prefix: string): string[] {
  const names = cookieNames(settings);
  const base = { secure: settings.cookieSecure, sameSite: settings.cookieSameSite, httpOnly: true, maxAgeSeconds: 0 };
  return [
    serializeCookie(names.refresh, '', { ...base, path: `${prefix}token/` }),
    serializeCookie(names.access, '', { ...base, path: '/' }),
    serializeCookie(names.csrf, '', { ...base, httpOnly: false, path: '/' }),
  ];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Whether a method changes state and so needs CSRF protection when authenticated by cookie. */
export const isUnsafeMethod = (method: string): boolean => !SAFE_METHODS.has(method.toUpperCase());

/**
 * CSRF defence for cookie-authenticated unsafe requests (OWASP): the Origin (or Referer) must be the API's own
 * host or a trusted origin, and the `X-CSRF-Token` header must equal the CSRF cookie (double submit).
 */
export function checkCsrf(headers: HeaderMap, settings: Settings): void {
  const source = headers.origin ?? (headers.referer !== undefined ? safeOrigin(headers.referer) : undefined);
  if (source !== undefined && source !== 'null') {
    const own = headers.host !== undefined && safeHost(source) === headers.host.toLowerCase();
    if (!own && !settings.csrfTrustedOrigins.includes(source)) throw new CsrfFailed({ key: 'csrf_origin', params: { origin: source.slice(0, 200) } });
  } else if (source === 'null') {
    throw new CsrfFailed({ key: 'csrf_origin', params: { origin: 'null' } });
  }
  const cookie = parseCookies(headers.cookie)[cookieNames(settings).csrf];
  const header = headers[CSRF_HEADER];
  if (cookie === undefined || header === undefined || cookie.length === 0) throw new CsrfFailed({ key: 'csrf_token_missing' });
  if (!timingSafeEqualStrings(cookie, header)) throw new CsrfFailed({ key: 'csrf_token_missing' });
}

function safeOrigin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return 'null';
  }
}

function safeHost(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The auth cookie values of a request. */
export function authCookies(headers: HeaderMap, settings: Settings): { refresh?: string; access?: string } {
  const names = cookieNames(settings);
  const jar = parseCookies(headers.cookie);
  return { refresh: jar[names.refresh], access: jar[names.access] };
}
