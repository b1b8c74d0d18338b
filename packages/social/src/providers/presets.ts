import {
  ArcticFetchError,
  CodeChallengeMethod,
  GitHub,
  Google,
  MicrosoftEntraId,
  OAuth2Client,
  OAuth2RequestError,
  type OAuth2Tokens,
} from 'arctic';
import type { JWTPayload } from 'jose';
import { SocialError } from '../errors.js';
import { IdTokenVerifier, isVerifiedFlag, profileFromClaims } from './id-token.js';
import type {
  AuthorizationParams,
  CallbackParams,
  GitHubProviderConfig,
  GitLabProviderConfig,
  GoogleProviderConfig,
  MicrosoftProviderConfig,
  NativeCodeParams,
  SocialProfile,
  SocialProvider,
} from './types.js';

/**
 * Ready presets for common providers, through `arctic` (which knows their endpoints and quirks). They make no
 * network request before a callback, and each maps the provider's answer to a {@link SocialProfile}, with the
 * provider's own notion of a verified email.
 */

/** How long a native ID token stays acceptable after it was issued. */
const NATIVE_MAX_AGE = 600;

/** The code of a callback, or the provider's refusal. */
function codeFrom(query: URLSearchParams): string {
  const error = query.get('error');
  if (error !== null) throw new SocialError('social_provider_denied', error.slice(0, 100));
  const code = query.get('code');
  if (code === null || code === '') throw new SocialError('social_bad_request', 'callback without code', 'The callback has no authorization code.');
  return code;
}

/** arctic's errors in social login's codes. */
async function exchange(run: () => Promise<OAuth2Tokens>): Promise<OAuth2Tokens> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof OAuth2RequestError) {
      // GitHub says bad_verification_code for a used or unknown code; the others say invalid_grant.
      if (err.code === 'invalid_grant' || err.code === 'bad_verification_code') throw new SocialError('social_code_invalid', err.code);
      throw new SocialError('social_provider_unavailable', `token endpoint: ${err.code}`);
    }
    if (err instanceof ArcticFetchError) throw new SocialError('social_provider_unavailable', 'token endpoint unreachable');
    throw new SocialError('social_provider_unavailable', `token endpoint: ${err instanceof Error ? err.name : 'unknown'}`);
  }
}

/** An ID token from a token response, or a clear refusal when the provider sent none. */
function idTokenOf(tokens: OAuth2Tokens): string {
  try {
    return tokens.idToken();
  } catch {
    throw new SocialError('social_id_token_invalid', 'no ID token in the token response');
  }
}

/** The access token of a token response, or the provider's unavailability when it sent none. */
function accessTokenOf(tokens: OAuth2Tokens): string {
  try {
    return tokens.accessToken();
  } catch {
    throw new SocialError('social_provider_unavailable', 'no access token in the token response');
  }
}

/** GETs JSON from a provider's API with its access token; a failure is the provider's unavailability. */
async function getJson(url: string, accessToken: string, extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    const headers = { Authorization: `Bearer ${accessToken}`, Accept: 'application/json', 'User-Agent': 'restjwt', ...extraHeaders };
    res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  } catch {
    throw new SocialError('social_provider_unavailable', `${new URL(url).host} unreachable`);
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  return { status: res.status, body };
}

const trimSlash = (url: string): string => url.replace(/\/+$/, '');

/** GitHub (OAuth 2.0 with state; GitHub's preset in arctic uses no PKCE). */
export class GitHubProvider implements SocialProvider {
  readonly protocol = 'oauth2' as const;
  readonly nativeRedirectUris: readonly string[];
  private readonly apiUrl: string;

  constructor(private readonly options: GitHubProviderConfig) {
    this.nativeRedirectUris = options.nativeRedirectUris ?? [];
    this.apiUrl = trimSlash(options.apiUrl ?? 'https://api.github.com');
  }

  private client(redirectUri: string): GitHub {
    return new GitHub(this.options.clientId, this.options.clientSecret, redirectUri);
  }

  async authorizationUrl(p: AuthorizationParams, redirectUri: string): Promise<URL> {
    return this.client(redirectUri).createAuthorizationURL(p.state, [...(this.options.scopes ?? ['read:user', 'user:email'])]);
  }

  async callback(p: CallbackParams, redirectUri: string): Promise<SocialProfile> {
    const code = codeFrom(p.query);
    const tokens = await exchange(() => this.client(redirectUri).validateAuthorizationCode(code));
    return this.profile(accessTokenOf(tokens));
  }

