/** The tokens a client holds. In cookie mode `refresh` is absent: it lives in an HttpOnly cookie. */
export interface TokenPair {
  access: string;
  refresh?: string;
}

/** Where the client keeps its tokens. Synchronous, like Web Storage. */
export interface TokenStorage {
  get(): TokenPair | null;
  set(pair: TokenPair | null): void;
  /**
   * True when every tab reads the same tokens at once (Web Storage): a tab that waited for another's refresh sees
   * its tokens without waiting for the broadcast.
   */
  readonly shared?: boolean;
}

/** Tokens in this page's memory only (the default): nothing persists, other tabs learn of changes by broadcast. */
export function memoryStorage(): TokenStorage {
  let pair: TokenPair | null = null;
  return {
    get: () => pair,
    set: (p) => {
      pair = p;
    },
  };
}

/** The subset of Web Storage this needs (localStorage, sessionStorage, or a test double). */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Tokens in a Web Storage area shared by every tab of the origin. Convenient, but readable by any script on the
 * page: prefer cookie mode, where the refresh token never touches JavaScript.
 */
export function webStorage(area: WebStorageLike, key = 'restjwt.tokens'): TokenStorage {
  return {
    shared: true,
    get() {
      const raw = area.getItem(key);
      if (raw === null) return null;
      try {
        const p = JSON.parse(raw) as TokenPair;
        return typeof p.access === 'string' ? p : null;
      } catch {
        return null;
      }
    },
    set(pair) {
      if (pair === null) area.removeItem(key);
      else area.setItem(key, JSON.stringify(pair));
    },
  };
}

/**
 * Cookie mode (the server's `cookieMode: 'refresh'`): the refresh token lives in an HttpOnly cookie that JavaScript
 * never sees. This storage keeps only the access token (in memory, shared with other tabs by broadcast) and reads
 * the server's CSRF cookie, which the client echoes in `X-CSRF-Token` on the requests the refresh cookie
 * authenticates (refresh, logout).
 */
export interface CookieModeStorage extends TokenStorage {
  readonly kind: 'cookie';
  /** The CSRF cookie's value, or null when there is none (no session, or it expired). */
  csrfToken(): string | null;
}

export interface CookieStorageOptions {
  /**
   * Where to read the page's readable cookies (`name=value; …`). Default `document.cookie`; in Node, pass your
   * cookie jar's header for the API's origin.
   */
  cookies?: () => string;
  /**
   * The CSRF cookie's name(s), first match wins. Default `['__Host-restjwt-csrf', 'restjwt-csrf']`: the server's
   * names with and without `cookieSecure`.
   */
  csrfCookie?: string | readonly string[];
}

/** Reads one cookie from a `Cookie`-style string (`a=1; b=2`). */
export function readCookie(header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return null;
}

/**
 * The storage for cookie mode: see {@link CookieModeStorage}. A refresh token handed to `set` is dropped, so that
 * it is never kept by JavaScript even if a server sends one.
 */
export function cookieStorage(options: CookieStorageOptions = {}): CookieModeStorage {
  const names = options.csrfCookie === undefined ? ['__Host-restjwt-csrf', 'restjwt-csrf'] : typeof options.csrfCookie === 'string' ? [options.csrfCookie] : options.csrfCookie;
  const source =
    options.cookies ??
    (() => {
      const doc = (globalThis as { document?: { cookie?: unknown } }).document;
      return typeof doc?.cookie === 'string' ? doc.cookie : '';
    });
  let access: string | null = null;
  return {
    kind: 'cookie',
    get: () => (access === null ? null : { access }),
    set: (pair) => {
      access = pair === null ? null : pair.access;
    },
    csrfToken() {
      const jar = source();
      for (const name of names) {
        const value = readCookie(jar, name);
        if (value !== null && value !== '') return value;
      }
      return null;
    },
  };
}

/** Whether a storage is the cookie-mode one. */
export function isCookieStorage(storage: TokenStorage): storage is CookieModeStorage {
  return (storage as Partial<CookieModeStorage>).kind === 'cookie' && typeof (storage as Partial<CookieModeStorage>).csrfToken === 'function';
}
