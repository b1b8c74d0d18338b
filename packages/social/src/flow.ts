import { accessPolicy, audited, auditOrigin, ConfigurationError, Throttled, type CoreRequest, type CoreResponse, type IdentityStore, type OneTimeStore, type RestJwt, type Store, type UserRecord } from '@restjwt/core';
import { hasIdentities } from '@restjwt/core/store-kit';
import { BASE_HEADERS, type RequestMeta, clientAddress, tokensToCookies, parseBody } from '@restjwt/core/adapter-kit';
import { hasUsablePassword, linkToUser, publicIdentity, resolveAccount, unlinkFromUser } from './accounts.js';
import { SocialError, socialErrorResponse, type SocialErrorCode } from './errors.js';
import { BrowserBinding, putExchange, putLogin, randomToken, takeExchange, takeLogin, type PendingLogin } from './one-time.js';
import { redirectKey, resolveSocialOptions, type ResolvedSocialOptions, type SocialOptions } from './options.js';
import type { SocialProfile, SocialProvider } from './providers/types.js';

/** A request as social login's handlers take it: the core's plain request plus its target (path and query). */
export interface SocialRequest extends CoreRequest {
  /** The request target, e.g. `/api/auth/github/callback?code=…&state=…`. Only its query is read. */
  url: string;
}

type Backend = Store & IdentityStore & OneTimeStore;

/** One social-login route, for an adapter to mount: `path` uses `:name` parameters (Fastify, Express, Hono). */
export interface SocialRoute {
  /** Stable name (`login`, `callback`, `exchange`, `token`, `link`, `identities`, `unlink`), e.g. to attach docs. */
  name: 'login' | 'callback' | 'exchange' | 'token' | 'link' | 'identities' | 'unlink';
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** Answers the request; `params` are the path's parameters, decoded. */
  handle(params: Readonly<Record<string, string | undefined>>, req: SocialRequest): Promise<CoreResponse>;
}

/** Names the routes use themselves: a provider may not take them. */
const RESERVED = new Set(['exchange', 'identities']);

/** Failures of a native request that count as failed logins for the throttle (not outages, not bad requests). */
const COUNTED: ReadonlySet<SocialErrorCode> = new Set(['social_id_token_invalid', 'social_nonce_mismatch', 'social_code_invalid']);

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ ...BASE_HEADERS, 'Cache-Control': 'no-store' });

/**
 * Social login: the browser flow (login → provider → callback → pair), the one-time code exchange, the native flow
 * (ID token or code → pair), and linking. Framework-neutral: every handler takes a {@link SocialRequest} and returns
 * the core's `CoreResponse`, so any adapter can mount them (the reference server does in restjwt's `src/server/social.ts`).
 *
 * Tokens are issued exactly as a password login issues them (`RestJwt.issuePair`): recorded, a new family with its session,
 * custom claims, `last_login`; rotation, reuse detection and revocation then apply unchanged.
 */
export class SocialLogin {
  /** The checked settings. */
  readonly options: ResolvedSocialOptions;
  private readonly store: Backend;
  private readonly binding: BrowserBinding;
  private readonly delivery: 'cookie' | 'code';

  constructor(
    readonly restjwt: RestJwt,
    options: SocialOptions,
  ) {
    const store = restjwt.store;
    if (!hasIdentities(store)) {
      throw new ConfigurationError('Social login needs a store with linked identities and one-time values (memory, SQLite, PostgreSQL or MariaDB).');
    }
    this.store = store;
    this.options = resolveSocialOptions(options);
    for (const name of this.options.providers.keys()) {
      if (RESERVED.has(name)) throw new ConfigurationError(`Social provider name "${name}" is reserved by the routes; choose another.`);
    }
    // RestJwt keeps its handler context private; social login must issue exactly as a password login does (hooks,
    // log, throttle), so it uses that same context rather than a copy.
    this.binding = new BrowserBinding(this.options.publicUrl.startsWith('https:'), `${this.options.prefix}auth/`);
    this.delivery = this.options.delivery ?? (restjwt.settings.cookieMode === 'off' ? 'code' : 'cookie');
    if (this.delivery === 'cookie' && restjwt.settings.cookieMode === 'off') {
      throw new ConfigurationError(
        'social.delivery "cookie" needs the core\'s cookieMode ("refresh" or "both"): the token endpoints must read the cookies it sets.',
      );
    }
  }

