/** The tokens a client holds. In cookie mode `refresh` is absent: it lives in an HttpOnly cookie. */
export interface TokenPair {
  access: string;
  refresh?: string;
}

/** Where the client keeps its tokens. Synchronous, like Web Storage. */
export interface TokenStorage {
  get(): TokenPair | null;
  set(pair: TokenPair | null): void;
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
