/**
 * A real OpenID Provider for the tests: `oidc-provider` on 127.0.0.1 (random port), with its development
 * interactions (a login form taking any account id, then a consent form), accounts whose claims the test controls,
 * and the clients the tests need.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';

export interface OpAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
}

export interface OpClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  /** `none` for a public (native) client. */
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none';
  application_type?: 'web' | 'native';
}

export interface TestOp {
  issuer: string;
  /** Accounts by id; tests add and change them at will. */
  accounts: Map<string, OpAccount>;
  /** Signs an ID token with the provider's own key (for tokens the provider would never issue as such). */
  sign(claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

/** Starts the provider; `clients` get `authorization_code` and `code` response type. */
export async function startOp(clients: OpClient[]): Promise<TestOp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = new Map<string, OpAccount>();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'op-key-1', alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({ grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', ...c })),
    jwks: { keys: [jwk] },
    cookies: { keys: ['op-test-cookie-key-0123456789'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    features: { devInteractions: { enabled: true } },
    // Scope claims (email…) in the ID token as well, as Google and most providers do: the native ID-token flow has
    // nothing else. The browser flow still reads them from userinfo when absent.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // Explicit lifetimes keep oidc-provider from printing a notice for each default.
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    async findAccount(_ctx: unknown, id: string) {
      const account = accounts.get(id);
      if (account === undefined) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account }) };
    },
  });
  server.on('request', provider.callback());

  return {
    issuer,
    accounts,
    sign: (claims) =>
      new SignJWT({ iss: issuer, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'op-key-1' })
        .sign(privateKey as CryptoKey),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a native app holds after signing in at the provider itself: an authorization code and its PKCE verifier. */
export interface AppCode {
  code: string;
  verifier: string;
}

/**
 * Runs the provider's authorization as a native app would (its own client id, redirect URI, PKCE verifier and
 * optional nonce), in `browser`, and returns the code the provider sent to the app's redirect URI.
 */
export async function appAuthorize(
  browser: import('./browser.js').Browser,
  op: TestOp,
  o: { clientId: string; redirectUri: string; account: string; nonce?: string },
): Promise<AppCode> {
  const { randomBytes, createHash } = await import('node:crypto');
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${op.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: o.clientId,
    redirect_uri: o.redirectUri,
    response_type: 'code',
    scope: 'openid email profile',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...(o.nonce === undefined ? {} : { nonce: o.nonce }),
  }).toString();
  const landed = new URL(await browser.throughProvider(url.href, o.account, o.redirectUri));
  const code = landed.searchParams.get('code');
  if (code === null) throw new Error(`no code: ${landed.href}`);
  return { code, verifier };
}

/** Redeems an app's code at the provider's token endpoint (as the app itself: a public client, or with a secret). */
export async function appRedeem(op: TestOp, o: { clientId: string; clientSecret?: string; redirectUri: string } & AppCode): Promise<{ id_token: string; access_token: string }> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code: o.code, redirect_uri: o.redirectUri, code_verifier: o.verifier });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (o.clientSecret === undefined) body.set('client_id', o.clientId);
  else headers.authorization = `Basic ${Buffer.from(`${o.clientId}:${o.clientSecret}`).toString('base64')}`;
  const res = await fetch(`${op.issuer}/token`, { method: 'POST', body, headers });
  const json = (await res.json()) as { id_token: string; access_token: string };
  if (res.status !== 200) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