  async redeemCode(p: NativeCodeParams): Promise<SocialProfile> {
    const tokens = await exchange(() => this.client(p.redirectUri).validateAuthorizationCode(p.code));
    return this.profile(accessTokenOf(tokens));
  }

  /** `/user` for the id and login; `/user/emails` for a verified address (the profile's public email is unverified). */
  private async profile(accessToken: string): Promise<SocialProfile> {
    const headers = { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' };
    const user = await getJson(`${this.apiUrl}/user`, accessToken, headers);
    const u = (user.body ?? {}) as { id?: unknown; login?: unknown; name?: unknown; email?: unknown };
    if (user.status !== 200 || (typeof u.id !== 'number' && typeof u.id !== 'string')) {
      throw new SocialError('social_provider_unavailable', `GitHub /user answered ${user.status}`);
    }
    const emails = await getJson(`${this.apiUrl}/user/emails`, accessToken, headers);
    // Without the user:email scope the list is refused: the email is then unknown, not an error.
    const list = emails.status === 200 && Array.isArray(emails.body) ? (emails.body as Array<{ email?: unknown; primary?: unknown; verified?: unknown }>) : [];
    const verified = list.filter((e) => e.verified === true && typeof e.email === 'string');
    const chosen = verified.find((e) => e.primary === true) ?? verified[0];
    const email = typeof chosen?.email === 'string' ? chosen.email : typeof u.email === 'string' && u.email !== '' ? u.email : null;
    return {
      subject: String(u.id),
      email,
      emailVerified: chosen !== undefined,
      name: typeof u.name === 'string' && u.name !== '' ? u.name : null,
      username: typeof u.login === 'string' ? u.login : null,
    };
  }
}

/** Shared by the OpenID Connect presets whose arctic client takes (state, verifier, scopes) and returns an ID token. */
abstract class ArcticOidcPreset implements SocialProvider {
  readonly protocol = 'oidc' as const;
  readonly nativeRedirectUris: readonly string[];
  protected abstract readonly verifier: IdTokenVerifier;
  protected abstract readonly nativeVerifier: IdTokenVerifier;
  protected abstract readonly defaultScopes: readonly string[];

  constructor(protected readonly common: { scopes?: readonly string[]; nativeRedirectUris?: readonly string[] }) {
    this.nativeRedirectUris = common.nativeRedirectUris ?? [];
  }

  protected abstract client(redirectUri: string): Google | MicrosoftEntraId;

  /** The profile of validated claims (a preset may decide differently whether the email is verified). */
  protected profile(claims: JWTPayload): SocialProfile {
    return profileFromClaims(claims);
  }

  async authorizationUrl(p: AuthorizationParams, redirectUri: string): Promise<URL> {
    const url = this.client(redirectUri).createAuthorizationURL(p.state, p.codeVerifier, [...(this.common.scopes ?? this.defaultScopes)]);
    // arctic leaves the nonce to the caller; it binds the ID token to this login.
    url.searchParams.set('nonce', p.nonce);
    return url;
  }

  async callback(p: CallbackParams, redirectUri: string): Promise<SocialProfile> {
    const code = codeFrom(p.query);
    const tokens = await exchange(() => this.client(redirectUri).validateAuthorizationCode(code, p.codeVerifier));
    return this.profile(await this.verifier.verify(idTokenOf(tokens), p.nonce));
  }

  async verifyIdToken(idToken: string, nonce: string | undefined): Promise<SocialProfile> {
    return this.profile(await this.nativeVerifier.verify(idToken, nonce));
  }

  async redeemCode(p: NativeCodeParams): Promise<SocialProfile> {
    const tokens = await exchange(() => this.client(p.redirectUri).validateAuthorizationCode(p.code, p.codeVerifier));
    return this.profile(await this.verifier.verify(idTokenOf(tokens), p.nonce));
  }
}

const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];
const GOOGLE_JWKS = 'https://www.googleapis.com/oauth2/v3/certs';

/** Google: OpenID Connect with PKCE and nonce; ID tokens checked against Google's published keys. */
export class GoogleProvider extends ArcticOidcPreset {
  protected readonly defaultScopes = ['openid', 'email', 'profile'];
  protected readonly verifier: IdTokenVerifier;
  protected readonly nativeVerifier: IdTokenVerifier;

  constructor(private readonly options: GoogleProviderConfig) {
    super(options);
    const rules = { jwksUri: GOOGLE_JWKS, issuer: GOOGLE_ISSUERS, clientId: options.clientId, audiences: options.audiences ?? [] };
    this.verifier = new IdTokenVerifier(rules);
    this.nativeVerifier = new IdTokenVerifier({ ...rules, maxAgeSeconds: NATIVE_MAX_AGE });
  }

