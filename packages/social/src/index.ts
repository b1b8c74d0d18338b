/**
 * Social login for restjwt (`@restjwt/social`): sign in with an OpenID Connect provider (by issuer URL, through
 * `openid-client`) or a preset (GitHub, Google, Microsoft, GitLab, through `arctic`) and receive an ordinary restjwt
 * pair. See docs/social-login.md.
 */
export { createSocialLogin, SocialLogin, type SocialRequest, type SocialRoute } from './flow.js';
export type { SocialOptions, ResolvedSocialOptions } from './options.js';
export { SocialError, socialErrorResponse, type SocialErrorCode } from './errors.js';
export { hasUsablePassword, type AccountRules } from './accounts.js';
export {
  buildProvider,
  OidcProvider,
  GitHubProvider,
  GoogleProvider,
  MicrosoftProvider,
  GitLabProvider,
  IdTokenVerifier,
  type IdTokenRules,
  type SocialProvider,
  type SocialProfile,
  type ProviderConfig,
  type ProviderCommon,
  type OidcProviderConfig,
  type GitHubProviderConfig,
  type GoogleProviderConfig,
  type MicrosoftProviderConfig,
  type GitLabProviderConfig,
  type AuthorizationParams,
  type CallbackParams,
  type NativeCodeParams,
} from './providers/index.js';
