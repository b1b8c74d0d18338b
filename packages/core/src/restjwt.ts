import { authenticateNow, type Authentication, type AuthenticateOptions, type AuthUser, type UserLookupNow } from './auth/authenticate.js';
import { checkPermissions, type AccessPolicy } from './auth/permissions.js';
import { ENDPOINTS, type EndpointName, type EndpointSpec, type RequestMeta } from './endpoints.js';
import { issuePair, secondStep, type MfaStep } from './handlers/obtain.js';
import { ApiError, ConfigurationError, MethodNotAllowed, ServiceUnavailable } from './errors.js';
import { LoginThrottle } from './throttle/login-throttle.js';
import type { HandlerContext, Hooks, LogEvent } from './handlers/context.js';
import { builtinCatalogues, en, type Catalogue } from './i18n/catalogue.js';
import { negotiateLocale } from './i18n/negotiate.js';
import { render } from './i18n/translate.js';
import { parseBody } from './http/parse-body.js';
import { clientAddress } from './http/client-ip.js';
import { authCookies, checkCsrf, clearingCookies, tokensToCookies } from './http/cookie-mode.js';
import { renderError } from './http/render-error.js';
import { optionalRequestFields, requestFields } from './http/schemas.js';
import { readRawBody, tokenRoutes, type BodySource, type HeaderMap, type TokenRoute } from './http/transport.js';
import { BASE_HEADERS, type CoreRequest, type CoreResponse } from './http/types.js';
import { buildKeyset, type ExtraVerifyKey, type Keyset } from './keys/keyset.js';
import { RemoteKeys } from './keys/remote-jwks.js';
import { createPasswordHasher, type PasswordHasher } from './passwords/index.js';
import { resolveSettings } from './settings/resolve.js';
import type { Settings, SettingsInput } from './settings/types.js';
import { notify, runAroundEndpoint, type EndpointObservation, type Observer } from './observe.js';
import { immediateUserLookup } from './store/capabilities.js';
import { oneTimeOf } from './mfa/pending.js';
import type { SecondFactor } from './mfa/second-factor.js';
import { StoreUnavailableError } from './store/errors.js';
import type { RateCounter, Store, UserRecord } from './store/types.js';
import { TokenService, type Clock } from './tokens/token-service.js';

/** A request whose body is still a stream (Node's request, a web `Request.body`): `handleStream` reads it. */
export interface StreamingRequest extends Omit<CoreRequest, 'rawBody'> {
  body: BodySource | null | undefined;
}

/** What `authorize` decides: the authentication to attach, or the answer to send instead (401, 403, 503). */
export type Authorization<U> = { auth: Authentication<U> | null; response?: undefined } | { auth?: undefined; response: CoreResponse };

/** Everything `createRestJwt` takes. Only `store` is required. */
export interface RestJwtOptions {
  /** Users and tokens (memory, SQLite, …). */
  store: Store;
  /** Settings in restjwt's camelCase names or simplejwt's SIMPLE_JWT names. */
  settings?: SettingsInput | Readonly<Record<string, unknown>>;
  /** Defaults to argon2id with OWASP parameters. */
  hasher?: PasswordHasher;
  hooks?: Hooks;
  /**
   * Receives structured events (login, logout, refusals; at construction, `rotation_without_blacklist` at `warn` when
   * rotation is on without blacklisting); never tokens or passwords.
   */
  log?: (event: LogEvent) => void;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: Clock;
  /** More verifying keys (a retired signing key during rotation). */
  extraVerifyingKeys?: readonly ExtraVerifyKey[];
  /**
   * Where the token endpoints are served: the whole path, starting and ending with "/". Default `/api/` (so
   * `/api/token/`, `/api/token/refresh/`, …). Adapters mount the endpoints here, and in cookie mode the refresh
   * cookie's path is below it (`{prefix}token/`), so that the browser sends it to the token endpoints only.
   */
  prefix?: string;
  /**
   * Counters for login throttling, required when `loginThrottle` is on: `createMemoryRateCounter()` from
   * `@restjwt/core/memory` for one process, the Redis counter from `@restjwt/redis` for several.
   */
  rateCounter?: RateCounter;
  /**
   * Told what each token endpoint answered and in how long, how each guarded request was decided, and every logged
   * event, and may wrap each token endpoint's work (`aroundEndpoint`): for metrics (`createPrometheusMetrics` from
   * `@restjwt/metrics`) or OpenTelemetry spans (`createTracing`, same package), both through `combineObservers`. Never
   * given a token, a password, a username or an address.
   */
  observer?: Observer;
  /**
   * Second factors (`createMfa(…).secondFactor` from `@restjwt/mfa`): a login of a user with a confirmed factor answers
   * `{"mfa_required", "mfa_token", "methods"}` instead of tokens, `token/mfa/` finishes it, and tokens carry `amr` and
   * `auth_time`. Needs a store with one-time values. Off by default: the wire format is simplejwt's.
   */
  secondFactor?: SecondFactor;
}

