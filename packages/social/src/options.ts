import { ConfigurationError, type Duration } from '@restjwt/core';
import { parseDuration } from '@restjwt/core/adapter-kit';
import { buildProvider } from './providers/index.js';
import type { ProviderConfig, SocialProvider } from './providers/types.js';

/** Social login's settings (the `social` option). */
export interface SocialOptions {
  /** Providers by name (the name appears in URLs: `/api/auth/{name}/login`): settings of a built-in one, or your own. */
  providers: Readonly<Record<string, ProviderConfig | SocialProvider>>;
  /**
   * The public origin of this API as browsers and providers reach it, e.g. `https://api.example.com`. Callback URLs
   * are built from it (`{publicUrl}{prefix}auth/{provider}/callback`), never from the request's Host header.
   */
  publicUrl: string;
  /**
   * Where the browser may land after signing in: exact absolute URLs (origin and path; no query or fragment). The
   * first is the default. A `next` that is not exactly one of them is refused with 400, never followed.
   */
  allowedRedirects: readonly string[];
  /** Link a first sign-in to the user with the same email when the provider asserts it verified it. Default false. */
  linkByVerifiedEmail?: boolean;
  /** Create a user (with no password) on a first sign-in nobody is linked to. Default true. */
  createUsers?: boolean;
  /** How long a started login (state, nonce, PKCE verifier) stays usable. Default 10 minutes. */
  stateTtl?: Duration;
  /** How long the one-time code of the Bearer delivery stays exchangeable. Default 60 seconds. */
  codeTtl?: Duration;
  /**
   * How the browser flow hands over the pair: `cookie` (HttpOnly cookies, as the core's cookie mode) or `code` (a
   * one-time code in the redirect's fragment, exchanged at `POST {prefix}auth/exchange/`). Default: `cookie` when
   * the core's `cookieMode` is on, else `code`.
   */
  delivery?: 'cookie' | 'code';
  /** Where the routes are mounted. Default `/api/`. (The token cookies' path follows the service's `prefix`.) */
  prefix?: string;
}

/** The settings, checked and with their defaults. */
export interface ResolvedSocialOptions {
  providers: ReadonlyMap<string, SocialProvider>;
  publicUrl: string;
  allowedRedirects: readonly string[];
  linkByVerifiedEmail: boolean;
  createUsers: boolean;
  stateTtl: number;
  codeTtl: number;
  delivery: 'cookie' | 'code' | undefined;
  prefix: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An http(s) URL; plain http only for loopback hosts (local development). */
function webUrl(value: unknown, what: string): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new ConfigurationError(`${what} must be an absolute URL (got ${JSON.stringify(value)}).`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new ConfigurationError(`${what} must be an https URL (plain http only on localhost): ${url.href}`);
  }
  if (url.username !== '' || url.password !== '') throw new ConfigurationError(`${what} must not contain credentials.`);
  return url;
}

/** The normal form an allowed redirect is compared in: origin plus path. */
export function redirectKey(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function seconds(value: Duration | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const parsed = parseDuration(value);
  if (typeof parsed === 'string' || parsed <= 0) {
    throw new ConfigurationError(`social.${name} must be a positive duration${typeof parsed === 'string' ? `: ${parsed}` : ''}.`);
  }
  return parsed;
}

/**
 * Checks the settings and builds the providers.
 *
 * @throws ConfigurationError naming the bad setting.
 */
export function resolveSocialOptions(options: SocialOptions): ResolvedSocialOptions {
  if (options === null || typeof options !== 'object') throw new ConfigurationError('social must be an object with providers, publicUrl and allowedRedirects.');
  const publicUrl = webUrl(options.publicUrl, 'social.publicUrl');
  if (publicUrl.pathname !== '/' || publicUrl.search !== '' || publicUrl.hash !== '') {
    throw new ConfigurationError('social.publicUrl must be an origin only, e.g. https://api.example.com.');
  }
  if (!Array.isArray(options.allowedRedirects) || options.allowedRedirects.length === 0) {
    throw new ConfigurationError('social.allowedRedirects must list at least one URL to land on after signing in.');
  }
  const allowedRedirects = options.allowedRedirects.map((entry, i) => {
    const url = webUrl(entry, `social.allowedRedirects[${i}]`);
    if (url.search !== '' || url.hash !== '') throw new ConfigurationError(`social.allowedRedirects[${i}] must have no query or fragment: ${url.href}`);
    return redirectKey(url);
  });
  const entries = Object.entries(options.providers ?? {});
  if (entries.length === 0) throw new ConfigurationError('social.providers must configure at least one provider.');
  const prefix = options.prefix ?? '/api/';
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new ConfigurationError('social.prefix must start and end with "/".');
  if (options.delivery !== undefined && options.delivery !== 'cookie' && options.delivery !== 'code') {
    throw new ConfigurationError('social.delivery must be "cookie" or "code".');
  }
  return {
    providers: new Map(entries.map(([name, config]) => [name, buildProvider(name, config)])),
    publicUrl: publicUrl.origin,
    allowedRedirects,
    linkByVerifiedEmail: options.linkByVerifiedEmail === true,
    createUsers: options.createUsers !== false,
    stateTtl: seconds(options.stateTtl, 600, 'stateTtl'),
    codeTtl: seconds(options.codeTtl, 60, 'codeTtl'),
    delivery: options.delivery,
    prefix,
  };
}
