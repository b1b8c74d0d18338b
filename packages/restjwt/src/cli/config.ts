/**
 * Settings for the CLI: read from `--config FILE` or `RESTJWT_SETTINGS`, with the signing key from
 * `RESTJWT_SIGNING_KEY`, and, for `serve`, a generated signing key kept in the data directory (and, with second
 * factors on, their encryption key from `RESTJWT_MFA_KEY` or generated beside it).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigurationError, resolveSettings, type Settings } from '@restjwt/core';
import { DEFAULT_LOGIN_THROTTLE, ALGORITHM_SPECS, buildKeyset } from '@restjwt/core/adapter-kit';
import type { MfaOptions } from '@restjwt/mfa';
import type { ProviderConfig, SocialOptions } from '@restjwt/social';
import { isDjangoUrl } from '../stores/django/url.js';
import { isSqliteUrl, sqliteFilenameFromUrl } from '@restjwt/sqlite';
import { kidForSecret, liveRetiredKeys, readRetiredKeys, SIGNING_KEY_FILE } from './key-rotation.js';

/** Settings as given by the operator (camelCase or SIMPLE_JWT names), before validation. */
export type SettingsObject = Record<string, unknown>;

/** Where settings came from, for messages. */
export interface LoadedSettings {
  input: SettingsObject;
  /** `the config file PATH`, `RESTJWT_SETTINGS`, or `defaults`. */
  origin: string;
}

export { SIGNING_KEY_FILE } from './key-rotation.js';

/** Data directory when the database is not a SQLite file. */
export const FALLBACK_DATA_DIR = '.restjwt';

/**
 * Reads the settings object: `configFile` (JSON) when given, else the JSON in `RESTJWT_SETTINGS`, else `{}`.
 *
 * @throws ConfigurationError naming the file (or variable) and the position of a JSON syntax error.
 */