/** The construction-time warning for rotation without blacklisting (`rotation_without_blacklist`). */
const ROTATION_WITHOUT_BLACKLIST =
  'rotateRefreshTokens is on but blacklistAfterRotation is off: an old refresh token keeps working after rotation, until it ' +
  'expires (simplejwt behaves the same). Set blacklistAfterRotation: true so that a rotated-out token is refused.';

const SUCCESS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...BASE_HEADERS,
  Allow: 'POST, OPTIONS',
  // Token responses must not be cached (RFC 6749 §5.1).
  'Cache-Control': 'no-store',
});

/**
 * The framework-neutral service: settings, keys, token service and store, built and validated once.
 * Adapters call `handle` for token endpoints and `authenticate` for protected routes.
 */
export class RestJwt {
  readonly settings: Settings;
  readonly keys: Keyset;
  readonly tokens: TokenService;
  readonly store: Store;
  /** The token endpoints this service answers: every one, `token/mfa/` only with second factors on. */
  readonly endpoints: readonly EndpointSpec[];
  /** Settings names that were accepted but have no effect here (reported at start-up). */
  readonly ignoredSettings: readonly string[];
  private readonly ctx: HandlerContext;
  private readonly catalogues: Readonly<Record<string, Catalogue>>;
  private readonly scheme: string;
  /** The store's synchronous user lookup, when it has one (memory, SQLite): guarded requests then await nothing. */
  private readonly lookUpNow: UserLookupNow | undefined;
  private readonly observer: Observer | undefined;
  /** Where the token endpoints are served ({@link RestJwtOptions.prefix}); the refresh cookie's path is below it. */
  readonly prefix: string;

  constructor(options: RestJwtOptions) {
    const { settings, ignored } = resolveSettings(options.settings ?? {});
    this.settings = settings;
    this.ignoredSettings = ignored;
    this.prefix = checkPrefix(options.prefix ?? '/api/');
    if (options.secondFactor !== undefined) oneTimeOf(options.store);
    this.endpoints = options.secondFactor === undefined ? ENDPOINTS.filter((e) => e.needsSecondFactor !== true) : ENDPOINTS;
    this.keys = buildKeyset(settings, options.extraVerifyingKeys);
    const remote = settings.jwkUrl === undefined ? undefined : new RemoteKeys(settings.jwkUrl, settings.algorithm);
    this.tokens = new TokenService(settings, this.keys, options.clock ?? Date.now, remote);
    this.store = options.store;
    this.lookUpNow = immediateUserLookup(options.store);
    this.observer = options.observer;
    const log = options.log ?? (() => {});
    const observed = options.observer?.event?.bind(options.observer);
    this.catalogues = Object.fromEntries(settings.locales.map((l) => [l, builtinCatalogues[l] ?? en]));
    this.scheme = settings.authHeaderTypes[0] ?? 'Bearer';
    this.ctx = Object.freeze({
      settings,
      tokens: this.tokens,
      store: options.store,
      hasher: options.hasher ?? createPasswordHasher(),
      hooks: options.hooks ?? {},
      log: observed === undefined ? log : (event: LogEvent) => (log(event), notify(() => observed(event))),
      ...(settings.loginThrottle === false ? {} : { throttle: new LoginThrottle(requireCounter(options.rateCounter), settings.loginThrottle) }),
      ...(options.secondFactor === undefined ? {} : { secondFactor: options.secondFactor }),
    });
    if (settings.rotateRefreshTokens && !settings.blacklistAfterRotation) {
      // simplejwt allows it too; said once, so that nobody believes rotation retires the token it replaces.
      this.ctx.log({ event: 'rotation_without_blacklist', level: 'warn', reason: ROTATION_WITHOUT_BLACKLIST });
    }
  }

