// What `import … from 'restjwt'` and `'restjwt/adapter-kit'` offer, through the package's own `exports` map (the
// built `dist/`, as a consumer resolves it). The root is what an application calls; the plumbing adapters and
// stores are built from lives in the kit. A name added to either entry point is a decision: this list changes with it.
import { describe, expect, it } from 'vitest';

const ROOT = [
  'ALGORITHMS', 'ApiError', 'AuthenticationFailed', 'ConfigurationError', 'CsrfFailed', 'DEFAULT_SETTINGS',
  'DuplicateAuthorizationHeader', 'HeadersTooLarge', 'InvalidToken', 'MalformedRequest', 'MethodNotAllowed',
  'MissingKeyError', 'NotAuthenticated', 'NotFound', 'ParseError', 'PayloadTooLarge', 'PermissionDenied', 'RestJwt',
  'ServiceUnavailable', 'StoreUnavailableError', 'Throttled', 'TokenError', 'UnsupportedMediaType', 'UserExistsError',
  'ValidationError', 'accessPolicy', 'authenticationPolicy', 'builtinCatalogues', 'changePassword', 'checkPermissions',
  'createPasswordHasher', 'createRestJwt', 'createUserNormalized', 'deactivateUser', 'findUserByUsername',
  'isAuthenticated', 'isStaff', 'isTokenUser', 'normalizeUsername', 'publicIdentity', 'publicUser', 'resolveSettings',
  'tokenUser',
];

const ADAPTER_KIT = [
  'ALL_CAPABILITIES', 'BASE_HEADERS', 'CAPABILITY_METHODS', 'ENDPOINTS', 'ERROR_SCHEMA', 'FIELD_ERRORS_SCHEMA',
  'canImportUsers', 'endpointSchema', 'hasCapability', 'hasIdentities', 'hasSessions', 'headerRecord',
  'isBlacklistSource', 'matchTokenRoute', 'mediaType', 'nodeHeaderMap', 'nodeHeaderRecord', 'outgoingHeaders',
  'readRawBody', 'repeatedHeader', 'requestFields', 'responseText', 'slashRedirect', 'splitTarget', 'tokenRoutes',
];

describe('package entry points', () => {
  it('the root exports what an application calls, and no adapter plumbing', async () => {
    const root: Record<string, unknown> = await import('restjwt');
    expect(Object.keys(root).sort()).toEqual([...ROOT].sort());
  });

  it('restjwt/adapter-kit exports the plumbing the adapters are built from', async () => {
    const kit: Record<string, unknown> = await import('restjwt/adapter-kit');
    expect(Object.keys(kit).sort()).toEqual([...ADAPTER_KIT].sort());
    // Nothing is offered twice: an adapter author finds each helper in one place.
    expect(ADAPTER_KIT.filter((name) => ROOT.includes(name))).toEqual([]);
  });
});
