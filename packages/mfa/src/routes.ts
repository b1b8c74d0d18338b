/**
 * The HTTP side of `@restjwt/mfa`: enrolment and removal of the signed-in user's factors, recovery codes, and
 * passkey-only sign-in. A framework-neutral route table of `CoreRequest` → `CoreResponse` handlers (as social login's),
 * so any adapter mounts it; the reference server does in restjwt's `src/server/mfa.ts`.
 *
 * Every change that adds or removes a factor ends the user's other sessions (refresh tokens blacklisted, token version
 * renewed) and answers a fresh pair, so that this client stays signed in and a session opened before the change (by
 * whoever had the password, or the lost phone) does not outlive it.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  accessPolicy,
  AuthenticationFailed,
  MfaUnsupported,
  NotFound,
  publicFactor,
  ServiceUnavailable,
  Throttled,
  ValidationError,
  type CoreRequest,
  type CoreResponse,
  type FactorRecord,
  type RestJwt,
  type UserRecord,
} from '@restjwt/core';
import { BASE_HEADERS, clientAddress, parseBody, tokensToCookies, type RequestMeta } from '@restjwt/core/adapter-kit';
import { hasFactors } from '@restjwt/core/store-kit';
import type { MfaContext } from './context.js';
import { MfaError, mfaErrorResponse } from './errors.js';
import { newRecoveryCodes, normalizeRecoveryCode } from './recovery.js';
import type { MfaSecondFactor } from './second-factor.js';
import { newTotpSecret, normalizeTotpCode, otpauthUri } from './totp.js';
import { authenticationOptions, isCredentialJson, RegistrationRefused, registrationOptions, verifyAssertion, verifyRegistration, type AssertionResult } from './webauthn.js';

/** One MFA route, for an adapter to mount: `path` uses `:name` parameters (Fastify, Express, Hono). */
export interface MfaRoute {
  /** Stable name, e.g. to attach documentation. */
  name: MfaRouteName;
  method: 'GET' | 'POST';
  path: string;
  /** Answers the request; `params` are the path's parameters, decoded. */
  handle(params: Readonly<Record<string, string | undefined>>, req: CoreRequest): Promise<CoreResponse>;
}

export type MfaRouteName =
  | 'factors'
  | 'totpStart'
  | 'totpConfirm'
  | 'webauthnRegisterOptions'
  | 'webauthnRegister'
  | 'recoveryCodes'
  | 'removeFactor'
  | 'passkeyOptions'
  | 'passkeyToken';

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ ...BASE_HEADERS, 'Cache-Control': 'no-store' });
const MAX_LABEL = 100;
const TOTP_LABEL = 'Authenticator app';
const PASSKEY_LABEL = 'Passkey';
/** A passkey sign-in's token: 256 random bits, base64url. */
const PASSKEY_TOKEN = /^[A-Za-z0-9_-]{43}$/;


/** See the module comment. Built by `Mfa.routes(restjwt)`. */
export class MfaRoutes {
  constructor(
    private readonly ctx: MfaContext,
    private readonly factor: MfaSecondFactor,
  ) {}

  private get restjwt(): RestJwt {
    return this.ctx.restjwt;
  }

