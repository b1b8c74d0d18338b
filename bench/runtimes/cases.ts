/**
 * The verification cases bench/runtimes/ measures in every runtime, from one source: restjwt's token path
 * (`TokenService.decode`, verified-token cache off, as bench/cases.ts's "restjwt (cache off)") beside jose's
 * `jwtVerify`, for HS256 and ES256. Only web-standard globals and the two libraries: it runs on Node, Bun, Deno and
 * workerd alike.
 */
import { exportPKCS8, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { resolveSettings, type Algorithm, type UserRecord } from '@restjwt/core';
import { buildKeyset, TokenService } from '@restjwt/core/adapter-kit';

export interface RuntimeCase {
  /** `restjwt HS256`, `jose HS256`, `restjwt ES256`, `jose ES256`: the table's columns. */
  name: string;
  /** One verification; resolves (or returns) the payload. */
  fn: () => unknown;
  /** Set when the case could not be set up in this runtime (the table says so instead of a number). */
  error?: string;
}

export const CASE_NAMES = ['restjwt HS256', 'jose HS256', 'restjwt ES256', 'jose ES256'] as const;

const user: UserRecord = { id: '42', username: 'alice', email: '', passwordHash: '', isActive: true, isStaff: false, lastLogin: null, dateJoined: new Date(), tokenVersion: 'v' } as UserRecord;

function service(alg: Algorithm, signingKey: string): TokenService {
  const settings = resolveSettings({ algorithm: alg, signingKey, verifiedTokenCacheSize: 0, accessTokenLifetime: '1d' }).settings;
  return new TokenService(settings, buildKeyset(settings));
}

/** A case whose set-up (or first verification) throws becomes one that reports the error. */
async function checked(name: string, setUp: () => Promise<() => unknown>): Promise<RuntimeCase> {
  try {
    const fn = await setUp();
    await fn();
    return { name, fn };
  } catch (error) {
    return { name, fn: () => undefined, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

export async function buildRuntimeCases(): Promise<RuntimeCase[]> {
  const secret = 'b'.repeat(64);
  const pair = await generateKeyPair('ES256', { extractable: true });
  // The tokens are restjwt's own; `await`: encode is a promise where signing is WebCrypto's.
  const hsToken = async () => {
    const hs = service('HS256', secret);
    return { hs, token: await hs.encode(hs.forUser('access', user)) };
  };
  const esToken = async () => {
    const es = service('ES256', await exportPKCS8(pair.privateKey));
    return { es, token: await es.encode(es.forUser('access', user)) };
  };
  const joseSecret = new TextEncoder().encode(secret);
  // jose verifies tokens jose signed, with restjwt's claims: its columns do not depend on restjwt signing in this runtime.
  const joseToken = (alg: 'HS256' | 'ES256', key: Parameters<SignJWT['sign']>[0]) =>
    new SignJWT({ token_type: 'access', user_id: '42', jti: '0123456789abcdef0123456789abcdef' })
      .setProtectedHeader({ alg, typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('1d')
      .sign(key);
  return Promise.all([
    checked('restjwt HS256', async () => {
      const { hs, token } = await hsToken();
      return () => hs.decode(token, 'access');
    }),
    checked('jose HS256', async () => {
      const token = await joseToken('HS256', joseSecret);
      return () => jwtVerify(token, joseSecret, { algorithms: ['HS256'] });
    }),
    checked('restjwt ES256', async () => {
      const { es, token } = await esToken();
      return () => es.decode(token, 'access');
    }),
    checked('jose ES256', async () => {
      const token = await joseToken('ES256', pair.privateKey);
      return () => jwtVerify(token, pair.publicKey, { algorithms: ['ES256'] });
    }),
  ]);
}

/** Runs `fn` `n` times, awaiting only what is a promise (an await of a plain value costs a microtask). */
export async function repeat(fn: () => unknown, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const out = fn();
    if (out instanceof Promise) await out;
  }
}