  /** The configured provider names. */
  get providerNames(): string[] {
    return [...this.options.providers.keys()];
  }

  /** Every route under the prefix, for an adapter to mount (the reference server does in restjwt's `src/server/social.ts`). */
  routes(): SocialRoute[] {
    const base = `${this.options.prefix}auth/`;
    const p = (params: Readonly<Record<string, string | undefined>>, name: string) => params[name] ?? '';
    return [
      { name: 'login', method: 'GET', path: `${base}:provider/login`, handle: (params, req) => this.login(p(params, 'provider'), req) },
      { name: 'callback', method: 'GET', path: `${base}:provider/callback`, handle: (params, req) => this.callback(p(params, 'provider'), req) },
      { name: 'exchange', method: 'POST', path: `${base}exchange/`, handle: (_params, req) => this.exchange(req) },
      { name: 'token', method: 'POST', path: `${base}:provider/token`, handle: (params, req) => this.nativeToken(p(params, 'provider'), req) },
      { name: 'link', method: 'POST', path: `${base}:provider/link`, handle: (params, req) => this.link(p(params, 'provider'), req) },
      { name: 'identities', method: 'GET', path: `${base}identities/`, handle: (_params, req) => this.identities(req) },
      {
        name: 'unlink',
        method: 'DELETE',
        path: `${base}identities/:provider/:subject/`,
        handle: (params, req) => this.unlink(p(params, 'provider'), p(params, 'subject'), req),
      },
    ];
  }

  /** The callback URL to register at `provider`: `{publicUrl}{prefix}auth/{provider}/callback`. */
  callbackUrl(provider: string): string {
    return `${this.options.publicUrl}${this.options.prefix}auth/${provider}/callback`;
  }

  /**
   * `GET {prefix}auth/{provider}/login?next=URL`: starts a browser login. Stores state, nonce and PKCE verifier
   * (single-use, `stateTtl`), sets the browser-binding cookie and redirects to the provider. `next` must be an exact
   * entry of `allowedRedirects` (default: the first), else 400 `social_redirect_not_allowed` and no redirect.
   */
  async login(provider: string, req: SocialRequest): Promise<CoreResponse> {
    return this.run(req, async () => {
      const p = this.provider(provider);
      const next = this.checkNext(queryOf(req).get('next'));
      return this.begin(provider, p, next, undefined);
    });
  }

  /**
   * `GET {prefix}auth/{provider}/callback`: the provider's answer. Takes the pending login (single-use), checks the
   * browser binding, lets the provider validate the code (PKCE, nonce, ID token), finds or creates the account, and
   * hands over a pair: as cookies (cookie delivery) or as a one-time code in the landing URL's fragment.
   */
  async callback(provider: string, req: SocialRequest): Promise<CoreResponse> {
    const res = await this.run(req, async () => {
      const query = queryOf(req);
      const state = query.get('state');
      if (state === null || state.length === 0 || state.length > 200) throw new SocialError('social_state_invalid', 'no state');
      const now = this.now();
      // Taken before anything else: whatever happens next, this state can never be used again.
      const pending = await takeLogin(this.store, state, now);
      if (pending === null) throw new SocialError('social_state_invalid', 'unknown, used or expired state');
      if (pending.provider !== provider) throw new SocialError('social_state_invalid', 'state of another provider');
      if (!this.binding.matches(req.headers.cookie, pending.binding)) throw new SocialError('social_browser_mismatch');
      const p = this.provider(provider);
      const profile = await p.callback({ query, state, nonce: pending.nonce, codeVerifier: pending.codeVerifier }, this.callbackUrl(provider));
      // The landing URL was checked at login; checked again in case the allow-list changed since.
      const next = this.checkNext(pending.next);
      if (pending.linkUserId !== undefined) return this.finishLink(provider, profile, pending, next);
      const user = await this.account(provider, profile);
      if (this.delivery === 'cookie') {
        const signedIn = await this.restjwt.signIn(user, this.meta(req), provider);
        // A user with a second factor lands with the step to finish (in the fragment, like the Bearer delivery's code).
        if ('mfa_required' in signedIn) return redirect(`${next}#${new URLSearchParams({ mfa_token: signedIn.mfa_token, methods: signedIn.methods.join(',') }).toString()}`);
        return redirect(next, tokensToCookies(this.restjwt.settings, this.restjwt.prefix, signedIn).cookies);
      }
      const code = await putExchange(this.store, { userId: user.id, provider }, new Date(now.getTime() + this.options.codeTtl * 1000));
      // In the fragment: never sent to a server, never in a Referer or an access log.
      return redirect(`${next}#code=${encodeURIComponent(code)}`);
    });
    // The binding is as single-use as its state: cleared whatever the outcome.
    return { ...res, cookies: [...(res.cookies ?? []), this.binding.clear()] };
  }

