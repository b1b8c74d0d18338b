import * as oidc from 'openid-client';
import { SocialError } from '../errors.js';
import { IdTokenVerifier, profileFromClaims } from './id-token.js';
import type { AuthorizationParams, CallbackParams, NativeCodeParams, OidcProviderConfig, SocialProfile, SocialProvider } from './types.js';

const DEFAULT_SCOPES = ['openid', 'email', 'profile'];

/**
 * Any OpenID Connect provider by issuer URL, through the certified `openid-client`: discovery, PKCE (S256), state
 * and nonce, and the ID token's validation in the code flow. Native ID tokens are checked with `jose` against the
 * JWKS the discovery document names.
 */
export class OidcProvider implements SocialProvider {
  readonly protocol = 'oidc' as const;
  readonly nativeRedirectUris: readonly string[];
  private discovered: Promise<{ config: oidc.Configuration; verifier: IdTokenVerifier }> | undefined;

  constructor(private readonly options: OidcProviderConfig) {
    this.nativeRedirectUris = options.nativeRedirectUris ?? [];
  }

  /** Discovery runs once, on first use; a failure is forgotten so that the next request tries again. */
  private setup(): Promise<{ config: oidc.Configuration; verifier: IdTokenVerifier }> {
    this.discovered ??= this.discover().catch((err: unknown) => {
      this.discovered = undefined;
      throw err;
    });
    return this.discovered;
  }

  private async discover(): Promise<{ config: oidc.Configuration; verifier: IdTokenVerifier }> {
    const o = this.options;
    let config: oidc.Configuration;
    try {
      // A public client (no secret) authenticates with PKCE alone.
      const metadata = o.clientSecret === undefined ? undefined : { client_secret: o.clientSecret };
      const auth = o.clientSecret === undefined ? oidc.None() : undefined;
      config = await oidc.discovery(new URL(o.issuer), o.clientId, metadata, auth, {
        ...(o.allowInsecureRequests === true ? { execute: [oidc.allowInsecureRequests] } : {}),
        timeout: o.timeout ?? 10,
      });
    } catch (err) {
      throw new SocialError('social_provider_unavailable', `discovery of ${o.issuer} failed: ${describe(err)}`);
    }
    const meta = config.serverMetadata();
    if (meta.jwks_uri === undefined) throw new SocialError('social_provider_unavailable', `${o.issuer} publishes no jwks_uri`);
    const verifier = new IdTokenVerifier({
      jwksUri: meta.jwks_uri,
      issuer: [meta.issuer],
      clientId: o.clientId,
      audiences: o.audiences ?? [],
      ...(meta.id_token_signing_alg_values_supported === undefined ? {} : { algorithms: meta.id_token_signing_alg_values_supported }),
      maxAgeSeconds: 600,
    });
    return { config, verifier };
  }

  async authorizationUrl(p: AuthorizationParams, redirectUri: string): Promise<URL> {
    const { config } = await this.setup();
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: (this.options.scopes ?? DEFAULT_SCOPES).join(' '),
      state: p.state,
      nonce: p.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(p.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  async callback(p: CallbackParams, redirectUri: string): Promise<SocialProfile> {
    const { config } = await this.setup();
    // The redirect URI sent to the token endpoint is this URL without its query: our configured callback, never
    // whatever Host the request claimed.
    const current = new URL(redirectUri);
    for (const [k, v] of p.query) current.searchParams.append(k, v);
    return this.grant(config, current, { pkceCodeVerifier: p.codeVerifier, expectedState: p.state, expectedNonce: p.nonce });
  }

  async verifyIdToken(idToken: string, nonce: string | undefined): Promise<SocialProfile> {
    const { verifier } = await this.setup();
    return profileFromClaims(await verifier.verify(idToken, nonce));
  }

  async redeemCode(p: NativeCodeParams): Promise<SocialProfile> {
    const { config } = await this.setup();
    const current = new URL(p.redirectUri);
    current.search = '';
    current.searchParams.set('code', p.code);
    // RFC 9207: a provider that announces `iss` in responses must find it; the app got the code from this issuer.
    if (config.serverMetadata().authorization_response_iss_parameter_supported === true) current.searchParams.set('iss', config.serverMetadata().issuer);
    return this.grant(config, current, {
      pkceCodeVerifier: p.codeVerifier,
      expectedState: oidc.skipStateCheck,
      ...(p.nonce === undefined ? { idTokenExpected: true } : { expectedNonce: p.nonce }),
    });
  }

  /** The code grant, the ID token's claims, and the userinfo when the ID token carries no email. */
  private async grant(config: oidc.Configuration, current: URL, checks: oidc.AuthorizationCodeGrantChecks): Promise<SocialProfile> {
    let claims: oidc.IDToken | undefined;
    let accessToken: string;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, current, { idTokenExpected: true, ...checks });
      claims = tokens.claims();
      accessToken = tokens.access_token;
    } catch (err) {
      throw mapClientError(err);
    }
    if (claims === undefined) throw new SocialError('social_id_token_invalid', 'no ID token');
    if (claims.email !== undefined) return profileFromClaims(claims);
    // Providers put scope claims (email…) in the userinfo response when an access token is issued.
    try {
      const info = await oidc.fetchUserInfo(config, accessToken, claims.sub);
      return profileFromClaims({ ...info, ...claims, email: info.email, email_verified: info.email_verified });
    } catch (err) {
      throw mapClientError(err);
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`;
  return 'unknown error';
}

/** The details oauth4webapi attaches to a failed check (in the cause's cause). */
function details(err: oidc.ClientError): { claim?: unknown; parameters?: unknown } {
  const inner = err.cause as { cause?: { claim?: unknown; parameters?: unknown } } | undefined;
  return inner?.cause ?? {};
}

/** openid-client's errors in social login's codes. */
export function mapClientError(err: unknown): SocialError {
  if (err instanceof SocialError) return err;
  if (err instanceof oidc.AuthorizationResponseError) return new SocialError('social_provider_denied', `${err.error}`);
  if (err instanceof oidc.ResponseBodyError) {
    // invalid_grant: the code was used already, expired, or the verifier/redirect URI does not match.
    if (err.error === 'invalid_grant') return new SocialError('social_code_invalid', err.error);
    return new SocialError('social_provider_unavailable', `${err.error} (${err.status})`);
  }
  if (err instanceof oidc.ClientError) {
    switch (err.code) {
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
        if (details(err).claim === 'nonce') return new SocialError('social_nonce_mismatch');
        return new SocialError('social_id_token_invalid', `claim ${String(details(err).claim)}`);
      case 'OAUTH_INVALID_RESPONSE':
        // About the authorization response's parameters (a missing or foreign `iss`), or about the ID token.
        if (details(err).parameters !== undefined) return new SocialError('social_response_invalid', err.message);
        return new SocialError('social_id_token_invalid', err.message);
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      case 'OAUTH_KEY_SELECTION_FAILED':
        return new SocialError('social_id_token_invalid', err.message);
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
        // A mismatched `state` in the authorization response.
        return new SocialError('social_response_invalid', err.message);
      case 'OAUTH_INVALID_REQUEST':
        return new SocialError('social_bad_request', err.message);
      default:
        return new SocialError('social_provider_unavailable', describe(err));
    }
  }
  return new SocialError('social_provider_unavailable', describe(err));
}
