import { ConfigurationError } from '@restjwt/core';
import { OidcProvider } from './oidc.js';
import { GitHubProvider, GitLabProvider, GoogleProvider, MicrosoftProvider } from './presets.js';
import type { ProviderConfig, SocialProvider } from './types.js';

export * from './types.js';
export { OidcProvider } from './oidc.js';
export { GitHubProvider, GitLabProvider, GoogleProvider, MicrosoftProvider } from './presets.js';
export { IdTokenVerifier, type IdTokenRules } from './id-token.js';

/** Provider names appear in URLs and in the identities table: short, lower case, URL-safe. */
const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

function isProvider(value: ProviderConfig | SocialProvider): value is SocialProvider {
  return typeof (value as Partial<SocialProvider>).authorizationUrl === 'function';
}

function requireString(name: string, field: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') throw new ConfigurationError(`social.providers.${name}.${field} must be a non-empty string.`);
}

/**
 * Builds one provider from its settings (or takes a ready {@link SocialProvider} as is).
 *
 * @throws ConfigurationError for a bad name, an unknown type or a missing client id/secret.
 */
export function buildProvider(name: string, config: ProviderConfig | SocialProvider): SocialProvider {
  if (!NAME.test(name)) throw new ConfigurationError(`Social provider name "${name}" must match ${NAME.source} (it appears in URLs).`);
  if (isProvider(config)) return config;
  requireString(name, 'clientId', config.clientId);
  switch (config.type) {
    case 'oidc':
      requireString(name, 'issuer', config.issuer);
      if (!/^https:\/\//.test(config.issuer) && config.allowInsecureRequests !== true) {
        throw new ConfigurationError(`social.providers.${name}.issuer must be an https URL (allowInsecureRequests is for local development only).`);
      }
      return new OidcProvider(config);
    case 'github':
      requireString(name, 'clientSecret', config.clientSecret);
      return new GitHubProvider(config);
    case 'google':
      requireString(name, 'clientSecret', config.clientSecret);
      return new GoogleProvider(config);
    case 'microsoft':
      requireString(name, 'clientSecret', config.clientSecret);
      return new MicrosoftProvider(config);
    case 'gitlab':
      requireString(name, 'clientSecret', config.clientSecret);
      return new GitLabProvider(config);
    default:
      throw new ConfigurationError(
        `social.providers.${name}.type must be one of oidc, github, google, microsoft, gitlab (got ${JSON.stringify((config as { type?: unknown }).type)}).`,
      );
  }
}