  /** `POST {prefix}auth/exchange/` with `{"code"}`: the Bearer delivery's one-time code for the pair (single-use, `codeTtl`). */
  async exchange(req: SocialRequest): Promise<CoreResponse> {
    return this.run(req, async () => {
      const data = this.body(req);
      const code = stringField(data, 'code', 200);
      const pending = await takeExchange(this.store, code, this.now());
      if (pending === null) throw new SocialError('social_exchange_code_invalid');
      const user = await this.store.findUser('id', pending.userId);
      if (user === null || !user.isActive) throw new SocialError('social_user_inactive');
      // A user with a second factor gets the step to finish at token/mfa/ instead of the pair.
      const pair = await this.restjwt.signIn(user, this.meta(req), pending.provider);
      if (this.restjwt.settings.cookieMode === 'off' || 'mfa_required' in pair) return ok(pair);
      const moved = tokensToCookies(this.restjwt.settings, this.restjwt.prefix, pair);
      return { ...ok(moved.body), cookies: moved.cookies };
    });
  }

  /**
   * `POST {prefix}auth/{provider}/token`, for native apps: `{"id_token", "nonce"?}` (validated against the provider's
   * keys; audience our client id; the nonce must match when given, and be absent from the token when not) or
   * `{"code", "code_verifier", "redirect_uri", "nonce"?}` (redirect URI among the provider's `nativeRedirectUris`).
   * Answers `{"refresh", "access"}` like `/api/token/`. Failures count for the login throttle by address.
   */
  async nativeToken(provider: string, req: SocialRequest): Promise<CoreResponse> {
    return this.run(req, async () => {
      const p = this.provider(provider);
      const data = this.body(req);
      const meta = this.meta(req);
      const throttle = this.restjwt.throttle;
      // The throttle's keys are per username and address; there is no username yet, so every key is this address's.
      const key = `social:${provider}|${meta.address}`;
      if (throttle !== undefined) {
        const wait = await throttle.check(key, meta.address);
        if (wait !== null) throw new Throttled(wait);
      }
      let profile: SocialProfile;
      try {
        profile = await this.nativeProfile(p, data);
      } catch (err) {
        if (throttle !== undefined && err instanceof SocialError && COUNTED.has(err.code)) await throttle.failed(key, meta.address);
        throw err;
      }
      const user = await this.account(provider, profile);
      if (throttle !== undefined) await throttle.succeeded(key, meta.address);
      // Always in the body: a native app has no cookie jar to speak of.
      return ok(await this.restjwt.signIn(user, meta, provider));
    });
  }

  /** `GET {prefix}auth/identities/`: the signed-in user's linked identities. */
  async identities(req: SocialRequest): Promise<CoreResponse> {
    return this.run(req, async () => {
      const user = await this.signedIn(req);
      const list = await this.store.listIdentities(user.id);
      return ok({ identities: list.map(publicIdentity), has_usable_password: hasUsablePassword(user) });
    });
  }