  /** Every route, under the service's prefix (default `/api/`). */
  routes(): MfaRoute[] {
    const base = `${this.restjwt.prefix}mfa/`;
    const token = `${this.restjwt.prefix}token/passkey/`;
    const id = (params: Readonly<Record<string, string | undefined>>): string => params.id ?? '';
    return [
      { name: 'factors', method: 'GET', path: base, handle: (_p, req) => this.run(req, () => this.factors(req)) },
      { name: 'totpStart', method: 'POST', path: `${base}totp/`, handle: (_p, req) => this.run(req, () => this.totpStart(req)) },
      { name: 'totpConfirm', method: 'POST', path: `${base}totp/:id/confirm/`, handle: (p, req) => this.run(req, () => this.totpConfirm(id(p), req)) },
      { name: 'webauthnRegisterOptions', method: 'POST', path: `${base}webauthn/register/options/`, handle: (_p, req) => this.run(req, () => this.registerOptions(req)) },
      { name: 'webauthnRegister', method: 'POST', path: `${base}webauthn/register/`, handle: (_p, req) => this.run(req, () => this.register(req)) },
      { name: 'recoveryCodes', method: 'POST', path: `${base}recovery-codes/`, handle: (_p, req) => this.run(req, () => this.recoveryCodes(req)) },
      { name: 'removeFactor', method: 'POST', path: `${base}factors/:id/remove/`, handle: (p, req) => this.run(req, () => this.remove(id(p), req)) },
      { name: 'passkeyOptions', method: 'POST', path: `${token}options/`, handle: (_p, req) => this.run(req, () => this.passkeyOptions(req)) },
      { name: 'passkeyToken', method: 'POST', path: token, handle: (_p, req) => this.run(req, () => this.passkeySignIn(req)) },
    ];
  }

  /** `GET {prefix}mfa/`: the signed-in user's factors, how many recovery codes are left, and the login's methods. */
  async factors(req: CoreRequest): Promise<CoreResponse> {
    const { user } = await this.signedIn(req);
    const [factors, left, methods] = await Promise.all([this.ctx.store.listFactors(user.id), this.ctx.store.countRecoveryCodes(user.id), this.factor.methodsFor(user)]);
    return ok({ factors: factors.map(publicFactor), recovery_codes_left: left, methods });
  }

  /**
   * `POST {prefix}mfa/totp/` `{"label"?}`: a new, unconfirmed authenticator app (replacing an unconfirmed one): 201
   * `{"id", "secret", "otpauth_uri"}`, shown this once. A login asks for it only once `confirm/` has seen a code.
   */
  async totpStart(req: CoreRequest): Promise<CoreResponse> {
    const { user } = await this.signedIn(req);
    const data = this.body(req);
    const label = labelField(data, TOTP_LABEL);
    const store = this.ctx.store;
    for (const f of await store.listFactors(user.id)) if (f.kind === 'totp' && !f.confirmed) await store.removeFactor(user.id, f.id);
    const secret = newTotpSecret();
    const factor = await store.addFactor({
      userId: user.id,
      kind: 'totp',
      label,
      confirmed: false,
      // Sealed for this user: the store never holds the secret in clear.
      secret: this.ctx.keyring.seal(secret, user.id),
      credentialId: null,
      meta: '{}',
      createdAt: this.ctx.now(),
    });
    return ok({ id: factor.id, secret, otpauth_uri: otpauthUri(secret, this.ctx.issuer, user.username) }, 201);
  }

  /**
   * `POST {prefix}mfa/totp/{id}/confirm/` `{"code"}`: a current code of the new authenticator app confirms it (audited
   * `factor_added`); the user's other sessions end, and a fresh pair (`amr` … `otp mfa`) keeps this client signed in.
   */
  async totpConfirm(id: string, req: CoreRequest): Promise<CoreResponse> {
    const { user, amr } = await this.signedIn(req);
    const data = this.body(req);
    const factor = (await this.ctx.store.listFactors(user.id)).find((f) => f.id === id && f.kind === 'totp' && !f.confirmed);
    if (factor === undefined) throw new NotFound();
    const code = normalizeTotpCode(requiredString(data, 'code', 64));
    const verdict = code === null ? 'invalid' : await this.factor.checkTotp(user, code, factor);
    if (verdict !== 'ok') throw new MfaError('mfa_code_rejected', `confirm: ${verdict}`);
    const meta = this.meta(req);
    const confirmed = await this.ctx.store.confirmFactor(user.id, factor.id, this.ctx.audited('factor_added', meta, { userId: user.id, username: user.username, detail: { kind: 'totp' } }));
    if (!confirmed) throw new NotFound();
    this.ctx.log({ event: 'mfa_factor_added', level: 'info', userId: user.id, kind: 'totp' });
    return this.freshPair(user, meta, 'mfa_enrolment', [...amr, 'otp', 'mfa'], { factor: publicFactor({ ...factor, confirmed: true }) });
  }