export async function loadSettingsInput(configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<LoadedSettings> {
  if (configFile !== undefined) {
    let text: string;
    try {
      text = await readFile(configFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      throw new ConfigurationError(`Cannot read the config file ${configFile}: ${why}. Check the path given to --config.`);
    }
    const origin = `the config file ${configFile}`;
    return { input: parseSettingsJson(text, origin), origin };
  }
  const fromEnv = env.RESTJWT_SETTINGS;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return { input: parseSettingsJson(fromEnv, 'RESTJWT_SETTINGS'), origin: 'RESTJWT_SETTINGS' };
  }
  return { input: {}, origin: 'defaults' };
}

/** Parses settings JSON; a syntax error names `origin`, the line and the column. */
export function parseSettingsJson(text: string, origin: string): SettingsObject {
  let value: unknown;
  try {
    // A UTF-8 byte order mark (some editors write one) is not JSON.
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    // Newer Node versions append "(line L column C)" themselves; recompute it the same way on every version.
    const message = raw.replace(/\s*\(line \d+ column \d+\)\s*$/, '');
    const position = /at position (\d+)/.exec(message)?.[1];
    let where = '';
    if (position !== undefined) {
      const before = text.slice(0, Number(position));
      const line = before.split('\n').length;
      const column = Number(position) - before.lastIndexOf('\n');
      where = ` (line ${line}, column ${column})`;
    } else if (/end of (JSON )?input/i.test(message)) {
      where = ' (at the end: the JSON is cut short)';
    }
    throw new ConfigurationError(`${capitalize(origin)} is not valid JSON: ${message}${where}. Fix the JSON and try again.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigurationError(`${capitalize(origin)} must hold a JSON object such as {"accessTokenLifetime": "5m"}.`);
  }
  return value as SettingsObject;
}

/** True when `input` sets the setting under its camelCase or its SIMPLE_JWT name. */
export function hasSetting(input: SettingsObject, camel: string, simpleJwt: string): boolean {
  return input[camel] !== undefined || input[simpleJwt] !== undefined;
}

/** `RESTJWT_SIGNING_KEY` replaces the config's key (under either name), so secrets can stay out of config files. */
export function applySigningKeyFromEnv(input: SettingsObject, env: NodeJS.ProcessEnv = process.env): SettingsObject {
  const key = env.RESTJWT_SIGNING_KEY;
  if (key === undefined || key === '') return input;
  const out: SettingsObject = { ...input, signingKey: key };
  delete out.SIGNING_KEY;
  return out;
}

/**
 * Validates `input` as settings (see `resolveSettings`), prefixing errors with where the settings came from.
 *
 * @throws ConfigurationError for an unknown setting or a bad value.
 */
export function validateSettings(
  loaded: LoadedSettings,
  input: SettingsObject = loaded.input,
): { settings: Settings; ignored: string[] } {
  try {
    // `social` and `mfa` configure social login (socialOptionsFrom) and second factors (mfaOptionsFrom), not the token settings.
    const { social: _social, mfa: _mfa, ...settings } = input;
    return resolveSettings(settings);
  } catch (error) {
    if (error instanceof ConfigurationError && loaded.origin !== 'defaults') {
      throw new ConfigurationError(`In ${loaded.origin}: ${error.message}`);
    }
    throw error;
  }
}

/**
 * The reference server's safer defaults, each unless the settings choose otherwise: refresh-token rotation with
 * blacklisting of the used token, login throttling, and recording each user's last login. Returns the settings to
 * use and the notices to print at start-up, one per default applied (none when the settings choose every one).
 */
export function applyServerDefaults(input: SettingsObject): { input: SettingsObject; notices: string[] } {
  const out = { ...input };
  const notices: string[] = [];
  /** Turns on each of `names` ([camelCase, SIMPLE_JWT name if any]) the settings leave unset; returns those. */
  const turnOn = (names: ReadonlyArray<readonly [string, string?]>): string[] => {
    const changed = names.filter(([camel, simpleJwt]) => !hasSetting(input, camel, simpleJwt ?? camel)).map(([camel]) => camel);
    for (const name of changed) out[name] = true;
    return changed;
  };
  const offHint = (changed: string[]): string => `Set ${changed.map((c) => `"${c}": false`).join(' and ')} in the config to turn it off.`;
  const rotation = turnOn([
    ['rotateRefreshTokens', 'ROTATE_REFRESH_TOKENS'],
    ['blacklistAfterRotation', 'BLACKLIST_AFTER_ROTATION'],
  ]);
  if (rotation.length > 0) {
    notices.push(
      `${rotation.join(' and ')} ${rotation.length === 1 ? 'is' : 'are'} on: the reference server turns refresh-token ` +
        `rotation on by default (the library keeps simplejwt's defaults). ${offHint(rotation)}`,
    );
  }
  const throttle = turnOn([['loginThrottle']]);
  if (throttle.length > 0) {
    const { perUsernameAndAddress: ua, perUsername: u, perAddress: a } = DEFAULT_LOGIN_THROTTLE;
    notices.push(
      `loginThrottle is on: the reference server throttles logins by default (${ua.limit} failures per username and ` +
        `address, ${u.limit} per username, ${a.limit} per address, per ${ua.windowSeconds / 60} minutes; the library's ` +
        `default is off). ${offHint(throttle)}`,
    );
  }
  const lastLogin = turnOn([['updateLastLogin', 'UPDATE_LAST_LOGIN']]);
  if (lastLogin.length > 0) {
    notices.push(
      'updateLastLogin is on: the reference server records each login as the user\'s last login by default (the admin ' +
        `page shows it; simplejwt's default is off). ${offHint(lastLogin)}`,
    );
  }
  return { input: out, notices };
}

/**
 * Where `serve` keeps generated files: the directory of the SQLite database file, or `./.restjwt/` when the
 * database is not a file (`memory:`, `sqlite::memory:`).
 */
export function dataDirectoryFor(databaseUrl: string): string {
  if (isSqliteUrl(databaseUrl)) {
    const filename = sqliteFilenameFromUrl(databaseUrl);
    if (filename !== ':memory:') return dirname(resolve(filename));
  }
  return resolve(FALLBACK_DATA_DIR);
}

/** The signing key `serve` uses, and whether it was just created. */
export interface GeneratedKey {
  key: string;
  path: string;
  created: boolean;
}

/** What a generated key file holds, for messages: its name and the variable that replaces it. */
interface KeyFileKind {
  /** "signing key", "MFA encryption key". */
  what: string;
  /** The environment variable that makes the file unnecessary. */
  env: string;
}

const SIGNING_KEY: KeyFileKind = { what: 'signing key', env: 'RESTJWT_SIGNING_KEY' };
const MFA_KEY: KeyFileKind = { what: 'MFA encryption key', env: 'RESTJWT_MFA_KEY' };

/**
 * Returns the signing key stored in `dir/signing-key`, creating it (64 random bytes, base64url, mode 0600) when
 * missing. Refuses a file other users can read: a leaked HMAC key lets anyone mint tokens.
 *
 * @throws ConfigurationError when the file is too widely readable, empty, or cannot be written.
 */
export async function ensureSigningKeyFile(dir: string): Promise<GeneratedKey> {
  return ensureKeyFile(dir, SIGNING_KEY_FILE, 64, SIGNING_KEY);
}

/** Where `serve` keeps the generated MFA encryption key, beside the signing key. */
export const MFA_KEY_FILE = 'mfa-key';

/**
 * Returns the MFA encryption key stored in `dir/mfa-key`, creating it (32 random bytes, base64url, mode 0600) when
 * missing, as {@link ensureSigningKeyFile} does: whoever reads it can decrypt every authenticator app secret.
 *
 * @throws ConfigurationError when the file is too widely readable, empty, or cannot be written.
 */
export async function ensureMfaKeyFile(dir: string): Promise<GeneratedKey> {
  return ensureKeyFile(dir, MFA_KEY_FILE, 32, MFA_KEY);
}

/** A secret kept in `dir/name` (`bytes` random bytes, base64url, mode 0600), created once and then reused. */
async function ensureKeyFile(dir: string, name: string, bytes: number, kind: KeyFileKind): Promise<GeneratedKey> {
  const path = join(dir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(bytes).toString('base64url');
  try {
    // 'wx' fails when the file exists, so two processes starting together never overwrite each other's key.
    await writeFile(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return { key, path, created: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      throw new ConfigurationError(
        `Cannot create the ${kind.what} file ${path} (${code ?? (error as Error).message}). Make ${dir} writable by this ` +
          `process, or set ${kind.env}.`,
      );
    }
  }
  return { key: await readKeyFile(path, kind), path, created: false };
}

/** Reads an existing key file after checking its type and mode. */
async function readKeyFile(path: string, kind: KeyFileKind): Promise<string> {
  const info = await stat(path);
  if (!info.isFile()) throw new ConfigurationError(`${path} is not a regular file. Remove it so that a new ${kind.what} can be created.`);
  // POSIX permission bits mean nothing on Windows.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new ConfigurationError(
      `The ${kind.what} file ${path} is readable by other users (mode ${mode}). Run "chmod 600 ${path}" and start again.`,
    );
  }
  // Another process may have created the file an instant ago and not written it yet: wait briefly for its content.
  for (let attempt = 0; ; attempt++) {
    const key = (await readFile(path, 'utf8')).trim();
    if (key !== '') return key;
    if (attempt >= 20) {
      throw new ConfigurationError(`The ${kind.what} file ${path} is empty. Delete it so that "restjwt serve" creates a new one.`);
    }
    await sleep(50);
  }
}

/** True when `settings` sign with an HMAC algorithm, whose key `serve` can generate. */
export function usesHmac(settings: Settings): boolean {
  return ALGORITHM_SPECS[settings.algorithm].family === 'hmac';
}

/** What `serve` runs with. */
export interface ServeSettings {
  /** The settings object to hand to `createRestJwt`. */
  input: SettingsObject;
  /** `input` resolved, for what start-up reports (whether login throttling is on). */
  settings: Settings;
  /** Lines to show the operator at start-up (on stderr). */
  notices: string[];
  /** Social login, when the config or the environment configures a provider (for `createSocialLogin`). */
  social?: SocialOptions;
  /** Second factors, when the config has an `mfa` object (for `createMfa`, with the store added). */
  mfa?: MfaConfig;
}

/** The config's `mfa` object as `createMfa` takes it, the store aside. */
export type MfaConfig = Omit<MfaOptions, 'store'>;

const SOCIAL_PRESETS = ['github', 'google', 'microsoft', 'gitlab'] as const;

/**
 * Social login settings: the config's `social` object (docs/social-login.md), with preset providers added from
 * `RESTJWT_SOCIAL_{GITHUB,GOOGLE,MICROSOFT,GITLAB}_CLIENT_ID` and `_CLIENT_SECRET` (secrets stay out of files), and
 * `RESTJWT_SOCIAL_PUBLIC_URL` and `RESTJWT_SOCIAL_REDIRECTS` (comma-separated) overriding the config. Undefined
 * when no provider is configured. Checked by `createSocialLogin`.
 */
export function socialOptionsFrom(input: SettingsObject, env: NodeJS.ProcessEnv = process.env): SocialOptions | undefined {
  const config = (typeof input.social === 'object' && input.social !== null ? input.social : {}) as Partial<SocialOptions>;
  const providers: Record<string, NonNullable<SocialOptions['providers'][string]>> = { ...config.providers };
  for (const type of SOCIAL_PRESETS) {
    const clientId = env[`RESTJWT_SOCIAL_${type.toUpperCase()}_CLIENT_ID`];
    const clientSecret = env[`RESTJWT_SOCIAL_${type.toUpperCase()}_CLIENT_SECRET`];
    if (clientId && clientSecret) providers[type] = { ...(providers[type] as object), type, clientId, clientSecret } as ProviderConfig;
  }
  if (Object.keys(providers).length === 0) return undefined;
  const redirects = env.RESTJWT_SOCIAL_REDIRECTS?.split(',').map((r) => r.trim()).filter((r) => r !== '');
  return { ...config, providers, publicUrl: env.RESTJWT_SOCIAL_PUBLIC_URL || config.publicUrl || '', allowedRedirects: redirects ?? config.allowedRedirects ?? [] };
}

/**
 * Everything `serve` needs before opening the store: settings from the config, the signing key from the environment
 * or the data directory, and the server's rotation defaults.
 */
export async function loadServeSettings(options: {
  config: string | undefined;
  database: string;
  env?: NodeJS.ProcessEnv;
}): Promise<ServeSettings> {
  const env = options.env ?? process.env;
  const loaded = await loadSettingsInput(options.config, env);
  const notices: string[] = [];
  const withDefaults = applyServerDefaults(applySigningKeyFromEnv(loaded.input, env));
  let input = withDefaults.input;
  notices.push(...withDefaults.notices);
  if (isDjangoUrl(options.database) && input.rehashPasswords === undefined) {
    // Shared with a Django deployment: Django must keep reading the hashes it wrote.
    input = { ...input, rehashPasswords: false };
    notices.push('rehashPasswords is off: the user table is shared with Django, which must keep reading its own password hashes.');
  }

  const { settings, ignored } = validateSettings(loaded, input);
  for (const name of ignored) notices.push(`setting ${name} is ignored.`);

  if (settings.signingKey === undefined && usesHmac(settings)) {
    const dir = dataDirectoryFor(options.database);
    const generated = await ensureSigningKeyFile(dir);
    // Keys retired by "restjwt rotatekey" keep verifying until the tokens they signed have expired.
    const keep = Math.max(settings.refreshTokenLifetime, settings.slidingTokenRefreshLifetime, settings.accessTokenLifetime);
    const retired = liveRetiredKeys(await readRetiredKeys(dir), keep).map(({ alg, key, kid }) => ({ alg, key, kid }));
    input = {
      ...input,
      signingKey: generated.key,
      signingKeyId: kidForSecret(generated.key),
      additionalVerifyingKeys: [...settings.additionalVerifyingKeys, ...retired],
    };
    if (retired.length > 0) notices.push(`${retired.length} retired signing key(s) still verify.`);
    notices.push(
      generated.created
        ? `created a new signing key in ${generated.path} (mode 0600). Keep it secret and back it up: tokens signed ` +
            'with it stop verifying if it is lost.'
        : `using the signing key in ${generated.path}.`,
    );
  }
  const resolved = validateSettings(loaded, input).settings;
  // Import the keys now, so a key mistake is reported before any database file is created.
  buildKeyset(resolved);
  const social = socialOptionsFrom(input, env);
  const mfa = await mfaOptionsFrom(input, options.database, notices, env);
  const { social: _social, mfa: _mfa, ...settingsOnly } = input;
  return { input: settingsOnly, settings: resolved, notices, ...(social === undefined ? {} : { social }), ...(mfa === undefined ? {} : { mfa }) };
}

/**
 * Second factors' settings: the config's `mfa` object (`rpId`, `rpName`, `origins`, `encryptionKey`, `issuer`), its
 * key replaced by `RESTJWT_MFA_KEY` (secrets stay out of files), or else kept in the data directory as `mfa-key`
 * (created at the first start, mode 0600, with a notice). Undefined without an `mfa` object: second factors are off.
 * The rest is checked by `createMfa`.
 *
 * @throws ConfigurationError when `mfa` is not an object, or the database is the Django shared-database store.
 */
export async function mfaOptionsFrom(input: SettingsObject, database: string, notices: string[], env: NodeJS.ProcessEnv = process.env): Promise<MfaConfig | undefined> {
  const config = input.mfa;
  if (config === undefined || config === null || config === false) return undefined;
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigurationError('The config\'s "mfa" must be an object such as {"rpId": "localhost", "rpName": "restjwt", "origins": ["http://localhost:8000"]}.');
  }
  if (isDjangoUrl(database)) {
    throw new ConfigurationError(
      'Second factors ("mfa" in the config) need restjwt\'s own database: the Django shared-database store has no second factor tables. ' +
        'Remove "mfa" from the config, or serve a restjwt database (sqlite:…, postgres://…, mysql://…).',
    );
  }
  const given = config as Partial<MfaConfig>;
  const fromEnv = env.RESTJWT_MFA_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { ...given, encryptionKey: fromEnv } as MfaConfig;
  if (typeof given.encryptionKey === 'string' && given.encryptionKey.trim() !== '') return given as MfaConfig;
  const generated = await ensureMfaKeyFile(dataDirectoryFor(database));
  notices.push(
    generated.created
      ? `created a new MFA encryption key in ${generated.path} (mode 0600). Keep it secret and back it up: without it, enrolled ` +
          'authenticator apps stop working and recovery codes stop matching (set RESTJWT_MFA_KEY to keep it elsewhere).'
      : `using the MFA encryption key in ${generated.path}.`,
  );
  return { ...given, encryptionKey: generated.key } as MfaConfig;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
