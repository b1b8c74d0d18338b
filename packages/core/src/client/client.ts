import { decodeClaims, expiresAt } from './claims.js';
import { errorFromResponse, RestJwtClientError } from './errors.js';
import { defaultLock, type LockFn } from './lock.js';
import { isCookieStorage, memoryStorage, type CookieModeStorage, type TokenPair, type TokenStorage } from './storage.js';

export type ClientEventName = 'login' | 'logout' | 'refresh' | 'refreshfailed';

export interface ClientEventMap {
  login: { claims: Record<string, unknown> | null };
  refresh: { claims: Record<string, unknown> | null };
  /** The refresh token was refused: the session is over. */
  refreshfailed: { error: RestJwtClientError };
  /** `remote` when another tab logged out. */
  logout: { remote: boolean };
}

export interface RestJwtClientOptions {
  /**
   * The API's URL, e.g. `https://api.example.com`; `''` for the page's own origin in a browser (a relative baseUrl
   * such as `/backend` is resolved against the page's location). Relative paths given to {@link RestJwtClient.fetch}
   * are appended to it, as the token endpoints are (`baseUrl + prefix + 'token/'`).
   */
  baseUrl: string;
  /**
   * Origins besides the baseUrl's that may receive this client's credentials (`['https://files.example.com']`;
   * anything `new URL()` parses, reduced to its origin). The baseUrl's origin is always allowed. A request to any
   * other origin is sent as you gave it, without the `Authorization` header and without the `credentials:
   * 'include'` of cookie mode, and a 401 from it triggers no refresh. Default: none.
   */
  allowedOrigins?: readonly string[];
  /** Where the token endpoints are mounted. Default `/api/`. */
  prefix?: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /**
   * Default: memory (per tab, shared with other tabs by broadcast). `webStorage(localStorage)` survives reloads;
   * `cookieStorage()` is for servers in cookie mode, where the refresh token never touches JavaScript.
   */
  storage?: TokenStorage;
  /**
   * Refresh this many seconds before the access token expires. Default 30. Never more than half the token's
   * lifetime, so that short-lived tokens are not refreshed the moment they are issued.
   */
  refreshMarginSeconds?: number;
  /**
   * Refresh on a timer shortly before expiry (within the margin), even when no request is made: the session stays
   * warm and every tab sees fresh tokens. Default false: refresh lazily, when a request needs a token.
   */
  autoRefresh?: boolean;
  /** BroadcastChannel name for tab coordination; null to turn it off. Default `restjwt`. */
  channel?: string | null;
  /** Default: Web Locks across tabs when available, else a mutex within this page/process. */
  lock?: LockFn;
  /** Milliseconds since the epoch. Injectable for tests. */
  now?: () => number;
}

/** A URL with a scheme (`https:`, `data:`…): not resolved against baseUrl. */
const ABSOLUTE_URL = /^[a-z][a-z\d+.-]*:/i;

/** The page's address in a browser (`location.href`), undefined elsewhere. */
const pageLocation = (): string | undefined => (globalThis as { location?: { href?: string } }).location?.href;

