import type { PasswordHasher } from '../passwords/index.js';
import type { LoginThrottle } from '../throttle/login-throttle.js';
import type { Settings } from '../settings/types.js';
import type { OutstandingToken, RequestUse, Store, UserRecord } from '../store/types.js';
import type { Token, TokenService } from '../tokens/token-service.js';
import { auditOrigin, type AuditOrigin } from '../audit/events.js';
import type { SecondFactor } from '../mfa/second-factor.js';

import type { RequestMeta } from '../http/types.js';

export type { RequestMeta };

import type { LogEvent } from '../log-event.js';

export type { LogEvent };

/** Extension points, the equivalents of subclassing simplejwt's serializers. */
export interface Hooks {
  /**
   * Adds custom claims to the tokens issued at login (simplejwt's "custom token claims": override `get_token`).
   * They go into the refresh token and are copied into every access token derived from it.
   */
  customClaims?: (user: UserRecord) => Readonly<Record<string, unknown>> | Promise<Readonly<Record<string, unknown>>>;
}

/** Everything a handler needs; built once by `createRestJwt`. */
export interface HandlerContext {
  readonly settings: Settings;
  readonly tokens: TokenService;
  readonly store: Store;
  readonly hasher: PasswordHasher;
  readonly hooks: Hooks;
  readonly log: (event: LogEvent) => void;
  /** Present when loginThrottle is on. */
  readonly throttle?: LoginThrottle;
  /** Present when second factors are on (`RestJwtOptions.secondFactor`). */
  readonly secondFactor?: SecondFactor;
}

/** The store row for a refresh or sliding token. */
export function outstandingRecord(ctx: HandlerContext, token: Token, userId: string | null, familyId: string | null): OutstandingToken {
  const s = ctx.settings;
  // A sliding token stays refreshable until refresh_exp: its row (and blacklist entry) must live that long.
  const refreshExp = token.kind === 'sliding' ? token.payload[s.slidingTokenRefreshExpClaim] : undefined;
  const exp = typeof refreshExp === 'number' ? refreshExp : (token.payload.exp as number);
  const iat = typeof token.payload.iat === 'number' ? token.payload.iat : exp;
  return {
    jti: token.payload[s.jtiClaim] as string,
    userId,
    tokenType: token.kind === 'sliding' ? 'sliding' : 'refresh',
    familyId,
    createdAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
  };
}

/** When and from where this request uses a session's refresh token, for the admin page's session list. */
export function requestUse(ctx: HandlerContext, meta: RequestMeta | undefined): RequestUse {
  const agent = meta?.headers?.['user-agent'];
  return {
    at: new Date(ctx.tokens.nowSeconds() * 1000),
    clientAddress: meta?.address || null,
    userAgent: agent === undefined || agent === '' ? null : agent.slice(0, 512),
  };
}

/** Where the request came from, for its audit event. */
export function originOf(meta: RequestMeta | undefined): AuditOrigin {
  return auditOrigin(meta?.address, meta?.headers);
}

/** Now on the service's clock, whole milliseconds (what the audit log and sessions record). */
export function nowDate(ctx: HandlerContext): Date {
  return new Date(Math.floor(ctx.tokens.nowSeconds() * 1000));
}
