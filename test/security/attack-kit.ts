/**
 * Shared tools of the attack suites (test/security/attacks-*.test.ts): crafting tokens byte by byte, and one
 * assertion that every refused attack left no trace: the status and error body, no token in the answer (body or
 * cookie), no stack trace or SQL in it, and the store (token rows and user rows) exactly as before.
 */
import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import { connect } from 'node:net';
import { expect } from 'vitest';
import type { Store } from '@restjwt/core';
import { signRaw } from '../../packages/core/src/jws/sign.js';
import type { Algorithm } from '../../packages/core/src/settings/types.js';
import { snapshot, type Answer, type TestApp } from '../helpers/server.js';

export type Kind = 'access' | 'refresh';

export const now = (): number => Math.floor(Date.now() / 1000);

/** base64url of text (UTF-8), bytes, or a JSON value. */
export function b64u(value: string | Buffer | Uint8Array | object): string {
  if (typeof value === 'string') return Buffer.from(value, 'utf8').toString('base64url');
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64url');
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export const randomJti = (): string => randomBytes(16).toString('hex');

/** A well-formed claim set of `kind` for user "1", valid for ten minutes, with a fresh jti. */
export function claims(kind: Kind | string, extra: Record<string, unknown> = {}, drop: readonly string[] = []): Record<string, unknown> {
  const p: Record<string, unknown> = { token_type: kind, exp: now() + 600, iat: now(), jti: randomJti(), user_id: '1', ...extra };
  for (const d of drop) delete p[d];
  return p;
}

/** `header.payload` from JSON values (or raw JSON text, taken as is). */
export function signingInput(header: object | string, payload: object | string): string {
  const enc = (v: object | string) => (typeof v === 'string' ? b64u(v) : b64u(v));
  return `${enc(header)}.${enc(payload)}`;
}

/** An HMAC signature (base64url) over `input` with any key material, as an attacker computes it. */
export function hmac(alg: 'HS256' | 'HS384' | 'HS512', material: string | Buffer, input: string): string {
  return createHmac(`sha${alg.slice(2)}`, material).update(input).digest('base64url');
}

/** A compact token with an arbitrary header, signed with a real key (ours or an attacker's) for `alg`. */
export function signWith(alg: Algorithm, key: KeyObject, header: object | string, payload: object | string): string {
  const input = signingInput(header, payload);
  return `${input}.${signRaw(alg, key, input).toString('base64url')}`;
}

/** Splits a compact token into its three segments. */
export function parts(token: string): [string, string, string] {
  const [h = '', p = '', s = ''] = token.split('.');
  return [h, p, s];
}

/** What the protected route answers for a token refused by every token class (here: access only). */
export const anyType = (message: string) => ({
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message }],
});
export const tokenError = (detail: string) => ({ detail, code: 'token_not_valid' });
export const INVALID = tokenError('Token is invalid');
export const EXPIRED = tokenError('Token is expired');
export const BLACKLISTED = tokenError('Token is blacklisted');
export const WRONG_TYPE = tokenError('Token has wrong type');
export const NO_USER_ID = tokenError('Token contained no recognizable user identification');
export const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' };
export const BAD_HEADER = { detail: 'Authorization header must contain two space-delimited values', code: 'bad_authorization_header' };
export const DUPLICATE_HEADER = { detail: 'The request has more than one Authorization header. Send exactly one.', code: 'duplicate_authorization_header' };
export const NO_ACCOUNT = { detail: 'No active account found with the given credentials', code: 'no_active_account' };

/** Everything an attack could change: token rows, and every user row (password hash, last login, token version…). */
export async function state(store: Store): Promise<string> {
  return `${await snapshot(store)}\n${JSON.stringify(await store.listUsers())}`;
}

/** A JWT-shaped string: three base64url runs joined by dots. */
const JWT_SHAPED = /[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/;
/** A JavaScript stack frame. */
const STACK_FRAME = /\n\s+at |\bat [^\s]+ \(?[^\s]*:\d+:\d+\)?|node:internal|\.ts:\d+/;
/** SQL statements or driver names. */
const SQL = /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|DROP TABLE|sqlite|SQLITE_|better-sqlite3)\b/i;

