import { AuthenticationFailed, MfaCodeInvalid, MfaUnsupported, ServiceUnavailable, Throttled, ValidationError } from '../errors.js';
import { appendAudit, auditEvent } from '../audit/events.js';
import { readStringFields } from '../http/fields.js';
import { oneTimeOf, takePendingLogin, type TakenLogin } from '../mfa/pending.js';
import type { MfaMethod, SecondFactor } from '../mfa/second-factor.js';
import type { UserRecord } from '../store/types.js';
import { nowDate, originOf, type HandlerContext, type RequestMeta } from './context.js';
import { issueFor, issuePair } from './obtain.js';

/** The body fields that carry a proof; a request with none of them asks for a challenge (`method`). */
const PROOFS = ['code', 'recovery_code', 'webauthn'] as const;

/**
 * POST /api/token/mfa/ — the second step of a login that answered `mfa_required`: `{"mfa_token", "code"}` (an
 * authenticator app's), `{"mfa_token", "recovery_code"}` or `{"mfa_token", "webauthn": <assertion>}` answers what the
 * login would have (`{"refresh", "access"}`, or `{"token"}` for a sliding login; cookies in cookie mode), its tokens'
 * `amr` saying which factors were used. `{"mfa_token", "method": "webauthn"}` without a proof answers the challenge
 * for that method and keeps the step open. A wrong proof is 401 `mfa_code_invalid` and counts for the login
 * throttle; five spend the `mfa_token` (401 `mfa_token_invalid`, as an unknown, used or expired one).
 */
export async function completeMfa(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<Record<string, unknown>> {
  const factor = ctx.secondFactor;
  if (factor === undefined) throw new MfaUnsupported();
  if (!ctx.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
  const { mfa_token: token } = readStringFields(data, [{ name: 'mfa_token', trim: true, maxLength: 200 }]) as { mfa_token: string };
  const login = await takePendingLogin(oneTimeOf(ctx.store), token, ctx.tokens.nowSeconds() * 1000);
  // The user again, fresh: deactivated (or deleted) while the step was open, nothing is issued.
  const user = await ctx.store.findUser('id', login.userId);
  if (user === null || !ctx.settings.userAuthenticationRule(user)) throw new AuthenticationFailed('no_active_account');
  if (!PROOFS.some((name) => Object.hasOwn(data, name))) return challenge(factor, user, login, token, data);
  const reserved = ctx.throttle === undefined ? undefined : await ctx.throttle.reserve(user.username, meta.address);
  if (reserved !== undefined && 'wait' in reserved) {
    await login.keep();
    await refused(ctx, user, meta, 'throttled');
    throw new Throttled(reserved.wait);
  }
  let added: string[];
  try {
    added = await factor.verify(user, data, login, meta);
  } catch (error) {
    if (error instanceof MfaCodeInvalid) {
      // The reservation counts it as a failure; the step stays open for the attempts left.
      await login.failed();
      ctx.log({ event: 'mfa_failed', level: 'info', userId: user.id, reason: error.reason });
      await refused(ctx, user, meta, error.reason);
      throw error;
    }
    // No verdict (a malformed proof, the store down): neither the attempt nor the step is spent.
    await reserved?.attempt.abandoned().catch(() => undefined);
    await login.keep().catch(() => undefined);
    throw error;
  }
  await reserved?.attempt.succeeded();
  const how = { method: login.method, amr: [...new Set([...login.amr, ...added, 'mfa'])] };
  if (login.kind === 'sliding') return { token: await ctx.tokens.encode(await issueFor(ctx, 'sliding', user, meta, how)) };
  return issuePair(ctx, user, meta, how);
}

/** `{"mfa_token", "method"}`: the method's challenge (WebAuthn assertion options), the step kept open. */
async function challenge(factor: SecondFactor, user: UserRecord, login: TakenLogin, token: string, data: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const method = data.method;
  if (typeof method !== 'string' || !login.methods.includes(method as MfaMethod)) {
    await login.keep();
    throw new ValidationError({ method: [method === undefined ? { key: 'field_required' } : { key: 'invalid_choice', params: { value: String(method).slice(0, 64) } }] });
  }
  try {
    const options = await factor.challenge(user, method as MfaMethod, login);
    return { mfa_required: true, mfa_token: token, methods: [...login.methods], [method]: options };
  } finally {
    await login.keep();
  }
}

/** The audit event of a refused second step. */
function refused(ctx: HandlerContext, user: UserRecord, meta: RequestMeta, reason: string): Promise<void> {
  return appendAudit(ctx, auditEvent('mfa_failed', nowDate(ctx), originOf(meta), { userId: user.id, username: user.username, detail: { reason } }), ctx.log);
}
