// What each published package offers, through its own `exports` map and built `dist/`, as a consumer resolves it.
// In @restjwt/core the root is what an application calls; the plumbing adapters and the server are built from lives in
// `adapter-kit`, and what stores are built from in `store-kit`. A name added to one of these entry points is a
// decision: these lists change with it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = [
  'ALGORITHMS', 'AUDIT_EVENT_TYPES', 'ApiError', 'AuthenticationFailed', 'ConfigurationError', 'CsrfFailed', 'DEFAULT_SETTINGS',
  'DuplicateAuthorizationHeader', 'HeadersTooLarge', 'InvalidToken', 'MalformedRequest', 'MethodNotAllowed',
  'MissingKeyError', 'MissingPackageError', 'NotAuthenticated', 'NotFound', 'ParseError', 'PasswordHashUnsupportedError', 'PayloadTooLarge', 'PermissionDenied', 'RestJwt',
  'ServiceUnavailable', 'StoreUnavailableError', 'Throttled', 'TokenError', 'UnsupportedMediaType', 'UserExistsError',
  'MFA_MAX_ATTEMPTS', 'MFA_TOKEN_LIFETIME_SECONDS', 'MfaCodeInvalid', 'MfaRequired', 'MfaTokenInvalid', 'MfaUnsupported', 'requireMfa',
  'ValidationError', 'accessPolicy', 'appendAudit', 'auditEvent', 'auditOrigin', 'audited', 'auditing', 'authenticationPolicy', 'builtinCatalogues', 'changePassword', 'checkPermissions',
  'combineObservers', 'createPasswordHasher', 'createRestJwt', 'createUserNormalized', 'deactivateUser', 'findUserByUsername',
  'isAuthenticated', 'isStaff', 'isTokenUser', 'normalizeUsername', 'publicFactor', 'publicIdentity', 'publicUser', 'resolveSettings',
  'tokenUser',
];

const ADAPTER_KIT = [
  'ALGORITHM_SPECS', 'BASE_HEADERS', 'DEFAULT_LOGIN_THROTTLE', 'ENDPOINTS', 'ERROR_SCHEMA', 'FIELD_ERRORS_SCHEMA',
  'TokenService', 'buildKeyset', 'clientAddress', 'endpointSchema', 'headerRecord', 'importOptional', 'matchTokenRoute',
  'mediaType',
  'nodeHeaderMap', 'nodeHeaderRecord', 'outgoingHeaders', 'parseBody', 'parseCookies', 'parseDuration', 'publicJwks',
  'readRawBody', 'repeatedHeader', 'requestFields', 'requireOptional', 'responseText', 'serializeCookie', 'slashRedirect',
  'splitTarget',
  'tokenRoutes', 'tokensToCookies',
];

const STORE_KIT = [
  'ALL_CAPABILITIES', 'CAPABILITY_METHODS', 'DEFAULT_FLUSH_BATCH_SIZE', 'IN_PROCESS_CAPABILITIES', 'OneTimeKeyExistsError',
  'auditCountFromRow', 'auditFromRow', 'auditPage', 'auditValues', 'bigintId', 'blacklistPage', 'canImportUsers', 'checkAuditQuery',
  'checkAuditRange', 'checkBatchSize', 'checkBlacklistListing', 'checkLength', 'checkPage',
  'checkRateArguments', 'checkRateKey', 'checkRateSlots', 'checkTokenListing', 'closedStoreError', 'copyUser',
  'CredentialExistsError', 'MAX_CREDENTIAL_ID', 'MAX_RECOVERY_HASH', 'acceptsCounter', 'checkCounter', 'checkRecoveryHashes', 'factorFromRow', 'newFactorValues',
  'deleteInBatches', 'hasAudit', 'hasCapability', 'hasFactors', 'hasIdentities', 'hasSessions', 'hasUsablePassword', 'identityFromRow',
  'integerIdParser', 'isAuditEventType', 'isBlacklistSource', 'isOneTimeLive', 'linkResult', 'newTokenVersion', 'outstandingStateFromRow',
  'requestUseValues', 'sessionFromRow', 'sessionUseValues', 'successorFamily', 'toMillis', 'tokenListingFromRow',
  'unlinkVerdict', 'userChanges', 'userFromRow', 'windowMs', 'withRevoked',
];

