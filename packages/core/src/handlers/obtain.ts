import type { RequestMeta } from './context.js';
import { ServiceUnavailable } from '../errors.js';
import { oneTimeOf, startPendingLogin } from '../mfa/pending.js';
import { hasSessions } from '../store/capabilities.js';
import type { UserRecord } from '../store/types.js';
import type { Token } from '../tokens/token-service.js';
import { audited } from '../audit/events.js';
import { nowDate, originOf, outstandingRecord, requestUse, type HandlerContext } from './context.js';
import { checkCredentials } from './login.js';

/** How a login was checked: the method the audit log names (`password`, a provider, `passkey`) and its RFC 8176 `amr`. */
export interface SignIn {
  method: string;
  amr: readonly string[];
}

const PASSWORD: SignIn = { method: 'password', amr: ['pwd'] };

/**
 * Issues a login's first token for `user` (already authenticated: by password here, by a provider in social login, by
 * a second factor): records it with the login's audit event, starts its session (family) with where it came from, and
 * updates `last_login`. With second factors on, the token says how the user signed in (`amr`, `auth_time`).
 */
export async function issueFor(ctx: HandlerContext, kind: 'refresh' | 'sliding', user: UserRecord, meta: RequestMeta, how: SignIn = PASSWORD): Promise<Token> {
  const claims = ctx.hooks.customClaims === undefined ? undefined : await ctx.hooks.customClaims(user);
  const token = ctx.tokens.forUser(kind, user, claims);
  if (ctx.secondFactor !== undefined) token.payload.amr = [...how.amr];
  // The login time, for refreshFamilyMaxAge and for whoever reads `amr`: every rotation copies it.
  if ((kind === 'refresh' && ctx.settings.refreshFamilyMaxAge > 0) || ctx.secondFactor !== undefined) token.payload.auth_time = token.payload.iat;
  const jti = token.payload[ctx.settings.jtiClaim] as string;
  // Recorded before it is returned: a token the store does not know is never handed out.
  const detail = { method: how.method, token: kind, ...(ctx.secondFactor === undefined ? {} : { amr: how.amr.join(' ') }) };
  const login = audited(ctx, 'login', nowDate(ctx), originOf(meta), { userId: user.id, username: user.username, familyId: jti, detail });
  await ctx.store.recordOutstanding(outstandingRecord(ctx, token, user.id, jti), login);
  if (hasSessions(ctx.store)) await ctx.store.recordSession(user.id, { familyId: jti, ...requestUse(ctx, meta) });
  if (ctx.settings.updateLastLogin) await ctx.store.updateLastLogin(user.id, new Date(ctx.tokens.nowSeconds() * 1000));
  ctx.log({ event: 'login', level: 'info', userId: user.id, jti });
  return token;
}

/**
 * Credentials checked only where tokens can be issued (a verify-only service says so before hashing anything), and
 * the login's second step when the user has one; null when the tokens are to be issued now (the throttle's failures
 * of this name then cleared).
 */
async function login(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta, kind: 'refresh' | 'sliding'): Promise<{ user: UserRecord; step: MfaStep | null }> {
  if (!ctx.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
  const checked = await checkCredentials(ctx, data, meta);
  const step = await secondStep(ctx, checked.user, kind);
  if (step === null) await checked.succeeded();
  return { user: checked.user, step };
}

/**
 * A pair for `user`, exactly as `POST /api/token/` issues one after the password check: recorded, session started,
 * `last_login` updated, custom claims applied. For logins that another authority checked (social login), or that a
 * second factor completed.
 */
export async function issuePair(ctx: HandlerContext, user: UserRecord, meta: RequestMeta, how: SignIn = PASSWORD): Promise<{ refresh: string; access: string }> {
  if (!ctx.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
  const refresh = await issueFor(ctx, 'refresh', user, meta, how);
  return { refresh: await ctx.tokens.encode(refresh), access: await ctx.tokens.encode(ctx.tokens.accessFrom(refresh)) };
}

/** What a login answers instead of tokens when the user has a second factor: the step to complete at `token/mfa/`. */
export type MfaStep = {
  mfa_required: true;
  mfa_token: string;
  methods: string[];
};

/**
 * The second step of `user`'s login when second factors are on and the user has one (after a password, or a social
 * provider: `how`); null: issue at once.
 */
export async function secondStep(ctx: HandlerContext, user: UserRecord, kind: 'refresh' | 'sliding', how: SignIn = PASSWORD): Promise<MfaStep | null> {
  if (ctx.secondFactor === undefined) return null;
  const methods = await ctx.secondFactor.methodsFor(user);
  if (methods.length === 0) return null;
  const store = oneTimeOf(ctx.store);
  const token = await startPendingLogin(store, { userId: user.id, kind, amr: [...how.amr], method: how.method, methods }, ctx.tokens.nowSeconds() * 1000);
  ctx.log({ event: 'login_mfa_required', level: 'info', userId: user.id });
  return { mfa_required: true, mfa_token: token, methods };
}

/** POST /api/token/ — TokenObtainPairView: `{"refresh", "access"}`, or the second step for a user with a factor. */
export async function obtainPair(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<Record<string, unknown>> {
  const { user, step } = await login(ctx, data, meta, 'refresh');
  return step ?? issuePair(ctx, user, meta);
}

/** POST /api/token/sliding/ — TokenObtainSlidingView: `{"token"}`, or the second step for a user with a factor. */
export async function obtainSliding(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<Record<string, unknown>> {
  const { user, step } = await login(ctx, data, meta, 'sliding');
  return step ?? { token: await ctx.tokens.encode(await issueFor(ctx, 'sliding', user, meta)) };
}
