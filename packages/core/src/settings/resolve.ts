import { ConfigurationError } from '../errors.js';
import { builtinCatalogues } from '../i18n/catalogue.js';
import type { UserRecord } from '../store/types.js';
import { parseDuration } from './duration.js';
import { headerNameFromDjango, SIMPLE_JWT_NAMES, tokenTypeFromDjangoClass } from './simplejwt-names.js';
import { ALGORITHMS, type Algorithm, type AuthTokenType, type Settings, type SettingsInput } from './types.js';

const defaultRule = (user: UserRecord | null): boolean => user !== null && user.isActive;

/** simplejwt's defaults. */
export const DEFAULT_SETTINGS: Settings = Object.freeze({
  accessTokenLifetime: 300,
  refreshTokenLifetime: 86400,
  slidingTokenLifetime: 300,
  slidingTokenRefreshLifetime: 86400,
  rotateRefreshTokens: false,
  blacklistAfterRotation: false,
  refreshReuseInterval: 0,
  refreshFamilyMaxAge: 0,
  revokeAccessTokens: false,
  updateLastLogin: false,
  algorithm: 'HS256',
  signingKey: undefined,
  verifyingKey: undefined,
  signingKeyId: undefined,
  additionalVerifyingKeys: Object.freeze([]),
  audience: undefined,
  issuer: undefined,
  jwkUrl: undefined,
  leeway: 0,
  authHeaderTypes: Object.freeze(['Bearer']),
  authHeaderName: 'authorization',
  userIdField: 'id',
  userIdClaim: 'user_id',
  userAuthenticationRule: defaultRule,
  authTokenClasses: Object.freeze(['access'] as AuthTokenType[]),
  tokenTypeClaim: 'token_type',
  jtiClaim: 'jti',
  slidingTokenRefreshExpClaim: 'refresh_exp',
  checkRevokeToken: false,
  revokeTokenClaim: 'hash_password',
  checkUserIsActive: true,
  rehashPasswords: true,
  usernameField: 'username',
  locales: Object.freeze(['en']),
  messageVersion: '5.5',
  maxBodyBytes: 65536,
  maxTokenLength: 8192,
  verifiedTokenCacheSize: 1000,
  cookieMode: 'off',
  cookieSecure: true,
  cookieSameSite: 'Strict',
  csrfTrustedOrigins: Object.freeze([]),
  trustedProxies: Object.freeze([]),
  loginThrottle: false,
  auditLog: true,
  auditRetention: 90 * 86400,
} satisfies Settings);

/** Login throttling when turned on with `true`: tight per username+address, looser per username and per address. */
export const DEFAULT_LOGIN_THROTTLE = Object.freeze({
  perUsernameAndAddress: Object.freeze({ limit: 5, windowSeconds: 300 }),
  perUsername: Object.freeze({ limit: 50, windowSeconds: 300 }),
  perAddress: Object.freeze({ limit: 100, windowSeconds: 300 }),
});

const KEYS = new Set(Object.keys(DEFAULT_SETTINGS));

type Check = (value: unknown, name: string) => unknown;

const bool: Check = (v, n) => (typeof v === 'boolean' ? v : fail(n, 'true or false', v));
const str: Check = (v, n) => (typeof v === 'string' && v.length > 0 ? v : fail(n, 'a non-empty string', v));
const optStr: Check = (v, n) => (v === undefined || v === null || v === '' ? undefined : str(v, n));
const claimName: Check = (v, n) =>
  typeof v === 'string' && /^[A-Za-z_][\w.-]{0,63}$/.test(v) ? v : fail(n, 'a claim name such as "user_id"', v);
