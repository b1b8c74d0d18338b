import { decodeClaims, expiresAt } from './claims.js';
import { errorFromResponse, RestJwtClientError } from './errors.js';
import { defaultLock, type LockFn } from './lock.js';
import { memoryStorage, type TokenPair, type TokenStorage } from './storage.js';

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
  /** The API origin, e.g. `https://api.example.com`; '' for same-origin in a browser. */
  baseUrl: string;
  /** Where the token endpoints are mounted. Default `/api/`. */
  prefix?: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Default: memory (per tab, shared with other tabs by broadcast). */
  storage?: TokenStorage;
  /** Refresh this many seconds before the access token expires. Default 30. */
  refreshMarginSeconds?: number;
  /** BroadcastChannel name for tab coordination; null to turn it off. Default `restjwt`. */
  channel?: string | null;
  /** Default: Web Locks across tabs when available, else a mutex within this page/process. */
  lock?: LockFn;
  /** Milliseconds since the epoch. Injectable for tests. */
  now?: () => number;
}

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
 * - `fetch()` adds `Authorization: Bearer …`, refreshes shortly before the access token expires, and once more
 *   when the server answers 401, then retries the request once.
 * - One refresh in flight at a time however many requests wait on it (single flight), and one across tabs: the
 *   refresh runs under a lock, and a tab that finds fresh tokens written by another tab uses them instead of
 *   spending its (rotated, now blacklisted) refresh token.
 */
export class RestJwtClient {
  private readonly base: string;
  private readonly doFetch: typeof fetch;
  private readonly storage: TokenStorage;
  private readonly margin: number;
  private readonly lock: LockFn;
  private readonly now: () => number;
  private readonly channel: ChannelLike | null;
  private readonly listeners = new Map<ClientEventName, Set<Listener<ClientEventName>>>();
  private inflight: Promise<TokenPair> | null = null;

  constructor(options: RestJwtClientOptions) {
    const prefix = options.prefix ?? '/api/';
    this.base = `${options.baseUrl.replace(/\/$/, '')}${prefix}`;
    this.doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
    this.storage = options.storage ?? memoryStorage();
    this.margin = options.refreshMarginSeconds ?? 30;
    this.lock = options.lock ?? defaultLock();
    this.now = options.now ?? Date.now;
    const name = options.channel === undefined ? 'restjwt' : options.channel;
    const Channel = (globalThis as unknown as { BroadcastChannel?: ChannelConstructor }).BroadcastChannel;
    this.channel = name !== null && Channel !== undefined ? new Channel(name) : null;
    if (this.channel !== null) this.channel.onmessage = (e) => this.onMessage(e.data);
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends ClientEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<ClientEventName>);
    return () => set.delete(listener as Listener<ClientEventName>);
  }

  /** Whether the client holds tokens (they may still be refused by the server). */
  get loggedIn(): boolean {
    return this.storage.get() !== null;
  }

  /** The current access token's claims (not verified: for display). */
  get claims(): Record<string, unknown> | null {
    const pair = this.storage.get();
    return pair === null ? null : decodeClaims(pair.access);
  }

  /** Logs in with credentials (`{username, password}`, or the server's username field). */
  async login(credentials: Readonly<Record<string, string>>): Promise<void> {
    const res = await this.post('token/', credentials);
    if (!res.ok) throw await errorFromResponse(res);
    const body = (await res.json()) as { access?: unknown; refresh?: unknown };
    if (typeof body.access !== 'string') throw new RestJwtClientError(res.status, 'invalid_response', 'The login answer has no access token.', body);
    const pair: TokenPair = typeof body.refresh === 'string' ? { access: body.access, refresh: body.refresh } : { access: body.access };
    this.store(pair);
    this.emit('login', { claims: decodeClaims(pair.access) });
  }

  /** Logs out: blacklists the refresh token on the server (best effort) and forgets the tokens in every tab. */
  async logout(): Promise<void> {
    const pair = this.storage.get();
    this.forget(false);
    if (pair?.refresh !== undefined) {
      try {
        await this.post('token/blacklist/', { refresh: pair.refresh });
      } catch {
        // Offline: the tokens are gone from the client; the refresh token expires on its own.
      }
    }
  }

  /** A valid access token, refreshed first when it is about to expire. Throws `not_logged_in` without tokens. */
  async accessToken(): Promise<string> {
    const pair = this.storage.get();
    if (pair === null) throw new RestJwtClientError(401, 'not_logged_in', 'Not logged in.');
    const exp = expiresAt(pair.access);
    if (exp !== null && exp - this.margin <= this.now() / 1000) return (await this.refresh()).access;
    return pair.access;
  }

  /**
   * Refreshes now (single flight): concurrent callers share one request, and across tabs one refresh runs at a time.
   * Rejects, logs out and emits `refreshfailed` when the server refuses the refresh token.
   */
  refresh(): Promise<TokenPair> {
    if (this.inflight !== null) return this.inflight;
    const seen = this.storage.get();
    this.inflight = this.lock('restjwt-refresh', () => this.refreshLocked(seen)).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** `fetch` with the access token; refreshes before expiry and retries once after a 401. */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const send = (token: string) => {
      const headers = new Headers(init.headers);
      headers.set('Authorization', `Bearer ${token}`);
      return this.doFetch(input, { ...init, headers });
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
  }

  private async refreshLocked(seen: TokenPair | null): Promise<TokenPair> {
    const current = this.storage.get();
    if (current === null) throw new RestJwtClientError(401, 'not_logged_in', 'Not logged in.');
    // Another tab (or an earlier holder of the lock) refreshed while we waited: use its tokens.
    if (seen !== null && current.access !== seen.access) {
      const exp = expiresAt(current.access);
      if (exp === null || exp - this.margin > this.now() / 1000) return current;
    }
    if (current.refresh === undefined) throw new RestJwtClientError(401, 'not_logged_in', 'No refresh token.');
    let res: Response;
    try {
      res = await this.post('token/refresh/', { refresh: current.refresh });
    } catch (err) {
      throw new RestJwtClientError(0, 'network_error', err instanceof Error ? err.message : 'The server could not be reached.');
    }
    if (!res.ok) {
      const error = await errorFromResponse(res);
      // Only a refused token ends the session; a 5xx or 429 leaves the tokens for a later try.
      if (res.status === 401 || res.status === 400) {
        this.forget(false);
        this.emit('refreshfailed', { error });
      }
      throw error;
    }
    const body = (await res.json()) as { access?: unknown; refresh?: unknown };
    if (typeof body.access !== 'string') throw new RestJwtClientError(res.status, 'invalid_response', 'The refresh answer has no access token.', body);
    const pair: TokenPair = { access: body.access, ...(typeof body.refresh === 'string' ? { refresh: body.refresh } : current.refresh !== undefined ? { refresh: current.refresh } : {}) };
    this.store(pair);
    this.emit('refresh', { claims: decodeClaims(pair.access) });
    return pair;
  }

  private post(path: string, body: unknown): Promise<Response> {
    return this.doFetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
  }

  private store(pair: TokenPair): void {
    this.storage.set(pair);
    this.channel?.postMessage({ type: 'tokens', pair } satisfies Message);
  }

  private forget(remote: boolean): void {
    const had = this.storage.get() !== null;
    this.storage.set(null);
    if (!remote) this.channel?.postMessage({ type: 'logout' } satisfies Message);
    if (had || remote) this.emit('logout', { remote });
  }

  private onMessage(message: Message): void {
    if (message.type === 'tokens') this.storage.set(message.pair);
    else if (this.storage.get() !== null) this.forget(true);
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