  /**
   * Issues a pair for `user`, whom another authority authenticated (social login): the same path as a password
   * login after its check — recorded, session started with `meta`'s address and user agent, hooks applied, logged,
   * and audited as a `login` whose `method` is `method` (the provider's name, say).
   */
  issuePair(user: UserRecord, meta: RequestMeta, method = 'password', amr: readonly string[] = method === 'password' ? ['pwd'] : []): Promise<{ refresh: string; access: string }> {
    return issuePair(this.ctx, user, meta, { method, amr });
  }

  /**
   * {@link RestJwt.issuePair} for a login whose first step another authority checked (social sign-in), unless the user
   * has a second factor: then the step to finish at `token/mfa/` (`{"mfa_required", "mfa_token", "methods"}`), as
   * `POST token/` answers after a password.
   */
  async signIn(user: UserRecord, meta: RequestMeta, method: string, amr: readonly string[] = []): Promise<{ refresh: string; access: string } | MfaStep> {
    if (!this.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
    return (await secondStep(this.ctx, user, 'refresh', { method, amr })) ?? issuePair(this.ctx, user, meta, { method, amr });
  }

  /** Writes a structured event to the configured log (extensions log through the same sink as the core). */
  log(event: LogEvent): void {
    this.ctx.log(event);
  }

  /** The login throttle, when `loginThrottle` is on (extensions that log users in count their failures too). */
  get throttle(): LoginThrottle | undefined {
    return this.ctx.throttle;
  }

  /** The password hasher in use (for user management: CLI, admin). */
  get hasher(): PasswordHasher {
    return this.ctx.hasher;
  }

  /** The message catalogue for a request's Accept-Language. */
  catalogueFor(headers: Readonly<Record<string, string | undefined>>): Catalogue {
    const locale = negotiateLocale(headers['accept-language'], this.settings.locales, 'en');
    return this.catalogues[locale] ?? en;
  }

  /** Answers one token endpoint: method check, body parsing, the handler, and errors as simplejwt renders them. */
  async handle(name: EndpointName, req: CoreRequest): Promise<CoreResponse> {
    const spec = this.endpoints.find((e) => e.name === name);
    if (spec === undefined) throw new Error(`Unknown endpoint "${name}"`);
    const observer = this.observer;
    // Without an observer that times or wraps endpoints, nothing is measured.
    if (observer === undefined || (observer.endpoint === undefined && observer.aroundEndpoint === undefined)) return this.answer(spec, req);
    // The hook is given the observation only; the answer (tokens) stays in `answered`.
    const answered: { res?: CoreResponse } = {};
    if (observer.aroundEndpoint === undefined) await this.observed(observer, spec, req, answered);
    else await runAroundEndpoint(observer, name, () => this.observed(observer, spec, req, answered));
    return answered.res as CoreResponse;
  }

  /** `answer` into `answered`, timed and told to the observer's `endpoint`; resolves with what it was told. */
  private async observed(observer: Observer, spec: EndpointSpec, req: CoreRequest, answered: { res?: CoreResponse }): Promise<EndpointObservation> {
    const started = performance.now();
    const res = await this.answer(spec, req);
    const seconds = (performance.now() - started) / 1000;
    const observation: EndpointObservation = { endpoint: spec.name, status: res.status, code: res.status >= 400 ? errorCode(res.body) : stepCode(res.body), seconds };
    answered.res = res;
    if (observer.endpoint !== undefined) notify(() => observer.endpoint?.(observation));
    return observation;
  }

  private async answer(spec: EndpointSpec, req: CoreRequest): Promise<CoreResponse> {
    try {
      if (req.method === 'OPTIONS') return this.options(spec);
      if (req.method !== 'POST') throw new MethodNotAllowed(req.method, ['POST', 'OPTIONS']);
      const data = parseBody(req.headers['content-type'], req.rawBody, this.settings.maxBodyBytes);
      const cookies = this.settings.cookieMode !== 'off';
      if (cookies && spec.readsRefreshCookie === true && !Object.hasOwn(data, 'refresh')) {
        const refresh = authCookies(req.headers, this.settings).refresh;
        if (refresh !== undefined && refresh !== '') {
          // The browser attaches this cookie to forged requests too: the CSRF check makes it the page's own request.
          checkCsrf(req.headers, this.settings);
          data.refresh = refresh;
        }
      }
      const address = clientAddress(req.ip, req.headers['x-forwarded-for'], this.settings.trustedProxies);
      const body = await spec.run(this.ctx, data, { address, headers: req.headers });
      if (!cookies) return { status: 200, headers: { ...SUCCESS_HEADERS }, body };
      if (spec.cookies === 'clear') return { status: 200, headers: { ...SUCCESS_HEADERS }, body, cookies: clearingCookies(this.settings, this.prefix) };
      const moved = spec.cookies === 'set' ? tokensToCookies(this.settings, this.prefix, body) : { body, cookies: [] };
      return { status: 200, headers: { ...SUCCESS_HEADERS }, body: moved.body, cookies: moved.cookies };
    } catch (err) {
      const res = this.errorResponse(err, req.headers);
      const clears = this.settings.cookieMode !== 'off' && spec.clearsCookiesOn401 === true && res.status === 401;
      return clears ? { ...res, cookies: clearingCookies(this.settings, this.prefix) } : res;
    }
  }

  /**
   * `handle` for a body that is still a stream: reads it as text within `maxBodyBytes` (413 beyond, without
   * reading the rest), then answers as `handle` does. Only POST bodies are read; other methods are refused unread.
   */
  async handleStream(name: EndpointName, req: StreamingRequest): Promise<CoreResponse> {
    let rawBody: string | undefined;
    try {
      rawBody = req.method === 'POST' ? await readRawBody(req.body, req.headers, this.settings.maxBodyBytes) : undefined;
    } catch (err) {
      return this.errorResponse(err, req.headers);
    }
    return this.handle(name, { method: req.method, headers: req.headers, rawBody, ip: req.ip });
  }

  /**
   * The token endpoints for adapters to mount, under {@link RestJwt.prefix} unless an adapter was given another
   * `prefix`. Another one works without cookies only: in cookie mode the refresh cookie's path is below
   * {@link RestJwt.prefix}, where the browser would never send it to endpoints mounted elsewhere, so a different
   * `prefix` is a ConfigurationError. Changes nothing: the same call always answers the same.
   */
  routes(prefix: string = this.prefix): TokenRoute[] {
    if (prefix !== this.prefix && this.settings.cookieMode !== 'off') {
      throw new ConfigurationError(
        `The token endpoints are being mounted under "${prefix}", but createRestJwt's prefix is "${this.prefix}", which the ` +
          `cookies' path follows (cookieMode "${this.settings.cookieMode}"). Pass prefix: "${prefix}" to createRestJwt and ` +
          "leave it out of the adapter's options.",
      );
    }
    return tokenRoutes(this.endpoints, prefix);
  }

  /**
   * Authenticates a request (JWTAuthentication, or JWTStatelessUserAuthentication with `{ stateless: true }`): null
   * when anonymous, the user and token when valid; throws an `ApiError` (401, or 503 when the store is down)
   * otherwise. Render it with `errorResponse`.
   */
  async authenticate<S extends boolean = false>(headers: HeaderMap, options: AuthenticateOptions<S> = {}): Promise<Authentication<AuthUser<S>> | null> {
    try {
      return (await authenticateNow(headers, this.tokens, this.store, options, this.lookUpNow)) as Authentication<AuthUser<S>> | null;
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw new ServiceUnavailable('store_unavailable', 1);
      throw err;
    }
  }

  /**
   * Authenticates, then applies the policy's permissions: what an adapter's guard does. Refusals (401 with
   * `WWW-Authenticate`, 403, 503) come back as the response to send, rendered here; anything else (a bug in a
   * permission, say) is thrown for the framework's own error handling.
   */
  authorize<U>(headers: HeaderMap, policy: AccessPolicy<U>, method?: string): Promise<Authorization<U>> {
    try {
      return Promise.resolve(this.authorizeNow(headers, policy, method));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * {@link RestJwt.authorize}'s decision itself when nothing must be awaited (local keys, no revocation lookup, and a
   * stateless policy or a store that answers user lookups at once: memory, SQLite), else its promise; throws what
   * that promise would reject with. For adapters whose framework takes a callback: a guarded request then allocates
   * no promise and waits for no microtask turn.
   */
  authorizeNow<U>(headers: HeaderMap, policy: AccessPolicy<U>, method?: string): Authorization<U> | Promise<Authorization<U>> {
    const decided = this.decide(headers, policy, method);
    if (this.observer?.authentication === undefined) return decided;
    return decided instanceof Promise ? decided.then((result) => this.reported(result)) : this.reported(decided);
  }

  /** Tells the observer how a guarded request was decided; returns the decision. */
  private reported<U>(result: Authorization<U>): Authorization<U> {
    const outcome = result.response !== undefined ? (errorCode(result.response.body) ?? 'refused') : result.auth === null ? 'anonymous' : 'authenticated';
    const status = result.response?.status ?? 200;
    notify(() => this.observer?.authentication?.({ outcome, status }));
    return result;
  }

  private decide<U>(headers: HeaderMap, policy: AccessPolicy<U>, method: string | undefined): Authorization<U> | Promise<Authorization<U>> {
    let found;
    try {
      found = authenticateNow(headers, this.tokens, this.store, { stateless: policy.stateless, method }, this.lookUpNow);
    } catch (err) {
      return this.refusal<U>(err, headers);
    }
    return found instanceof Promise
      ? found.then(
          (auth) => this.permitted(auth as Authentication<U> | null, policy, headers),
          (err: unknown) => this.refusal<U>(err, headers),
        )
      : this.permitted(found as Authentication<U> | null, policy, headers);
  }

  /** The policy's permissions applied to an authentication: it, or the refusal to send. */
  private permitted<U>(auth: Authentication<U> | null, policy: AccessPolicy<U>, headers: HeaderMap): Authorization<U> {
    try {
      checkPermissions(auth, policy.permissions);
    } catch (err) {
      return this.refusal<U>(err, headers);
    }
    return { auth };
  }

  /** A refusal as the response to send (401, 403, 503); anything that is not an ApiError is rethrown. */
  private refusal<U>(err: unknown, headers: HeaderMap): Authorization<U> {
    const refusal = err instanceof StoreUnavailableError ? new ServiceUnavailable('store_unavailable', 1) : err;
    if (refusal instanceof ApiError) return { response: this.errorResponse(refusal, headers) };
    throw err;
  }

  /** Any error as a response: ApiErrors as their wire body; store outages as 503; anything else 500, logged. */
  errorResponse(err: unknown, headers: Readonly<Record<string, string | undefined>>): CoreResponse {
    const catalogue = this.catalogueFor(headers);
    if (err instanceof ApiError) return renderError(err, catalogue, this.scheme);
    if (err instanceof StoreUnavailableError) {
      this.ctx.log({ event: 'store_unavailable', level: 'error', reason: err.message });
      return renderError(new ServiceUnavailable('store_unavailable', 1), catalogue, this.scheme);
    }
    this.ctx.log({ event: 'server_error', level: 'error', reason: err instanceof Error ? `${err.name}: ${err.message}` : 'unknown' });
    return { status: 500, headers: { ...BASE_HEADERS }, body: { detail: render(catalogue, { key: 'server_error' }), code: 'server_error' } };
  }

  /** DRF's OPTIONS metadata, trimmed to what is true here. */
  private options(spec: EndpointSpec): CoreResponse {
    const fields = requestFields(spec, this.settings);
    return {
      status: 200,
      headers: { ...SUCCESS_HEADERS },
      body: {
        name: spec.title,
        renders: ['application/json'],
        parses: ['application/json', 'application/x-www-form-urlencoded'],
        actions: {
          POST: Object.fromEntries([
            ...fields.map((f) => [f, { type: 'string', required: true }]),
            ...optionalRequestFields(spec, this.settings).map((f) => [f, { type: 'string', required: false }]),
          ]),
        },
      },
    };
  }
}

function checkPrefix(prefix: string): string {
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new ConfigurationError(`prefix must start and end with "/", got "${prefix}"`);
  return prefix;
}

function requireCounter(counter: RateCounter | undefined): RateCounter {
  if (counter === undefined) {
    throw new ConfigurationError(
      'loginThrottle is on but no rateCounter was given: pass createMemoryRateCounter() from "@restjwt/core/memory" (one process) or the Redis counter from "@restjwt/redis" (several).',
    );
  }
  return counter;
}

/** Builds the service; throws `ConfigurationError` with a clear message for bad settings or keys. */
export function createRestJwt(options: RestJwtOptions): RestJwt {
  return new RestJwt(options);
}

/** An error body's `code`, when it has one. */
function errorCode(body: unknown): string | null {
  const code = (body as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

/** `mfa_required` for a login answered with its second step (the metrics' "mfa step"); null for any other success. */
function stepCode(body: unknown): string | null {
  return (body as { mfa_required?: unknown } | null)?.mfa_required === true ? 'mfa_required' : null;
}