const duration: Check = (v, n) => {
  const r = parseDuration(v);
  return typeof r === 'number' ? Math.floor(r) : fail(n, r, v);
};
const positiveDuration: Check = (v, n) => {
  const r = duration(v, n) as number;
  return r > 0 ? r : fail(n, 'a duration longer than zero', v);
};
const positiveInt: Check = (v, n) =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fail(n, 'a positive whole number', v);
const oneOf =
  (values: readonly string[]): Check =>
  (v, n) =>
    typeof v === 'string' && values.includes(v) ? v : fail(n, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
const stringList =
  (each: Check): Check =>
  (v, n) => {
    const list = typeof v === 'string' ? [v] : v; // simplejwt allows a single string for AUTH_HEADER_TYPES
    if (!Array.isArray(list) || list.length === 0) return fail(n, 'a non-empty list of strings', v);
    return Object.freeze(list.map((x, i) => each(x, `${n}[${i}]`)));
  };

const CHECKS: Record<keyof Settings, Check> = {
  accessTokenLifetime: positiveDuration,
  refreshTokenLifetime: positiveDuration,
  slidingTokenLifetime: positiveDuration,
  slidingTokenRefreshLifetime: positiveDuration,
  rotateRefreshTokens: bool,
  blacklistAfterRotation: bool,
  refreshReuseInterval: duration,
  refreshFamilyMaxAge: duration,
  revokeAccessTokens: bool,
  updateLastLogin: bool,
  algorithm: oneOf(ALGORITHMS),
  signingKey: optStr,
  verifyingKey: optStr,
  signingKeyId: optStr,
  additionalVerifyingKeys: (v, n) => {
    if (!Array.isArray(v)) return fail(n, 'a list of {"alg", "key", "kid"} objects', v);
    return Object.freeze(
      v.map((entry: unknown, i) => {
        const e = (entry ?? {}) as Record<string, unknown>;
        if (typeof entry !== 'object' || Array.isArray(entry)) fail(`${n}[${i}]`, 'an object {"alg", "key", "kid"}', '(not an object)');
        const alg = oneOf(ALGORITHMS)(e.alg, `${n}[${i}].alg`) as Algorithm;
        const key = str(e.key, `${n}[${i}].key`) as string;
        const kid = optStr(e.kid, `${n}[${i}].kid`) as string | undefined;
        return Object.freeze(kid === undefined ? { alg, key } : { alg, key, kid });
      }),
    );
  },
  audience: (v, n) => (v === undefined || v === null ? undefined : Array.isArray(v) ? stringList(str)(v, n) : str(v, n)),
  issuer: optStr,
  jwkUrl: (v, n) => {
    const s = optStr(v, n);
    if (s === undefined) return undefined;
    try {
      const u = new URL(s as string);
      if (u.protocol === 'https:' || u.protocol === 'http:') return s;
    } catch {
      /* reported below */
    }
    return fail(n, 'an http(s) URL of a JWKS document', v);
  },
  leeway: duration,
  authHeaderTypes: stringList((v, n) =>
    typeof v === 'string' && /^[!#$%&'*+.^_`|~\w-]+$/.test(v) ? v : fail(n, 'an auth scheme token such as "Bearer"', v),
  ),
  authHeaderName: (v, n) => {
    const s = str(v, n) as string;
    const name = s.startsWith('HTTP_') ? headerNameFromDjango(s) : s.toLowerCase();
    return /^[!#$%&'*+.^_`|~\w-]+$/.test(name) ? name : fail(n, 'an HTTP header name such as "Authorization"', v);
  },
  userIdField: oneOf(['id', 'username', 'email']),
  userIdClaim: claimName,
  userAuthenticationRule: (v, n) => (typeof v === 'function' ? v : fail(n, 'a function (user) => boolean', v)),
  authTokenClasses: stringList((v, n) => oneOf(['access', 'sliding'])(typeof v === 'string' ? tokenTypeFromDjangoClass(v) : v, n)),
  tokenTypeClaim: claimName,
  jtiClaim: claimName,
  slidingTokenRefreshExpClaim: claimName,
  checkRevokeToken: bool,
  revokeTokenClaim: claimName,
  checkUserIsActive: bool,
  rehashPasswords: bool,
  usernameField: oneOf(['username', 'email']),
  locales: stringList(oneOf(Object.keys(builtinCatalogues))),
  messageVersion: oneOf(['5.5', '5.2']),
  maxBodyBytes: positiveInt,
  maxTokenLength: positiveInt,
  cookieMode: oneOf(['off', 'refresh', 'both']),
  cookieSecure: bool,
  cookieSameSite: oneOf(['Strict', 'Lax']),
  csrfTrustedOrigins: (v, n) =>
    Array.isArray(v) && v.length === 0
      ? Object.freeze([])
      : stringList((x, m) => {
          try {
            const u = new URL(String(x));
            if (u.origin === x) return x;
          } catch {
            /* reported below */
          }
          return fail(m, 'an origin such as "https://app.example.com" (no path, no trailing slash)', x);
        })(v, n),
  trustedProxies: (v, n) =>
    Array.isArray(v) && v.length === 0
      ? Object.freeze([])
      : stringList((x, m) => (typeof x === 'string' && /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(x) ? x : fail(m, 'an address or CIDR range such as "10.0.0.0/8"', x)))(v, n),
  auditLog: bool,
  auditRetention: positiveDuration,
  loginThrottle: (v, n) => {
    if (v === false) return false;
    if (v === true) return DEFAULT_LOGIN_THROTTLE;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail(n, 'true, false, or {"perUsernameAndAddress": {"limit", "windowSeconds"}, …}', v);
    const out: Record<string, unknown> = {};
    for (const rule of ['perUsernameAndAddress', 'perUsername', 'perAddress'] as const) {
      const r = ((v as Record<string, unknown>)[rule] ?? DEFAULT_LOGIN_THROTTLE[rule]) as Record<string, unknown>;
      out[rule] = Object.freeze({ limit: positiveInt(r.limit, `${n}.${rule}.limit`), windowSeconds: positiveDuration(r.windowSeconds, `${n}.${rule}.windowSeconds`) });
    }
    return Object.freeze(out);
  },
  verifiedTokenCacheSize: (v, n) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fail(n, 'a whole number (0 turns the cache off)', v)),
};

function fail(name: string, expected: string, got: unknown): never {
  let shown: string;
  try {
    shown = typeof got === 'function' ? 'a function' : JSON.stringify(got) ?? String(got);
  } catch {
    shown = String(got);
  }
  if (name.toLowerCase().includes('key') && typeof got === 'string') shown = '(hidden)';
  throw new ConfigurationError(`Setting "${name}" must be ${expected}; got ${shown}. Fix it in your config or RESTJWT_SETTINGS.`);
}

/** The result of reading a settings object: the settings and the names that were accepted but mean nothing here. */
export interface ResolvedSettings {
  settings: Settings;
  ignored: string[];
}

/**
 * Validates settings once, at start-up. Accepts restjwt's camelCase names and simplejwt's SIMPLE_JWT names
 * (`ACCESS_TOKEN_LIFETIME`…) in the same object; an unknown name is an error that suggests the right one.
 * Cross-setting rules (key strength, key presence) are checked when the keys are imported (keys/keyset.ts).
 */
export function resolveSettings(input: SettingsInput | Readonly<Record<string, unknown>> = {}): ResolvedSettings {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigurationError('Settings must be a JSON object such as {"accessTokenLifetime": "5m"}.');
  }
  const out: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  const ignored: string[] = [];
  const seen = new Map<string, string>();
  for (const [rawName, value] of Object.entries(input)) {
    if (value === undefined) continue;
    let name = rawName;
    if (Object.hasOwn(SIMPLE_JWT_NAMES, rawName)) {
      const mapped = SIMPLE_JWT_NAMES[rawName];
      if (mapped === null || mapped === undefined) {
        ignored.push(rawName);
        continue;
      }
      name = mapped;
    } else if (!KEYS.has(rawName)) {
      const hint = [...KEYS].find((k) => k.toLowerCase() === rawName.toLowerCase().replace(/_/g, ''));
      throw new ConfigurationError(
        `Unknown setting "${rawName}".${hint ? ` Did you mean "${hint}"?` : ''} See the settings table in the README.`,
      );
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new ConfigurationError(`Settings "${earlier}" and "${rawName}" are the same setting; keep only one.`);
    }
    seen.set(name, rawName);
    out[name] = CHECKS[name as keyof Settings](value, rawName);
  }
  const settings = out as unknown as Settings;
  if (settings.blacklistAfterRotation && !settings.rotateRefreshTokens) {
    // simplejwt allows it and it does nothing; say so rather than let a team believe rotation is on.
    ignored.push('blacklistAfterRotation (has no effect while rotateRefreshTokens is false)');
  }
  if (!settings.locales.includes('en')) {
    // English is the fallback for any message a catalogue lacks and for clients that ask for nothing.
    out.locales = Object.freeze(['en', ...settings.locales]);
  }
  return { settings: Object.freeze(out) as unknown as Settings, ignored };
}
