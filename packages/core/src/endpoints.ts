import { blacklistToken } from './handlers/blacklist.js';
import type { HandlerContext, RequestMeta } from './handlers/context.js';

export type { RequestMeta };
import { obtainPair, obtainSliding } from './handlers/obtain.js';
import { refreshPair } from './handlers/refresh.js';
import { refreshSliding } from './handlers/sliding-refresh.js';
import { logoutAll } from './handlers/logout-all.js';
import { completeMfa } from './handlers/mfa.js';
import { verifyToken } from './handlers/verify.js';

export type EndpointName = 'obtainPair' | 'refresh' | 'verify' | 'blacklist' | 'obtainSliding' | 'refreshSliding' | 'logoutAll' | 'mfa';

/** A token endpoint: where it is mounted (relative to the adapter's prefix) and what answers it. */
export interface EndpointSpec {
  readonly name: EndpointName;
  /** Path below the prefix, with simplejwt's trailing slash. */
  readonly path: string;
  /** DRF view name, for OPTIONS metadata. */
  readonly title: string;
  /** Request fields (all strings), for schemas and OpenAPI. */
  readonly fields: readonly string[];
  /** Fields that may be sent but are not required (blacklist's `access`, with revokeAccessTokens). */
  readonly optionalFields?: readonly string[];
  /** Response fields on success. */
  readonly returns: readonly string[];
  /** Cookie mode: a request without a `refresh` field takes the refresh cookie instead (after the CSRF check). */
  readonly readsRefreshCookie?: boolean;
  /**
   * Cookie mode, on success: `set` moves the tokens of the answer into cookies, `clear` expires the cookies. Absent:
   * the answer is left as it is.
   */
  readonly cookies?: 'set' | 'clear';
  /** Cookie mode: a 401 clears the cookies too (a logout whose token is already gone still logs the browser out). */
  readonly clearsCookiesOn401?: boolean;
  readonly run: (ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta) => Promise<Record<string, unknown>>;
  /** Served only when second factors are on (`RestJwtOptions.secondFactor`). */
  readonly needsSecondFactor?: boolean;
}

/** Every token endpoint, in simplejwt's URL names. Adapters mount them all from this table. */
export const ENDPOINTS: readonly EndpointSpec[] = Object.freeze([
  { name: 'obtainPair', path: 'token/', title: 'Token Obtain Pair', fields: ['username', 'password'], returns: ['refresh', 'access'], cookies: 'set', run: obtainPair },
  {
    name: 'refresh',
    path: 'token/refresh/',
    title: 'Token Refresh',
    fields: ['refresh'],
    returns: ['access', 'refresh'],
    readsRefreshCookie: true,
    cookies: 'set',
    run: refreshPair,
  },
  { name: 'verify', path: 'token/verify/', title: 'Token Verify', fields: ['token'], returns: [], run: verifyToken },
  {
    name: 'blacklist',
    path: 'token/blacklist/',
    title: 'Token Blacklist',
    fields: ['refresh'],
    optionalFields: ['access'],
    returns: [],
    readsRefreshCookie: true,
    cookies: 'clear',
    clearsCookiesOn401: true,
    run: blacklistToken,
  },
  { name: 'obtainSliding', path: 'token/sliding/', title: 'Token Obtain Sliding', fields: ['username', 'password'], returns: ['token'], run: obtainSliding },
  { name: 'refreshSliding', path: 'token/sliding/refresh/', title: 'Token Refresh Sliding', fields: ['token'], returns: ['token'], run: refreshSliding },
  // Authenticated by the access token (Authorization header or access cookie), not by a body field.
  { name: 'logoutAll', path: 'token/logout-all/', title: 'Token Logout All', fields: [], returns: [], cookies: 'clear', run: logoutAll },
  // The second step of a login answered `mfa_required`; its proof is one of the optional fields.
  {
    name: 'mfa',
    path: 'token/mfa/',
    title: 'Token MFA',
    fields: ['mfa_token'],
    optionalFields: ['code', 'recovery_code', 'webauthn', 'method'],
    returns: ['refresh', 'access'],
    cookies: 'set',
    needsSecondFactor: true,
    run: completeMfa,
  },
]);
