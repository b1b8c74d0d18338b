/**
 * What social login needs from a provider, whatever protocol it speaks: build the authorization URL, turn the
 * callback into a normalized profile, and (for native apps) validate an ID token or redeem a code.
 */

/** Who the provider says the user is, in one shape for every provider. */
export interface SocialProfile {
  /** The provider's stable id for the account (`sub`; GitHub's numeric id). Never an email. */
  subject: string;
  /** The email the provider asserted, or null. */
  email: string | null;
  /** True only when the provider asserts that it verified `email`. */
  emailVerified: boolean;
  /** Display name, if any. */
  name: string | null;
  /** A suggested username (GitHub login, `preferred_username`, …), if any. */
  username: string | null;
}

/** The per-login secrets a browser flow sends to the provider (kept server-side between login and callback). */
export interface AuthorizationParams {
  state: string;
  /** Sent to OpenID Connect providers and checked in the ID token; plain OAuth 2.0 providers ignore it. */
  nonce: string;
  /** PKCE verifier; providers that do not support PKCE ignore it. */
  codeVerifier: string;
}

/** A callback to turn into a profile: the query the provider sent, and the secrets of the login it answers. */
export interface CallbackParams extends AuthorizationParams {
  query: URLSearchParams;
}

/** A native app's authorization code, obtained with its own PKCE verifier and redirect URI. */
export interface NativeCodeParams {
  code: string;
  codeVerifier: string;
  redirectUri: string;
  /** The nonce the app sent in its authorization request, if any. */
  nonce?: string | undefined;
}

/**
 * One configured provider. The built-in ones come from {@link ProviderConfig}; an application may pass its own
 * object implementing this interface (e.g. for a provider arctic knows but the presets do not cover).
 *
 * Implementations throw `SocialError` (`errors.ts`) with a stable code for every refusal.
 */
export interface SocialProvider {
  /** `oidc` providers validate ID tokens (native `id_token` requests); `oauth2` ones only know codes. */
  readonly protocol: 'oidc' | 'oauth2';
  /** Redirect URIs a native app may redeem codes with (exact strings). Empty: no native code flow. */
  readonly nativeRedirectUris: readonly string[];
  /** The provider's authorization URL for one browser login; `redirectUri` is our callback. */
  authorizationUrl(params: AuthorizationParams, redirectUri: string): Promise<URL>;
  /** Validates the callback (state, code exchange, ID token and nonce where there is one) and returns the profile. */
  callback(params: CallbackParams, redirectUri: string): Promise<SocialProfile>;
  /** Validates an ID token a native app obtained (signature by the provider's keys, issuer, audience, expiry, nonce). */
  verifyIdToken?(idToken: string, nonce: string | undefined): Promise<SocialProfile>;
  /** Redeems a native app's authorization code (its verifier, its redirect URI). */
  redeemCode?(params: NativeCodeParams): Promise<SocialProfile>;
}

/** Settings shared by every built-in provider. */
export interface ProviderCommon {
  clientId: string;
  /** Scopes to request instead of the preset's defaults. */
  scopes?: readonly string[];
  /** Redirect URIs native apps may redeem codes with (see {@link SocialProvider.nativeRedirectUris}). */
  nativeRedirectUris?: readonly string[];
}

/** Any OpenID Connect provider, found by discovery from its issuer URL (through `openid-client`). */
export interface OidcProviderConfig extends ProviderCommon {
  type: 'oidc';
  /** The issuer identifier, e.g. `https://accounts.example.com`. Its discovery document is fetched on first use. */
  issuer: string;
  /** Omit for a public client (PKCE only). */
  clientSecret?: string;
  /** More accepted audiences for native ID tokens (e.g. the client ids of your iOS and Android apps). */
  audiences?: readonly string[];
  /** Allow plain-HTTP requests to the provider. For local development and tests only. */
  allowInsecureRequests?: boolean;
  /** Network timeout in seconds for requests to the provider (default 10). */
  timeout?: number;
}

/** GitHub (OAuth 2.0; no ID token). Emails come from `/user/emails`, verified ones only count as verified. */
export interface GitHubProviderConfig extends ProviderCommon {
  type: 'github';
  clientSecret: string;
  /** The REST API root (default `https://api.github.com`). */
  apiUrl?: string;
}

/** Google (OpenID Connect, through arctic's preset with PKCE; ID tokens checked against Google's keys). */
export interface GoogleProviderConfig extends ProviderCommon {
  type: 'google';
  clientSecret: string;
  /** More accepted audiences for native ID tokens (your Android/iOS client ids). */
  audiences?: readonly string[];
}

/** Microsoft Entra ID (OpenID Connect, through arctic's preset with PKCE). */
export interface MicrosoftProviderConfig extends ProviderCommon {
  type: 'microsoft';
  clientSecret: string;
  /** `common` (default), `organizations`, `consumers`, or a tenant id (GUID). */
  tenant?: string;
  audiences?: readonly string[];
}

/** GitLab (gitlab.com or self-managed), through arctic's OAuth 2.0 client with PKCE; profile from `/oauth/userinfo`. */
export interface GitLabProviderConfig extends ProviderCommon {
  type: 'gitlab';
  clientSecret: string;
  /** Default `https://gitlab.com`. */
  baseUrl?: string;
}

/** A built-in provider's settings. */
export type ProviderConfig = OidcProviderConfig | GitHubProviderConfig | GoogleProviderConfig | MicrosoftProviderConfig | GitLabProviderConfig;