/** `baseUrl` as an absolute URL without a trailing slash (resolved against the page when relative), or null. */
function absoluteRoot(baseUrl: string): string | null {
  const page = pageLocation();
  if (!ABSOLUTE_URL.test(baseUrl) && page === undefined) return null;
  let url: URL;
  try {
    url = new URL(baseUrl === '' ? '/' : baseUrl, page);
  } catch {
    throw new RestJwtClientError(0, 'invalid_url', `baseUrl ${JSON.stringify(baseUrl)} is not a URL.`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The origin of an `allowedOrigins` entry. */
function originOf(value: string): string {
  let origin: string;
  try {
    origin = new URL(value).origin;
  } catch {
    origin = 'null';
  }
  // Opaque origins (`data:`, `file:`, typos without a scheme) would match nothing, or everything of their kind.
  if (origin === 'null') throw new RestJwtClientError(0, 'invalid_url', `allowedOrigins: ${JSON.stringify(value)} is not an http(s) origin.`);
  return origin;
}

/** A monotonic clock in milliseconds (for measuring waits, not for expiry: see `now`). */
const clock = (): number => (globalThis as { performance?: { now(): number } }).performance?.now() ?? Date.now();

type Listener<E extends ClientEventName> = (event: ClientEventMap[E]) => void;

type Message = { type: 'tokens'; pair: TokenPair } | { type: 'logout' };

/** The part of BroadcastChannel used here (browsers and Node have it; typed structurally to need no DOM lib). */
interface ChannelLike {
  postMessage(message: Message): void;
  close(): void;
  onmessage: ((event: { data: Message }) => void) | null;
}
type ChannelConstructor = new (name: string) => ChannelLike;

/**
 * A fetch-based client for restjwt (and simplejwt) servers, for browsers and Node, with no dependencies.
 *
 * - `fetch()` resolves relative paths against `baseUrl`, adds `Authorization: Bearer …` (only for the baseUrl's
 *   origin and `allowedOrigins`), refreshes shortly before the access token expires, and once more when the server
 *   answers 401, then retries the request once.
 * - One refresh in flight at a time however many requests wait on it (single flight), and one across tabs: the
 *   refresh runs under a lock, and a tab that finds fresh tokens written by another tab uses them instead of
 *   spending its (rotated, now blacklisted) refresh token.
 * - With `cookieStorage()` (server `cookieMode: 'refresh'`), the refresh token stays in its HttpOnly cookie:
 *   token requests, and `fetch()` requests to allowed origins, are sent with `credentials: 'include'`, refresh and logout with an empty body and the
 *   `X-CSRF-Token` header copied from the server's CSRF cookie.
 */
/** A second factor the server accepts for an open login step. */
export type MfaMethodName = 'totp' | 'webauthn' | 'recovery';

/** What {@link RestJwtClient.login} did: signed in, or stopped at the second step. */
export type LoginResult = { readonly mfaRequired: false } | { readonly mfaRequired: true; readonly mfaToken: string; readonly methods: readonly MfaMethodName[] };

export class RestJwtClient {
  private readonly base: string;
  /** `baseUrl` made absolute, without a trailing slash; null when it is relative and there is no page to resolve it. */
  private readonly root: string | null;
  /** The origins that get the token (and, in cookie mode, the cookies): the baseUrl's and `allowedOrigins`. */
  private readonly allowed: ReadonlySet<string>;
  private readonly doFetch: typeof fetch;
  private readonly storage: TokenStorage;
  private readonly cookie: CookieModeStorage | null;
  private readonly margin: number;
  private readonly autoRefresh: boolean;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Seconds an access token lives, learned from the last one received (`exp` minus its arrival). Not `exp - iat`:
   * simplejwt's refreshed access tokens keep the refresh token's `iat`.
   */
  private lifetime: number | null = null;
  private readonly lock: LockFn;
  private readonly now: () => number;
  private readonly channel: ChannelLike | null;
  private readonly listeners = new Map<ClientEventName, Set<Listener<ClientEventName>>>();
  private inflight: Promise<TokenPair> | null = null;
  /** Cookie mode: the CSRF cookie of a session this client saw end (its cookies may outlive it, e.g. offline). */
  private deadCsrf: string | null = null;
  /**
   * Whether this client knows its session is over. Shared storage is cleared by the tab that logs out before the
   * others hear of it, so "no tokens" alone cannot tell whether a remote logout ended a session here.
   */
  private ended: boolean;

  constructor(options: RestJwtClientOptions) {
    const prefix = options.prefix ?? '/api/';
    this.base = `${options.baseUrl.replace(/\/$/, '')}${prefix}`;
    this.root = absoluteRoot(options.baseUrl);
    this.allowed = new Set([...(this.root !== null ? [new URL(this.root).origin] : []), ...(options.allowedOrigins ?? []).map(originOf)]);
    this.doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
    this.storage = options.storage ?? memoryStorage();
    this.cookie = isCookieStorage(this.storage) ? this.storage : null;
    this.margin = options.refreshMarginSeconds ?? 30;
    this.autoRefresh = options.autoRefresh ?? false;
    this.lock = options.lock ?? defaultLock();
    this.now = options.now ?? Date.now;
    const name = options.channel === undefined ? 'restjwt' : options.channel;
    const Channel = (globalThis as unknown as { BroadcastChannel?: ChannelConstructor }).BroadcastChannel;
    this.channel = name !== null && Channel !== undefined ? new Channel(name) : null;
    if (this.channel !== null) this.channel.onmessage = (e) => this.onMessage(e.data);
    // In Node an open BroadcastChannel keeps the process alive: a script that logs in and fetches would never exit.
    (this.channel as { unref?: () => void } | null)?.unref?.();
    this.ended = !this.loggedIn;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends ClientEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<ClientEventName>);
    return () => set.delete(listener as Listener<ClientEventName>);
  }

  /**
   * Whether the client holds tokens (they may still be refused by the server). In cookie mode, also true when only
   * the session cookies are there (after a reload): {@link resume} turns them into an access token.
   */
  get loggedIn(): boolean {
    return this.storage.get() !== null || this.liveCsrf() !== null;
  }

  /** The current access token's claims (not verified: for display). */
  get claims(): Record<string, unknown> | null {
    const pair = this.storage.get();
    return pair === null ? null : decodeClaims(pair.access);
  }

  /** Seconds since the epoch at which the current access token expires, or null. */
  get expiresAt(): number | null {
    const pair = this.storage.get();
    return pair === null ? null : expiresAt(pair.access);
  }

  /**
   * Logs in with credentials (`{username, password}`, or the server's username field). A user with a second factor
   * gets no tokens yet: the result says `mfaRequired`, with the step's `mfaToken` and the `methods` it accepts; finish
   * with {@link RestJwtClient.completeMfa}.
   */
  async login(credentials: Readonly<Record<string, string>>): Promise<LoginResult> {
    return this.signIn('token/', credentials);
  }

  /**
   * The second step of a login that answered `mfaRequired`: an authenticator app's `{ code }`, a `{ recoveryCode }`,
   * or a `{ webauthn }` assertion (what `navigator.credentials.get` gave for the options of
   * {@link RestJwtClient.mfaChallenge}, as JSON). Signs in like `login`; rejects with the server's error (401
   * `mfa_code_invalid` for a wrong code, `mfa_token_invalid` once the step is spent or expired: log in again).
   */
  async completeMfa(mfaToken: string, proof: { code: string } | { recoveryCode: string } | { webauthn: unknown }): Promise<void> {
    const body = 'code' in proof ? { code: proof.code } : 'recoveryCode' in proof ? { recovery_code: proof.recoveryCode } : { webauthn: proof.webauthn };
    const result = await this.signIn('token/mfa/', { mfa_token: mfaToken, ...body });
    if (result.mfaRequired) throw new RestJwtClientError(200, 'invalid_response', 'The second step answered another step instead of tokens.', result);
  }

  /**
   * Takes a pair the server answered to another call — adding or removing a second factor (which ends the other
   * sessions and answers a fresh pair), a passkey-only sign-in — as `login` takes its own: stored, shared with the other
   * tabs, refreshed before it expires, `login` emitted. In cookie mode the refresh token is in its cookie already.
   *
   * @throws RestJwtClientError (`invalid_response`) when `answer` has no access token.
   */
  adoptTokens(answer: { readonly access?: unknown; readonly refresh?: unknown }): void {
    if (typeof answer.access !== 'string') throw new RestJwtClientError(200, 'invalid_response', 'The answer has no access token to adopt.', answer);
    const pair: TokenPair = typeof answer.refresh === 'string' ? { access: answer.access, refresh: answer.refresh } : { access: answer.access };
    this.deadCsrf = null;
    this.store(pair);
    this.emit('login', { claims: decodeClaims(pair.access) });
  }

  /** The challenge of `method` for an open second step (WebAuthn: the options for `navigator.credentials.get`). */
  async mfaChallenge(mfaToken: string, method: 'webauthn'): Promise<Record<string, unknown>> {
    const res = await this.post('token/mfa/', { mfa_token: mfaToken, method });
    if (!res.ok) throw await errorFromResponse(res);
    const body = (await res.json()) as Record<string, unknown>;
    const options = body[method];
    if (options === null || typeof options !== 'object') throw new RestJwtClientError(res.status, 'invalid_response', `The answer has no ${method} challenge.`, body);
    return options as Record<string, unknown>;
  }

  /** Posts a sign-in (`token/`, `token/mfa/`) and keeps the tokens it answers, or answers the second step asked for. */
  private async signIn(path: string, request: Readonly<Record<string, unknown>>): Promise<LoginResult> {
    const res = await this.post(path, request);
    if (!res.ok) throw await errorFromResponse(res);
    const answer = (await res.json()) as { access?: unknown; refresh?: unknown; mfa_required?: unknown; mfa_token?: unknown; methods?: unknown };
    if (answer.mfa_required === true && typeof answer.mfa_token === 'string') {
      const methods = Array.isArray(answer.methods) ? answer.methods.filter((m): m is MfaMethodName => m === 'totp' || m === 'webauthn' || m === 'recovery') : [];
      return { mfaRequired: true, mfaToken: answer.mfa_token, methods };
    }
    const body = answer;
    if (typeof body.access !== 'string') {
      const hint = this.cookie !== null ? " (a server in cookieMode 'both' keeps the access token from JavaScript: use 'refresh')" : '';
      throw new RestJwtClientError(res.status, 'invalid_response', `The login answer has no access token${hint}.`, body);
    }
    // In cookie mode the refresh token is in its cookie; cookieStorage drops one a server might still send.
    const pair: TokenPair = typeof body.refresh === 'string' ? { access: body.access, refresh: body.refresh } : { access: body.access };
    this.deadCsrf = null;
    this.store(pair);
    this.emit('login', { claims: decodeClaims(pair.access) });
    return { mfaRequired: false };
  }

  /**
   * Resumes a session after a page load: refreshes when the stored access token is (about to be) expired, or, in
   * cookie mode, when only the refresh cookie is left. Resolves to whether the client is logged in; a refused or
   * missing session is `false`, an unreachable server rejects.
   */
  async resume(): Promise<boolean> {
    if (!this.loggedIn) return false;
    try {
      const access = await this.accessToken();
      // Tokens found in storage at load were never stored by this client: arm the timer for them too.
      if (this.timer === null) this.schedule(access);
      return true;
    } catch (err) {
      if (err instanceof RestJwtClientError && (err.status === 400 || err.status === 401)) return false;
      throw err;
    }
  }

  /** Logs out: blacklists the refresh token on the server (best effort) and forgets the tokens in every tab. */
  async logout(): Promise<void> {
    const pair = this.storage.get();
    const csrf = this.liveCsrf();
    this.forget(false);
    // Cookie mode: the server reads the refresh token from its cookie, blacklists it and clears the cookies.
    const body = this.cookie !== null ? (csrf !== null ? {} : null) : pair?.refresh !== undefined ? { refresh: pair.refresh } : null;
    if (body === null) return;
    try {
      await this.post('token/blacklist/', body, csrf);
    } catch {
      // Offline: the tokens are gone from the client; the refresh token expires on its own.
    }
  }

  /**
   * "Log out everywhere": the server revokes every refresh token of the user (all devices and browsers), then this
   * client forgets its tokens in every tab. Rejects with the server's error when it refuses (the tokens are kept,
   * except when the refusal is a 401: the session was over anyway).
   */
  async logoutAll(): Promise<void> {
    let res: Response;
    try {
      // fetch() adds the cookie mode's credentials: the endpoint is under baseUrl.
      res = await this.fetch(`${this.base}token/logout-all/`, { method: 'POST', headers: this.jsonHeaders(this.liveCsrf()), body: '{}' });
    } catch (err) {
      if (err instanceof RestJwtClientError && err.status === 401) this.forget(false);
      throw err;
    }
    if (!res.ok) {
      if (res.status === 401) this.forget(false);
      throw await errorFromResponse(res);
    }
    this.forget(false);
  }

  /** A valid access token, refreshed first when it is about to expire. Throws `not_logged_in` without tokens. */
  async accessToken(): Promise<string> {
    const pair = this.storage.get();
    if (pair === null) {
      // Cookie mode after a reload: the refresh cookie is there, the access token is not (yet).
      if (this.liveCsrf() !== null) return (await this.refresh()).access;
      throw new RestJwtClientError(401, 'not_logged_in', 'Not logged in.');
    }
    const exp = expiresAt(pair.access);
    if (this.isStale(pair.access)) return (await this.refresh()).access;
    return pair.access;
  }

  /**
   * Refreshes now (single flight): concurrent callers share one request, and across tabs one refresh runs at a time.
   * Rejects, logs out and emits `refreshfailed` when the server refuses the refresh token.
   */
  refresh(): Promise<TokenPair> {
    if (this.inflight !== null) return this.inflight;
    const seen = this.storage.get();
    const asked = clock();
    this.inflight = this.lock('restjwt-refresh', async () => {
      // We waited for another holder (another tab, most likely refreshing): its broadcast may still be on its way,
      // and refreshing with the token it just rotated would look like reuse. Give the message time to arrive.
      if (this.channel !== null && this.storage.shared !== true && clock() - asked > 1) await new Promise((r) => setTimeout(r, 50));
      return this.refreshLocked(seen);
    }).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /**
   * `fetch` with the access token; refreshes before expiry and retries once after a 401. A retried request is
   * sent again with the same `init`: give a body that can be sent twice (a string, Blob, FormData…, not a stream).
   *
   * A relative path (`'/api/me/'`) is appended to `baseUrl`. The token is added only for the baseUrl's origin and
   * `allowedOrigins`; a request to another origin is sent without it (and without cookie mode's `credentials:
   * 'include'`), with your `init` as it is and no refresh. Sent rather than refused, so that one `fetch` can also
   * reach public resources elsewhere; a server that wanted the token answers 401, which says what to add to
   * `allowedOrigins`. A `Request` always has an absolute URL (a browser resolves it against the page, not
   * `baseUrl`): pass a path string to reach the API.
   */
  async fetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const isRequest = typeof Request !== 'undefined' && input instanceof Request;
    const target = isRequest ? (input as Request) : this.resolve(input as string | URL);
    const url = isRequest ? (input as Request).url : String(target);
    if (!this.allowed.has(new URL(url).origin)) return this.doFetch(target, init);
    const credentials = init.credentials ?? this.credentials;
    const send = (token: string) => {
      const headers = new Headers(isRequest ? (input as Request).headers : undefined);
      new Headers(init.headers).forEach((value, name) => headers.set(name, value));
      headers.set('Authorization', `Bearer ${token}`);
      // A Request's body can be read once: send a copy, keep the original for the retry.
      return this.doFetch(isRequest ? (input as Request).clone() : target, { ...init, headers, ...(credentials !== undefined ? { credentials } : {}) });
    };
    const token = await this.accessToken();
    const res = await send(token);
    if (res.status !== 401) return res;
    // The server refused a token we believed valid (revoked, clock skew, key rotation): refresh once and retry.
    const pair = this.storage.get();
    const fresh = pair !== null && pair.access !== token ? pair : await this.refresh();
    return send(fresh.access);
  }

  /** Stops listening to other tabs. */
  close(): void {
    this.channel?.close();
    this.schedule(null);
  }

  private async refreshLocked(seen: TokenPair | null): Promise<TokenPair> {
    const current = this.storage.get();
    const csrf = this.liveCsrf();
    if (current === null && csrf === null) throw new RestJwtClientError(401, 'not_logged_in', 'Not logged in.');
    // Another tab (or an earlier holder of the lock) refreshed while we waited: use its tokens.
    if (current !== null && current.access !== seen?.access) {
      if (!this.isStale(current.access)) return current;
    }
    // Cookie mode: an empty body, and the server takes the refresh token from its cookie (checking the CSRF header).
    const body = this.cookie !== null ? {} : current?.refresh !== undefined ? { refresh: current.refresh } : null;
    if (body === null) throw new RestJwtClientError(401, 'not_logged_in', 'No refresh token.');
    let res: Response;
    try {
      res = await this.post('token/refresh/', body, csrf);
    } catch (err) {
      throw new RestJwtClientError(0, 'network_error', err instanceof Error ? err.message : 'The server could not be reached.');
    }
    if (!res.ok) {
      const error = await errorFromResponse(res);
      // Only a refused token ends the session; a 5xx or 429 leaves the tokens for a later try. In cookie mode a 403
      // (CSRF) is a misconfiguration, not a dead session: it is reported, not turned into a logout.
      if (res.status === 401 || res.status === 400) {
        this.forget(false);
        this.emit('refreshfailed', { error });
      }
      throw error;
    }
    const answer = (await res.json()) as { access?: unknown; refresh?: unknown };
    if (typeof answer.access !== 'string') throw new RestJwtClientError(res.status, 'invalid_response', 'The refresh answer has no access token.', answer);
    const kept = current?.refresh;
    const pair: TokenPair = { access: answer.access, ...(typeof answer.refresh === 'string' ? { refresh: answer.refresh } : kept !== undefined ? { refresh: kept } : {}) };
    this.store(pair);
    this.emit('refresh', { claims: decodeClaims(pair.access) });
    return pair;
  }

  /** Cookie mode sends cookies to the API even cross-origin (and accepts the ones it sets); otherwise the default. */
  private get credentials(): RequestInit['credentials'] {
    return this.cookie !== null ? 'include' : undefined;
  }

  /** An absolute URL for `input`: a path joins `baseUrl` (not the page's origin, where the token must not go). */
  private resolve(input: string | URL): string | URL {
    if (typeof input !== 'string' || ABSOLUTE_URL.test(input)) return input;
    if (this.root === null) {
      throw new RestJwtClientError(0, 'invalid_url', `Cannot resolve ${JSON.stringify(input)}: baseUrl is relative and there is no page location (in Node, give an absolute baseUrl).`);
    }
    // Protocol-relative (`//host/…`) names a host: only the scheme comes from baseUrl.
    if (input.startsWith('//')) return new URL(input, this.root);
    return `${this.root}${input.startsWith('/') ? '' : '/'}${input}`;
  }

  private jsonHeaders(csrf: string | null): Record<string, string> {
    return { 'Content-Type': 'application/json', Accept: 'application/json', ...(csrf !== null ? { 'X-CSRF-Token': csrf } : {}) };
  }

  private post(path: string, body: unknown, csrf: string | null = null): Promise<Response> {
    const credentials = this.credentials;
    return this.doFetch(`${this.base}${path}`, {
      method: 'POST',
      headers: this.jsonHeaders(csrf),
      body: JSON.stringify(body),
      ...(credentials !== undefined ? { credentials } : {}),
    });
  }

  private store(pair: TokenPair): void {
    this.ended = false;
    this.learn(pair.access);
    this.storage.set(pair);
    this.channel?.postMessage({ type: 'tokens', pair } satisfies Message);
    this.schedule(pair.access);
  }

  /** Records how long tokens live, from one that just arrived. */
  private learn(access: string): void {
    const exp = expiresAt(access);
    if (exp !== null) this.lifetime = Math.max(0, exp - this.now() / 1000);
  }

  /**
   * The margin for this token: the configured one, at most half the tokens' lifetime (learned, or `exp - iat` for a
   * token found in storage before any arrived), so that short-lived tokens are not refreshed as soon as issued.
   */
  private marginFor(token: string): number {
    const claims = decodeClaims(token);
    const lifetime = this.lifetime ?? (typeof claims?.exp === 'number' && typeof claims.iat === 'number' ? claims.exp - claims.iat : Infinity);
    return Math.min(this.margin, Math.max(0, lifetime / 2));
  }

  /** Whether the token is expired or within its refresh margin. Tokens without `exp` never are. */
  private isStale(token: string): boolean {
    const exp = expiresAt(token);
    return exp !== null && exp - this.marginFor(token) <= this.now() / 1000;
  }

  /** With `autoRefresh`, (re)arms the timer that refreshes before `access` expires; null disarms it. */
  private schedule(access: string | null): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!this.autoRefresh || access === null) return;
    const exp = expiresAt(access);
    if (exp === null) return;
    // At least a second apart: a token that is stale on arrival (clock skew) must not start a refresh loop.
    const delay = Math.max(1000, (exp - this.marginFor(access)) * 1000 - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      // Failures are reported by events (refreshfailed, logout); a network error is retried at the next request.
      this.refresh().catch(() => undefined);
    }, delay);
    // Node: a pending refresh must not keep the process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private forget(remote: boolean): void {
    const had = this.loggedIn || !this.ended;
    this.storage.set(null);
    this.schedule(null);
    this.deadCsrf = this.cookie?.csrfToken() ?? null;
    this.ended = true;
    if (!remote) this.channel?.postMessage({ type: 'logout' } satisfies Message);
    if (had) this.emit('logout', { remote });
  }

  /** Cookie mode: the CSRF cookie, unless it belongs to a session that ended. Null otherwise. */
  private liveCsrf(): string | null {
    const csrf = this.cookie?.csrfToken() ?? null;
    return csrf !== null && csrf !== this.deadCsrf ? csrf : null;
  }

  private onMessage(message: Message): void {
    if (message.type === 'tokens') {
      this.ended = false;
      this.learn(message.pair.access);
      this.storage.set(message.pair);
      this.schedule(message.pair.access);
    } else if (!this.ended || this.storage.get() !== null) this.forget(true);
  }

  private emit<E extends ClientEventName>(event: E, payload: ClientEventMap[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<E>)(payload);
      } catch {
        // A listener's error must not break the client's own flow.
      }
    }
  }
}