  /**
   * `POST {prefix}mfa/webauthn/register/options/` `{"label"?}`: the options for `navigator.credentials.create()`
   * (passkey preferred, user verification required, the user's passkeys excluded); the challenge is single-use, for
   * this user, for five minutes.
   */
  async registerOptions(req: CoreRequest): Promise<CoreResponse> {
    const { user } = await this.signedIn(req);
    const data = this.body(req);
    const label = data.label === undefined ? undefined : labelField(data, PASSKEY_LABEL);
    const options = await registrationOptions(this.ctx, user, await this.ctx.store.listFactors(user.id), label);
    return ok({ ...options });
  }

  /**
   * `POST {prefix}mfa/webauthn/register/` `{"credential", "label"?}`: `navigator.credentials.create()`'s answer,
   * verified (challenge, origin, RP id, user verification); 201 with the new factor (audited `factor_added`), the
   * user's other sessions ended, and a fresh pair.
   */
  async register(req: CoreRequest): Promise<CoreResponse> {
    const { user, amr } = await this.signedIn(req);
    const data = this.body(req);
    const given = data.label === undefined ? undefined : labelField(data, PASSKEY_LABEL);
    const credential = data.credential;
    if (!isCredentialJson(credential)) throw new ValidationError({ credential: [credential === undefined ? { key: 'field_required' } : { key: 'invalid_data', params: { type: typeof credential } }] });
    let passkey;
    try {
      passkey = await verifyRegistration(this.ctx, user, credential);
    } catch (error) {
      if (error instanceof RegistrationRefused) throw new MfaError('mfa_registration_invalid', error.message);
      throw error;
    }
    const meta = this.meta(req);
    // The label sent now wins over the one given with the options.
    const label = given ?? passkey.label ?? PASSKEY_LABEL;
    let factor: FactorRecord;
    try {
      factor = await this.ctx.store.addFactor(
        { userId: user.id, kind: 'webauthn', label, confirmed: true, secret: passkey.publicKey, credentialId: passkey.credentialId, meta: JSON.stringify(passkey.meta), createdAt: this.ctx.now() },
        this.ctx.audited('factor_added', meta, { userId: user.id, username: user.username, detail: { kind: 'webauthn' } }),
      );
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === 'credential_exists') throw new MfaError('mfa_credential_exists');
      throw error;
    }
    this.ctx.log({ event: 'mfa_factor_added', level: 'info', userId: user.id, kind: 'webauthn' });
    const kind = passkey.meta.deviceType === 'multiDevice' ? 'swk' : 'hwk';
    return this.freshPair(user, meta, 'mfa_enrolment', [...amr, kind, 'mfa'], { factor: publicFactor(factor) }, 201);
  }

  /**
   * `POST {prefix}mfa/recovery-codes/`: ten new recovery codes, replacing the old ones (audited
   * `recovery_codes_generated`), shown this once. Only for a user with a confirmed factor.
   */
  async recoveryCodes(req: CoreRequest): Promise<CoreResponse> {
    const { user } = await this.signedIn(req);
    this.body(req);
    if (!(await this.ctx.store.listFactors(user.id)).some((f) => f.confirmed)) throw new MfaError('mfa_no_factor');
    const codes = newRecoveryCodes();
    const hashes = codes.map((code) => this.ctx.recoveryHash(normalizeRecoveryCode(code) as string));
    const meta = this.meta(req);
    await this.ctx.store.setRecoveryCodes(user.id, hashes, this.ctx.audited('recovery_codes_generated', meta, { userId: user.id, username: user.username, detail: { count: codes.length } }));
    this.ctx.log({ event: 'mfa_recovery_codes_generated', level: 'info', userId: user.id });
    return ok({ codes });
  }

  /**
   * `POST {prefix}mfa/factors/{id}/remove/` `{"code"?}`: removes one of the user's factors (audited `factor_removed`).
   * The last confirmed one needs `code` (a current code of that authenticator app, or a recovery code; a passkey: a
   * recovery code), which counts for the login throttle like a password, and takes the recovery codes with it. The
   * user's other sessions end; a fresh pair keeps this client signed in.
   */
  async remove(id: string, req: CoreRequest): Promise<CoreResponse> {
    const { user, amr } = await this.signedIn(req);
    const data = this.body(req);
    const factors = await this.ctx.store.listFactors(user.id);
    const factor = factors.find((f) => f.id === id);
    if (factor === undefined) throw new NotFound();
    const meta = this.meta(req);
    const last = factor.confirmed && !factors.some((f) => f.confirmed && f.id !== factor.id);
    if (last) await this.confirmRemoval(user, factor, data, meta);
    const audit = factor.confirmed ? this.ctx.audited('factor_removed', meta, { userId: user.id, username: user.username, detail: { kind: factor.kind } }) : {};
    if (!(await this.ctx.store.removeFactor(user.id, factor.id, audit))) throw new NotFound();
    // Recovery codes belong to the factors they back up: with none left they would only be a way around nothing.
    if (last) await this.ctx.store.setRecoveryCodes(user.id, []);
    this.ctx.log({ event: 'mfa_factor_removed', level: 'info', userId: user.id, kind: factor.kind });
    return this.freshPair(user, meta, 'mfa_removal', last ? amr.filter((m) => m !== 'mfa') : amr, { removed: factor.id });
  }

  /**
   * `POST {prefix}token/passkey/options/`: starts a passkey-only sign-in: `{"passkey_token", "options"}`, the options
   * for `navigator.credentials.get()` naming no credential (the browser offers the site's passkeys).
   */
  async passkeyOptions(req: CoreRequest): Promise<CoreResponse> {
    if (!this.restjwt.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
    this.body(req);
    const token = randomBytes(32).toString('base64url');
    const options = await authenticationOptions(this.ctx, passkeyBinding(token));
    return ok({ passkey_token: token, options });
  }

  /**
   * `POST {prefix}token/passkey/` `{"passkey_token", "credential"}`: a passkey's assertion for the options of that
   * token signs its user in: `{"refresh", "access"}` (cookies in cookie mode), `amr` `hwk`/`swk user mfa`: the passkey
   * is the possession factor and its user verification the other. Failures count for the login throttle by address.
   */
  async passkeySignIn(req: CoreRequest): Promise<CoreResponse> {
    if (!this.restjwt.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
    const data = this.body(req);
    const token = requiredString(data, 'passkey_token', 200);
    const credential = data.credential;
    if (!isCredentialJson(credential)) throw new ValidationError({ credential: [credential === undefined ? { key: 'field_required' } : { key: 'invalid_data', params: { type: typeof credential } }] });
    const meta = this.meta(req);
    const throttle = this.restjwt.throttle;
    // No username is known before the assertion is checked: every key of the throttle is this address's.
    const reserved = throttle === undefined ? undefined : await throttle.reserve(`passkey|${meta.address}`, meta.address);
    if (reserved !== undefined && 'wait' in reserved) throw new Throttled(reserved.wait);
    let result: AssertionResult;
    try {
      result = PASSKEY_TOKEN.test(token) ? await verifyAssertion(this.ctx, credential, passkeyBinding(token)) : { ok: false, reason: 'assertion_invalid', detail: 'malformed passkey_token' };
    } catch (error) {
      // No verdict (the store is down): the attempt is not counted.
      await reserved?.attempt.abandoned().catch(() => undefined);
      throw error;
    }
    if (!result.ok) {
      const owner = result.factor === undefined ? null : await this.ctx.store.findUser('id', result.factor.userId);
      await this.ctx.appendAudit('mfa_failed', meta, { ...(owner === null ? {} : { userId: owner.id, username: owner.username }), detail: { reason: result.reason, method: 'passkey' } });
      throw new MfaError('mfa_passkey_invalid', `${result.reason}: ${result.detail}`);
    }
    const user = await this.ctx.store.findUser('id', result.factor.userId);
    if (user === null || !this.restjwt.settings.userAuthenticationRule(user)) throw new AuthenticationFailed('no_active_account');
    await reserved?.attempt.succeeded();
    const pair = await this.restjwt.issuePair(user, meta, 'passkey', [result.amr, 'user', 'mfa']);
    return this.withCookies(ok(pair), pair);
  }

  // ---------------------------------------------------------------------------------------------------------------

  /**
   * The last factor's removal, confirmed by `code`: that authenticator app's current code, or a recovery code. A wrong
   * one counts for the login throttle (username and address), as a wrong password does: a stolen access token must
   * not become unlimited guesses at the code.
   */
  private async confirmRemoval(user: UserRecord, factor: FactorRecord, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<void> {
    if (data.code === undefined) {
      const left = await this.ctx.store.countRecoveryCodes(user.id);
      throw new MfaError(factor.kind === 'webauthn' && left === 0 ? 'mfa_no_recovery_codes' : 'mfa_code_required');
    }
    const input = requiredString(data, 'code', 64);
    const throttle = this.restjwt.throttle;
    const reserved = throttle === undefined ? undefined : await throttle.reserve(user.username, meta.address);
    if (reserved !== undefined && 'wait' in reserved) throw new Throttled(reserved.wait);
    let accepted: boolean;
    try {
      const totp = factor.kind === 'totp' ? normalizeTotpCode(input) : null;
      const recovery = totp === null ? normalizeRecoveryCode(input) : null;
      accepted =
        (totp !== null && (await this.factor.checkTotp(user, totp, factor)) === 'ok') || (recovery !== null && (await this.factor.spendRecoveryCode(user, recovery, meta)));
    } catch (error) {
      await reserved?.attempt.abandoned().catch(() => undefined);
      throw error;
    }
    if (!accepted) {
      await this.ctx.appendAudit('mfa_failed', meta, { userId: user.id, username: user.username, detail: { reason: 'code_invalid', method: 'remove_factor' } });
      throw new MfaError('mfa_code_rejected', 'remove: wrong code');
    }
    await reserved?.attempt.succeeded();
  }

  /**
   * Ends the user's other sessions, then issues the pair this client continues with (in cookies in cookie mode),
   * audited as a `login` whose method says why (`mfa_enrolment`, `mfa_removal`) and whose `amr` is the sign-in's
   * behind the caller's token with what this request proved.
   */
  private async freshPair(user: UserRecord, meta: RequestMeta, method: string, amr: readonly string[], extra: Record<string, unknown>, status = 200): Promise<CoreResponse> {
    // Token version first: from here on, access tokens (with checkRevokeToken) and refreshes of the old sessions fail.
    await this.ctx.store.renewTokenVersion(user.id);
    const revoked = await this.ctx.store.revokeUser(user.id);
    const fresh = await this.ctx.store.findUser('id', user.id);
    if (fresh === null) throw new AuthenticationFailed('user_not_found');
    const pair = await this.restjwt.issuePair(fresh, meta, method, [...new Set(amr)]);
    this.ctx.log({ event: 'mfa_sessions_ended', level: 'info', userId: user.id, revoked });
    return this.withCookies(ok({ ...extra, ...pair }, status), pair);
  }

  /** In cookie mode the pair goes into the cookies the token endpoints read, as they set them. */
  private withCookies(res: CoreResponse, pair: { refresh: string; access: string }): CoreResponse {
    if (this.restjwt.settings.cookieMode === 'off') return res;
    const moved = tokensToCookies(this.restjwt.settings, this.restjwt.prefix, { ...(res.body as Record<string, unknown>), ...pair });
    return { ...res, body: moved.body, cookies: moved.cookies };
  }

  /** Runs a handler; MFA errors become their wire body, anything else the core's (ApiErrors, 503, 500). */
  private async run(req: CoreRequest, handler: () => Promise<CoreResponse>): Promise<CoreResponse> {
    try {
      // A store that lost its factors (a wrapper without the capability): the core's 501, not a crash.
      if (!hasFactors(this.ctx.store)) throw new MfaUnsupported();
      return await handler();
    } catch (err) {
      if (err instanceof CoreAnswer) return err.response;
      if (err instanceof MfaError) {
        this.ctx.log({ event: 'mfa_refused', level: 'info', reason: err.reason === undefined ? err.code : `${err.code}: ${err.reason}`.slice(0, 300) });
        return mfaErrorResponse(err);
      }
      return this.restjwt.errorResponse(err, req.headers);
    }
  }

  /**
   * The signed-in user (Bearer, or the access cookie with its CSRF check for unsafe methods; 401/403 otherwise) and
   * the `amr` of the sign-in behind the token (none recorded: `pwd`, the only login there was before second factors).
   */
  private async signedIn(req: CoreRequest): Promise<{ user: UserRecord; amr: string[] }> {
    const result = await this.restjwt.authorize<UserRecord>(req.headers, accessPolicy([]), req.method);
    if (result.response !== undefined) throw new CoreAnswer(result.response);
    const auth = result.auth as NonNullable<typeof result.auth>;
    const claimed = auth.token.payload.amr;
    const amr = Array.isArray(claimed) ? claimed.filter((m): m is string => typeof m === 'string') : ['pwd'];
    return { user: auth.user, amr };
  }

  private body(req: CoreRequest): Record<string, unknown> {
    return req.method === 'GET' ? {} : parseBody(req.headers['content-type'], req.rawBody, this.restjwt.settings.maxBodyBytes);
  }

  private meta(req: CoreRequest): RequestMeta {
    return { address: clientAddress(req.ip, req.headers['x-forwarded-for'], this.restjwt.settings.trustedProxies), headers: req.headers };
  }
}

/** A ready answer from the core (an authorization refusal) carried out of a handler. */
class CoreAnswer extends Error {
  constructor(readonly response: CoreResponse) {
    super('core answer');
  }
}

/** What a passkey sign-in's challenge is bound to: its token, by hash (the store never holds the token). */
const passkeyBinding = (token: string): string => `passkey:${createHash('sha256').update(token).digest('base64url')}`;

function ok(body: Record<string, unknown>, status = 200): CoreResponse {
  return { status, headers: { ...JSON_HEADERS }, body };
}

/** A required text field, DRF's way: missing, null, not text, blank or too long are 400 field errors. */
function requiredString(data: Readonly<Record<string, unknown>>, name: string, max: number): string {
  const value = data[name];
  if (value === undefined) throw new ValidationError({ [name]: [{ key: 'field_required' }] });
  if (value === null) throw new ValidationError({ [name]: [{ key: 'field_null' }] });
  if (typeof value !== 'string') throw new ValidationError({ [name]: [{ key: 'field_not_string' }] });
  if (value.trim() === '') throw new ValidationError({ [name]: [{ key: 'field_blank' }] });
  if (value.length > max) throw new ValidationError({ [name]: [{ key: 'field_too_long', params: { max } }] });
  return value;
}

/** The optional `label` (trimmed, at most 100 characters), or `fallback`. */
function labelField(data: Readonly<Record<string, unknown>>, fallback: string): string {
  if (data.label === undefined) return fallback;
  return requiredString(data, 'label', MAX_LABEL).trim();
}
