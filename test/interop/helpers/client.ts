/**
 * One HTTP client for both servers, so that restjwt and the Django peer receive byte-identical requests.
 */
import { createHmac } from 'node:crypto';
import { answer, type Answer } from '../../helpers/server.js';

export { claimsOf, headerOf, type Answer } from '../../helpers/server.js';

/** The Authorization header for a Bearer token. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

export interface Client {
  url: string;
  send(method: string, path: string, init?: { body?: string; headers?: Record<string, string> }): Promise<Answer>;
  /** POST with a JSON body (a string body is sent as is, still labelled application/json). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
  get(path: string, headers?: Record<string, string>): Promise<Answer>;
  /** Logs in and returns the pair; throws when the login fails. */
  login(username: string, password: string): Promise<{ access: string; refresh: string }>;
}

export function client(url: string): Client {
  const send: Client['send'] = async (method, path, init = {}) =>
    answer(await fetch(url + path, { method, body: init.body, headers: init.headers, redirect: 'manual' }));
  const c: Client = {
    url,
    send,
    post: (path, body, headers = {}) =>
      send('POST', path, { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }),
    get: (path, headers = {}) => send('GET', path, { headers }),
    async login(username, password) {
      const r = await c.post('/api/token/', { username, password });
      if (r.status !== 200) throw new Error(`login of ${username} at ${url} failed: ${r.status} ${r.text}`);
      return r.json as { access: string; refresh: string };
    },
  };
  return c;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64url');

/** An HS256/384/512 JWT over exactly this header and payload, as PyJWT would write it (compact JSON). */
export function hmacJwt(payload: Record<string, unknown>, key: string, alg: 'HS256' | 'HS384' | 'HS512' = 'HS256'): string {
  const input = `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${b64(JSON.stringify(payload))}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

/** An unsigned `alg: none` token. */
export function noneJwt(payload: Record<string, unknown>): string {
  return `${b64(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64(JSON.stringify(payload))}.`;
}

/** uuid4().hex-like jti. */
export function jti(): string {
  return crypto.randomUUID().replace(/-/g, '');
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