interface Manifest {
  name: string;
  version: string;
  engines?: { node?: string };
  files?: string[];
  exports: Record<string, string | { types: string; default: string }>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const PACKAGES = join(import.meta.dirname, '../../packages');
const workspace = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string; workspaces: string[]; engines?: { node?: string } };
const manifests = readdirSync(PACKAGES).map((dir) => ({ dir: join(PACKAGES, dir), pkg: JSON.parse(readFileSync(join(PACKAGES, dir, 'package.json'), 'utf8')) as Manifest }));

/** An entry point of a package as a consumer loads it: the built file its `exports` map names. */
async function load(name: string, subpath: string): Promise<Record<string, unknown>> {
  const found = manifests.find((m) => m.pkg.name === name);
  if (found === undefined) throw new Error(`no package ${name}`);
  const target = found.pkg.exports[subpath];
  if (target === undefined || typeof target === 'string') throw new Error(`${name} has no entry ${subpath}`);
  return (await import(pathToFileURL(join(found.dir, target.default)).href)) as Record<string, unknown>;
}

describe('@restjwt/core entry points', () => {
  it('the root exports what an application calls, and no adapter plumbing', async () => {
    expect(Object.keys(await load('@restjwt/core', '.')).sort()).toEqual([...ROOT].sort());
  });

  it('adapter-kit and store-kit export the plumbing, each helper in one place', async () => {
    expect(Object.keys(await load('@restjwt/core', './adapter-kit')).sort()).toEqual([...ADAPTER_KIT].sort());
    expect(Object.keys(await load('@restjwt/core', './store-kit')).sort()).toEqual([...STORE_KIT].sort());
    const all = [...ROOT, ...ADAPTER_KIT, ...STORE_KIT];
    expect(all.filter((name, i) => all.indexOf(name) !== i)).toEqual([]);
  });
});

/**
 * `engines` says what is tested: the Node lines test/runtimes/ runs the app under (this Node 20 and the Node 22 and 24
 * of runtimes/package.json; the whole suite was run on each). 22.12 and 20.19 are the first of their lines that
 * `require()` an ES module unflagged, which CommonJS apps need for these ESM-only packages.
 */
const TESTED_NODE = '^20.19.0 || ^22.12.0 || ^24.0.0';

describe('the published packages', () => {
  it('declare the Node lines the runtime suite runs', () => {
    const runtimes = JSON.parse(readFileSync(join(import.meta.dirname, '../../runtimes/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const majors = Object.values(runtimes.dependencies).flatMap((spec) => /^npm:node@(\d+)\./.exec(spec)?.[1] ?? []);
    expect(['20', ...majors].sort()).toEqual([...TESTED_NODE.matchAll(/\^(\d+)\./g)].map((m) => m[1]).sort());
    expect(workspace.engines?.node).toBe(TESTED_NODE);
  });

  it('are the twelve workspaces, released together with one version and one engines range', () => {
    expect(manifests.map((m) => m.pkg.name).sort()).toEqual(
      ['@restjwt/core', '@restjwt/express', '@restjwt/fastify', '@restjwt/hono', '@restjwt/metrics', '@restjwt/mfa', '@restjwt/nest', '@restjwt/redis', '@restjwt/social', '@restjwt/sql', '@restjwt/sqlite', 'restjwt'].sort(),
    );
    expect(workspace.workspaces.length).toBe(manifests.length);
    for (const { pkg } of manifests) {
      expect(pkg.version, pkg.name).toBe(workspace.version);
      expect(pkg.engines?.node, pkg.name).toBe(TESTED_NODE);
      expect(pkg.files, pkg.name).toEqual(['dist', '!dist/.tsbuildinfo']);
      // A sibling is required at exactly this release, so an app never mixes two copies of the core's classes.
      for (const [dep, range] of Object.entries({ ...pkg.dependencies, ...pkg.peerDependencies })) {
        if (dep.startsWith('@restjwt/')) expect(range, `${pkg.name} → ${dep}`).toBe(workspace.version);
      }
    }
  });

  it('every exports entry names built files that exist and load', async () => {
    for (const { dir, pkg } of manifests) {
      for (const [subpath, target] of Object.entries(pkg.exports)) {
        if (typeof target === 'string') continue; // ./package.json
        expect(existsSync(join(dir, target.types)), `${pkg.name} ${subpath} types`).toBe(true);
        const mod = await load(pkg.name, subpath);
        expect(Object.keys(mod).length, `${pkg.name} ${subpath}`).toBeGreaterThan(0);
      }
    }
  });
});