/** No token in the answer, no echo of what was presented, nothing internal. */
export function assertNothingIssued(r: Answer, presented: readonly string[] = []): void {
  const body = r.json as Record<string, unknown> | undefined;
  if (body !== null && typeof body === 'object') {
    for (const field of ['access', 'refresh', 'token']) expect(typeof body[field], `"${field}" issued: ${r.text}`).not.toBe('string');
  }
  expect(r.text).not.toMatch(JWT_SHAPED);
  for (const p of presented) if (p.length >= 12) expect(r.text.includes(p), 'the answer echoes what was presented').toBe(false);
  expect(r.text).not.toMatch(STACK_FRAME);
  expect(r.text).not.toMatch(SQL);
  expect(r.headers.get('set-cookie')).toBeNull();
}

export interface Refusal {
  status: number;
  /** The exact JSON body expected. */
  body?: unknown;
  /** Or only its `code`. */
  code?: string;
}

/**
 * Runs one attack and asserts it was refused without a trace: status, body or code, `WWW-Authenticate` on 401s,
 * nothing issued or echoed, and the store (tokens and users) unchanged.
 */
export async function expectRefused(t: TestApp, attempt: () => Promise<Answer>, want: Refusal, presented: readonly string[] = []): Promise<Answer> {
  const before = await state(t.store);
  const r = await attempt();
  expect(r.status, r.text).toBe(want.status);
  if (want.body !== undefined) expect(r.json).toEqual(want.body);
  if (want.code !== undefined) expect(r.json?.code, r.text).toBe(want.code);
  if (r.status === 401) expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api"');
  assertNothingIssued(r, presented);
  expect(await state(t.store)).toBe(before);
  return r;
}

/**
 * A forged or broken token tried everywhere a token is accepted: as a Bearer access token, as the refresh token of
 * refresh and logout (blacklist), and on verify. `make(kind)` builds the token for that endpoint's expected type.
 */
export async function refusedEverywhere(
  t: TestApp,
  make: (kind: Kind) => string,
  options: { protectedBody?: unknown; protectedStatus?: number; skipHeader?: boolean; body?: unknown } = {},
): Promise<void> {
  const body = options.body ?? INVALID;
  if (options.skipHeader !== true) {
    const a = make('access');
    await expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer ${a}` }), { status: options.protectedStatus ?? 401, body: options.protectedBody ?? anyType((body as { detail: string }).detail) }, [a]);
  }
  const r = make('refresh');
  await expectRefused(t, () => t.post('/api/token/refresh/', { refresh: r }), { status: 401, body }, [r]);
  await expectRefused(t, () => t.post('/api/token/blacklist/', { refresh: r }), { status: 401, body }, [r]);
  const v = make('access');
  await expectRefused(t, () => t.post('/api/token/verify/', { token: v }), { status: 401, body }, [v]);
}

/**
 * Sends raw bytes over one TCP connection (for what fetch will not send: duplicate headers, no Content-Type…). The
 * request must carry `Connection: close`: the answer is what arrives until the server closes. The socket is not
 * half-closed first, since Node's server aborts a request whose client ended its side before the answer.
 */
export function rawHttp(url: string, request: string | Buffer): Promise<{ status: number; head: string; body: string }> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.write(request));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: split < 0 ? '' : text.slice(split + 4) });
    });
  });
}

/** The raw answer as an {@link Answer}, for {@link assertNothingIssued}; a chunked body is decoded. */
export function rawAnswer(raw: { status: number; head: string; body: string }): Answer {
  const headers = new Headers();
  for (const line of raw.head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const text = headers.get('transfer-encoding') === 'chunked' ? unchunk(raw.body) : raw.body;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: raw.status, headers, text, json };
}

/** A chunked body's data (sizes count bytes, so the chunks are cut as bytes). */
function unchunk(body: string): string {
  const bytes = Buffer.from(body, 'utf8');
  const out: Buffer[] = [];
  for (let at = 0; ; ) {
    const eol = bytes.indexOf('\r\n', at);
    const size = parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
    if (eol < 0 || !(size > 0)) break;
    out.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out).toString('utf8');
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
