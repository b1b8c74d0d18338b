/**
 * A minimal browser-like cookie jar for Node's fetch, for testing the client's cookie mode against the real server:
 * honours Path, Max-Age (deletion), HttpOnly (hidden from `documentCookie`), and records what each request sent.
 */
interface Cookie {
  name: string;
  value: string;
  path: string;
  httpOnly: boolean;
}

export interface SentRequest {
  path: string;
  method: string;
  body: string | undefined;
  headers: Headers;
  credentials: RequestInit['credentials'];
  /** The Cookie header the jar attached. */
  cookie: string;
}

export interface CookieJar {
  /** A fetch that sends and stores cookies (for one origin: tests talk to one server). */
  fetch: typeof fetch;
  /** What `document.cookie` would show: the cookies JavaScript may read (not HttpOnly), for every path. */
  documentCookie(): string;
  /** Every cookie, HttpOnly ones included, by name. */
  all(): Record<string, Cookie>;
  /** Every request sent through `fetch`. */
  sent: SentRequest[];
  set(name: string, value: string, path?: string, httpOnly?: boolean): void;
  delete(name: string): void;
}

function parseSetCookie(raw: string): { cookie: Cookie; expired: boolean } {
  const [pair = '', ...attrs] = raw.split(';');
  const eq = pair.indexOf('=');
  const cookie: Cookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), path: '/', httpOnly: false };
  let expired = false;
  for (const attr of attrs) {
    const [k = '', v = ''] = attr.split('=').map((x) => x.trim());
    const key = k.toLowerCase();
    if (key === 'path') cookie.path = v;
    else if (key === 'httponly') cookie.httpOnly = true;
    else if (key === 'max-age' && Number(v) <= 0) expired = true;
  }
  return { cookie, expired };
}

const pathMatches = (requestPath: string, cookiePath: string) =>
  requestPath === cookiePath || (requestPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'));

export function cookieJar(): CookieJar {
  const jar = new Map<string, Cookie>();
  const sent: SentRequest[] = [];
  const jarFetch: typeof fetch = async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    new Headers(init.headers).forEach((v, k) => headers.set(k, v));
    const cookie = [...jar.values()]
      .filter((c) => pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    if (cookie !== '') headers.set('cookie', cookie);
    sent.push({
      path: url.pathname,
      method: (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase(),
      body: typeof init.body === 'string' ? init.body : undefined,
      headers,
      credentials: init.credentials,
      cookie,
    });
    const res = await fetch(input instanceof Request ? input : url, { ...init, headers });
    for (const raw of res.headers.getSetCookie()) {
      const { cookie: c, expired } = parseSetCookie(raw);
      if (expired) jar.delete(c.name);
      else jar.set(c.name, c);
    }
    return res;
  };
  return {
    fetch: jarFetch,
    sent,
    documentCookie: () =>
      [...jar.values()]
        .filter((c) => !c.httpOnly)
        .map((c) => `${c.name}=${c.value}`)
        .join('; '),
    all: () => Object.fromEntries([...jar.values()].map((c) => [c.name, c])),
    set: (name, value, path = '/', httpOnly = false) => void jar.set(name, { name, value, path, httpOnly }),
    delete: (name) => void jar.delete(name),
  };
}