  protected client(redirectUri: string): Google {
    return new Google(this.options.clientId, this.options.clientSecret, redirectUri);
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The tenant of personal Microsoft accounts. */
const MSA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

/**
 * Microsoft Entra ID: OpenID Connect with PKCE and nonce. The issuer names the user's tenant, so it is checked
 * against the token's `tid` (and the configured tenant when it is an id). Microsoft's `email` claim is not verified
 * by Microsoft (any tenant admin can set it), so it counts as verified only with the `xms_edov` claim.
 */
export class MicrosoftProvider extends ArcticOidcPreset {
  protected readonly defaultScopes = ['openid', 'email', 'profile'];
  protected readonly verifier: IdTokenVerifier;
  protected readonly nativeVerifier: IdTokenVerifier;
  private readonly tenant: string;

  constructor(private readonly options: MicrosoftProviderConfig) {
    super(options);
    this.tenant = options.tenant ?? 'common';
    const tenant = this.tenant;
    const issuer = (payload: JWTPayload): boolean => {
      const tid = typeof payload.tid === 'string' ? payload.tid : '';
      if (!GUID.test(tid) || payload.iss !== `https://login.microsoftonline.com/${tid}/v2.0`) return false;
      if (GUID.test(tenant)) return tid.toLowerCase() === tenant.toLowerCase();
      if (tenant === 'consumers') return tid === MSA_TENANT;
      if (tenant === 'organizations') return tid !== MSA_TENANT;
      return true;
    };
    const jwksUri = `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/discovery/v2.0/keys`;
    const rules = { jwksUri, issuer, clientId: options.clientId, audiences: options.audiences ?? [] };
    this.verifier = new IdTokenVerifier(rules);
    this.nativeVerifier = new IdTokenVerifier({ ...rules, maxAgeSeconds: NATIVE_MAX_AGE });
  }

  protected client(redirectUri: string): MicrosoftEntraId {
    return new MicrosoftEntraId(this.tenant, this.options.clientId, this.options.clientSecret, redirectUri);
  }

  protected override profile(claims: JWTPayload): SocialProfile {
    return profileFromClaims(claims, isVerifiedFlag(claims.xms_edov) || claims.xms_edov === 1);
  }
}

/**
 * GitLab (gitlab.com or self-managed): arctic's OAuth 2.0 client on GitLab's endpoints, with PKCE (S256), and the
 * profile from GitLab's OpenID userinfo endpoint (`email_verified` included).
 */
export class GitLabProvider implements SocialProvider {
  readonly protocol = 'oauth2' as const;
  readonly nativeRedirectUris: readonly string[];
  private readonly base: string;

  constructor(private readonly options: GitLabProviderConfig) {
    this.nativeRedirectUris = options.nativeRedirectUris ?? [];
    this.base = trimSlash(options.baseUrl ?? 'https://gitlab.com');
  }

  private client(redirectUri: string): OAuth2Client {
    return new OAuth2Client(this.options.clientId, this.options.clientSecret, redirectUri);
  }

  async authorizationUrl(p: AuthorizationParams, redirectUri: string): Promise<URL> {
    const scopes = [...(this.options.scopes ?? ['openid', 'profile', 'email'])];
    return this.client(redirectUri).createAuthorizationURLWithPKCE(`${this.base}/oauth/authorize`, p.state, CodeChallengeMethod.S256, p.codeVerifier, scopes);
  }

  async callback(p: CallbackParams, redirectUri: string): Promise<SocialProfile> {
    const code = codeFrom(p.query);
    const tokens = await exchange(() => this.client(redirectUri).validateAuthorizationCode(`${this.base}/oauth/token`, code, p.codeVerifier));
    return this.profile(accessTokenOf(tokens));
  }

  async redeemCode(p: NativeCodeParams): Promise<SocialProfile> {
    const tokens = await exchange(() => this.client(p.redirectUri).validateAuthorizationCode(`${this.base}/oauth/token`, p.code, p.codeVerifier));
    return this.profile(accessTokenOf(tokens));
  }

  private async profile(accessToken: string): Promise<SocialProfile> {
    const info = await getJson(`${this.base}/oauth/userinfo`, accessToken);
    if (info.status !== 200 || info.body === null || typeof info.body !== 'object') {
      throw new SocialError('social_provider_unavailable', `GitLab userinfo answered ${info.status}`);
    }
    return profileFromClaims(info.body as Record<string, unknown>);
  }
}