  /**
   * `POST {prefix}auth/{provider}/link` with `{"next"?}`: starts a browser flow that links `provider` to the
   * signed-in user. Answers `{"authorization_url"}` (and sets the binding cookie); the page then navigates there.
   * The callback links the identity and redirects to `next`; it issues no tokens.
   */
  async link(provider: string, req: SocialRequest): Promise<CoreResponse> {
    return this.run(req, async () => {
      const user = await this.signedIn(req);
      const p = this.provider(provider);
      const data = this.body(req);
      const next = this.checkNext(data.next === undefined ? null : stringField(data, 'next', 2000));
      const started = await this.begin(provider, p, next, user.id);
      return { ...ok({ authorization_url: started.headers.Location }), ...(started.cookies === undefined ? {} : { cookies: started.cookies }) };
    });
  }

  /**
   * `DELETE {prefix}auth/identities/{provider}/{subject}/`: unlinks one of the signed-in user's identities; refused
   * (409 `social_last_login_method`) when it is the last way to sign in.
   */
  async unlink(provider: string, subject: string, req: SocialRequest): Promise<CoreResponse> {
    return this.run(req, async () => {
      const user = await this.signedIn(req);
      const meta = this.meta(req);
      const audit = audited(this.restjwt, 'identity_unlinked', this.now(), auditOrigin(meta.address, meta.headers), { userId: user.id, username: user.username, detail: { provider } });
      await unlinkFromUser(this.store, user, provider, subject, audit);
      this.restjwt.log({ event: 'social_unlink', level: 'info', userId: user.id, provider });
      return { status: 204, headers: { ...JSON_HEADERS }, body: undefined };
    });
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** Runs a handler; social errors become their wire body, anything else the core's (ApiErrors, 503, 500). */
  private async run(req: SocialRequest, handler: () => Promise<CoreResponse>): Promise<CoreResponse> {
    try {
      return await handler();
    } catch (err) {
      if (err instanceof CoreAnswer) return err.response;
      if (err instanceof SocialError) {
        this.restjwt.log({ event: 'social_refused', level: 'warn', reason: err.reason === undefined ? err.code : `${err.code}: ${err.reason}`.slice(0, 300) });
        return socialErrorResponse(err);
      }
      return this.restjwt.errorResponse(err, req.headers);
    }
  }

  private provider(name: string): SocialProvider {
    const p = this.options.providers.get(name);
    if (p === undefined) throw new SocialError('social_unknown_provider');
    return p;
  }

  /** Stores a pending login and answers the redirect to the provider with the binding cookie. */
  private async begin(name: string, p: SocialProvider, next: string, linkUserId: string | undefined): Promise<CoreResponse> {
    const binding = this.binding.create(this.options.stateTtl);
    const pending: PendingLogin = {
      provider: name,
      nonce: randomToken(),
      codeVerifier: randomToken(),
      binding: binding.hash,
      next,
      ...(linkUserId === undefined ? {} : { linkUserId }),
    };
    const expires = new Date(this.now().getTime() + this.options.stateTtl * 1000);
    // The state is drawn by the store call; the URL needs it, so the pending login is stored first. If building the
    // URL then fails (discovery down), the stored login simply expires unused.
    const state = await putLogin(this.store, pending, expires);
    const url = await p.authorizationUrl({ state, nonce: pending.nonce, codeVerifier: pending.codeVerifier }, this.callbackUrl(name));
    return redirect(url.href, [binding.cookie]);
  }

  /** `next` as an allowed landing URL (normalized), or the default when absent. */
  private checkNext(raw: string | null): string {
    const allowed = this.options.allowedRedirects;
    if (raw === null || raw === '') return allowed[0] as string;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new SocialError('social_redirect_not_allowed', 'not an absolute URL');
    }
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '' || !allowed.includes(redirectKey(url))) {
      throw new SocialError('social_redirect_not_allowed', `refused ${redirectKey(url).slice(0, 200)}`);
    }
    return redirectKey(url);
  }

  private async account(provider: string, profile: SocialProfile): Promise<UserRecord> {
    const { user, outcome } = await resolveAccount(this.store, provider, profile, this.options, this.now());
    this.restjwt.log({ event: 'social_login', level: 'info', userId: user.id, provider, outcome });
    return user;
  }

  private async finishLink(provider: string, profile: SocialProfile, pending: PendingLogin, next: string): Promise<CoreResponse> {
    const user = await linkToUser(this.store, provider, profile, pending.linkUserId as string, this.now());
    this.restjwt.log({ event: 'social_link', level: 'info', userId: user.id, provider });
    return redirect(next);
  }

  private async nativeProfile(p: SocialProvider, data: Record<string, unknown>): Promise<SocialProfile> {
    const nonce = data.nonce === undefined ? undefined : stringField(data, 'nonce', 512);
    if (data.id_token !== undefined) {
      const idToken = stringField(data, 'id_token', 16_384);
      if (p.verifyIdToken === undefined) throw new SocialError('social_grant_unsupported', 'provider has no ID tokens');
      return p.verifyIdToken(idToken, nonce);
    }
    if (data.code !== undefined) {
      const code = stringField(data, 'code', 4096);
      const codeVerifier = stringField(data, 'code_verifier', 128);
      const redirectUri = stringField(data, 'redirect_uri', 2000);
      if (p.redeemCode === undefined) throw new SocialError('social_grant_unsupported', 'provider cannot redeem native codes');
      // The provider checks the redirect URI against the authorization request; this list keeps the endpoint from
      // redeeming codes issued to some other client of ours (the browser callback's codes among them).
      if (!p.nativeRedirectUris.includes(redirectUri)) throw new SocialError('social_redirect_not_allowed', 'redirect_uri not among nativeRedirectUris');
      if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(codeVerifier)) {
        throw new SocialError('social_bad_request', 'bad code_verifier', 'code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636).');
      }
      return p.redeemCode({ code, codeVerifier, redirectUri, nonce });
    }
    throw new SocialError('social_bad_request', 'neither id_token nor code', 'Send "id_token" (and "nonce"), or "code", "code_verifier" and "redirect_uri".');
  }

  /** The signed-in user (Bearer, or the access cookie with its CSRF check for unsafe methods); 401/403 otherwise. */
  private async signedIn(req: SocialRequest): Promise<UserRecord> {
    const result = await this.restjwt.authorize<UserRecord>(req.headers, accessPolicy([]), req.method);
    if (result.response !== undefined) throw new CoreAnswer(result.response);
    return (result.auth as NonNullable<typeof result.auth>).user;
  }

  private body(req: SocialRequest): Record<string, unknown> {
    return parseBody(req.headers['content-type'], req.rawBody, this.restjwt.settings.maxBodyBytes);
  }

  private meta(req: SocialRequest): RequestMeta {
    return { address: clientAddress(req.ip, req.headers['x-forwarded-for'], this.restjwt.settings.trustedProxies), headers: req.headers };
  }

  /** The service's clock (injectable in tests), so that state and code expiry follow it. */
  private now(): Date {
    return new Date(Math.floor(this.restjwt.tokens.nowSeconds() * 1000));
  }
}

/** A ready answer from the core (an authorization refusal) carried out of a handler. */
class CoreAnswer extends Error {
  constructor(readonly response: CoreResponse) {
    super('core answer');
  }
}

function queryOf(req: SocialRequest): URLSearchParams {
  const q = req.url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : req.url.slice(q + 1));
}

function stringField(data: Record<string, unknown>, name: string, max: number): string {
  const value = data[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new SocialError('social_bad_request', `bad ${name}`, `"${name}" must be a non-empty string of at most ${max} characters.`);
  }
  return value;
}

function ok(body: Record<string, unknown>): CoreResponse {
  return { status: 200, headers: { ...JSON_HEADERS }, body };
}

function redirect(location: string, cookies: readonly string[] = []): CoreResponse {
  return {
    status: 302,
    headers: { Location: location, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' },
    body: undefined,
    ...(cookies.length > 0 ? { cookies } : {}),
  };
}

/**
 * Builds social login on a restjwt service.
 *
 * @throws ConfigurationError for bad settings, or a store without linked identities and one-time values.
 */
export function createSocialLogin(restjwt: RestJwt, options: SocialOptions): SocialLogin {
  return new SocialLogin(restjwt, options);
}
