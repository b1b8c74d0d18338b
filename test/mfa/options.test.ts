/**
 * What `createMfa` refuses at start-up (every refusal a ConfigurationError that says what to do), the encryption of
 * secrets at rest, the binding of the routes to their service, and `restjwt serve`'s reading of the config's `mfa`
 * key (its encryption key from RESTJWT_MFA_KEY, the config, or a generated file beside the signing key).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError, createRestJwt } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';
import { createMfa, keyMaterial, type MfaOptions } from '@restjwt/mfa';
import { MfaKeyring } from '../../packages/mfa/src/secrets.js';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from '../../packages/mfa/src/recovery.js';
import { loadServeSettings, MFA_KEY_FILE, mfaOptionsFrom } from '../../packages/restjwt/src/cli/config.js';
import { SECRET } from '../helpers/server.js';
import { withoutCapability } from '../helpers/without-capability.js';
import { MFA_KEY, ORIGIN, RP_ID } from './app.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function options(extra: Partial<MfaOptions> = {}): MfaOptions {
  return { store: createMemoryStore(), rpId: RP_ID, rpName: 'restjwt', origins: [ORIGIN], encryptionKey: MFA_KEY, ...extra };
}

function refusal(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('not refused');
}

describe('createMfa', () => {
  it('refuses a store without second factors, naming the Django shared-database store', () => {
    const store = withoutCapability(createMemoryStore(), 'factors');
    expect(refusal(() => createMfa(options({ store })))).toMatch(/Django shared-database store has no second factor/);
    expect(refusal(() => createMfa(options({ store: withoutCapability(createMemoryStore(), 'oneTime') })))).toMatch(/one-time values/);
  });

  it('refuses a missing or short key, saying how to make one', () => {
    expect(refusal(() => createMfa(options({ encryptionKey: '' })))).toMatch(/no encryptionKey.*openssl rand -base64 32.*RESTJWT_MFA_KEY/);
    expect(refusal(() => createMfa(options({ encryptionKey: 'short passphrase' })))).toMatch(/too short \(16 characters\).*at least 32/);
    // Hex is key bytes: 62 digits are 31 bytes, too few (and not taken for a 62-character passphrase).
    expect(refusal(() => createMfa(options({ encryptionKey: 'ab'.repeat(31) })))).toMatch(/too short \(31 bytes of hex\)/);
  });

  it('reads a key as hex, base64 or base64url of 32+ bytes, or a passphrase of 32+ characters', () => {
    const bytes = Buffer.alloc(32, 9);
    expect(keyMaterial(bytes.toString('hex'))).toEqual(bytes);
    expect(keyMaterial(bytes.toString('base64'))).toEqual(bytes);
    expect(keyMaterial(bytes.toString('base64url'))).toEqual(bytes);
    const phrase = 'correct horse battery staple, forty characters';
    expect(keyMaterial(phrase)).toEqual(Buffer.from(phrase));
    for (const key of [bytes.toString('hex'), phrase]) expect(() => createMfa(options({ encryptionKey: key }))).not.toThrow();
  });

  it('refuses an RP id with a scheme, an IP, origins off the RP id or not written as browsers send them', () => {
    expect(refusal(() => createMfa(options({ rpId: 'https://example.com' })))).toMatch(/domain name without scheme/);
    expect(refusal(() => createMfa(options({ rpId: '127.0.0.1' })))).toMatch(/rpId/);
    expect(refusal(() => createMfa(options({ origins: [] })))).toMatch(/must list the origins/);
    expect(refusal(() => createMfa(options({ origins: ['http://localhost:8000/'] })))).toMatch(/no path or trailing slash/);
    expect(refusal(() => createMfa(options({ origins: ['https://evil.example'] })))).toMatch(/not on the RP id "localhost"/);
    expect(refusal(() => createMfa(options({ rpName: 'a:b' })))).toMatch(/rpName/);
    expect(() => createMfa(options({ rpId: 'example.com', origins: ['https://example.com', 'https://app.example.com'] }))).not.toThrow();
  });

  it('its routes bind it to the service built with its second factor, over the same store, once', () => {
    const store = createMemoryStore();
    const mfa = createMfa(options({ store }));
    const without = createRestJwt({ store, settings: { signingKey: SECRET } });
    expect(refusal(() => mfa.routes(without))).toMatch(/createRestJwt\(\{ store, secondFactor: mfa.secondFactor/);
    const elsewhere = createRestJwt({ store: createMemoryStore(), settings: { signingKey: SECRET }, secondFactor: mfa.secondFactor });
    expect(refusal(() => mfa.routes(elsewhere))).toMatch(/different stores/);
    const restjwt = createRestJwt({ store, settings: { signingKey: SECRET }, secondFactor: mfa.secondFactor });
    const routes = mfa.routes(restjwt);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/mfa/',
      'POST /api/mfa/totp/',
      'POST /api/mfa/totp/:id/confirm/',
      'POST /api/mfa/webauthn/register/options/',
      'POST /api/mfa/webauthn/register/',
      'POST /api/mfa/recovery-codes/',
      'POST /api/mfa/factors/:id/remove/',
      'POST /api/token/passkey/options/',
      'POST /api/token/passkey/',
    ]);
    expect(mfa.routes(restjwt)).toHaveLength(routes.length);
    const another = createRestJwt({ store, settings: { signingKey: SECRET }, secondFactor: mfa.secondFactor });
    expect(refusal(() => mfa.routes(another))).toMatch(/already mounted/);
  });
});

describe('secrets at rest', () => {
  it('seals with AES-256-GCM as v1.<iv>.<ciphertext+tag>, a fresh IV each time, bound to the user', () => {
    const ring = new MfaKeyring(MFA_KEY);
    const a = ring.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', '42');
    const b = ring.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', '42');
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{64}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('JBSWY3DP');
    expect(ring.open(a, '42')).toBe('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    // Another user's row, another key, a changed byte: none opens, and the message says what to do.
    expect(() => ring.open(a, '43')).toThrow(/does not decrypt with the current mfa encryptionKey.*Restore the previous key/);
    expect(() => new MfaKeyring(Buffer.alloc(32, 8).toString('base64')).open(a, '42')).toThrow(/the key changed/);
    const tampered = `${a.slice(0, -2)}${a.endsWith('A') ? 'B' : 'A'}${a.slice(-1)}`;
    expect(() => ring.open(tampered, '42')).toThrow();
    expect(() => ring.open('plain-secret', '42')).toThrow(/not in the v1 format/);
  });

  it('keeps recovery codes as keyed hashes of their normalized form; 50 bits from a readable alphabet', () => {
    const ring = new MfaKeyring(MFA_KEY);
    const key = ring.subkey('recovery-code');
    expect(key.equals(ring.subkey('totp-secret'))).toBe(false);
    const [code] = newRecoveryCodes(1) as [string];
    expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
    const normalized = normalizeRecoveryCode(code) as string;
    expect(normalizeRecoveryCode(` ${code.toUpperCase().replace('-', ' - ')} `)).toBe(normalized);
    expect(normalizeRecoveryCode('ilo00-11111')).toBe('11000' + '11111');
    expect(normalizeRecoveryCode('abcd')).toBeNull();
    expect(normalizeRecoveryCode('uuuuu-uuuuu')).toBeNull();
    const hash = hashRecoveryCode(key, normalized);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRecoveryCode(new MfaKeyring(Buffer.alloc(32, 8).toString('base64')).subkey('recovery-code'), normalized)).not.toBe(hash);
  });
});

describe("restjwt serve's mfa settings", () => {
  const config = { rpId: RP_ID, rpName: 'restjwt', origins: [ORIGIN] };

  function dataDir(): { dir: string; database: string } {
    const dir = mkdtempSync(join(tmpdir(), 'restjwt-mfa-cli-'));
    dirs.push(dir);
    return { dir, database: `sqlite:${join(dir, 'db.sqlite3')}` };
  }

  it('is off without an "mfa" object, and refuses one that is not an object', async () => {
    const { database } = dataDir();
    expect(await mfaOptionsFrom({}, database, [], {})).toBeUndefined();
    await expect(mfaOptionsFrom({ mfa: 'yes' }, database, [], {})).rejects.toThrow(/must be an object/);
  });

  it('creates the key beside the database (mode 0600, with a notice), then reuses it', async () => {
    const { dir, database } = dataDir();
    const notices: string[] = [];
    const first = await mfaOptionsFrom({ mfa: config }, database, notices, {});
    const path = join(dir, MFA_KEY_FILE);
    expect(first).toMatchObject({ ...config, encryptionKey: readFileSync(path, 'utf8').trim() });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(first?.encryptionKey ?? '', 'base64url')).toHaveLength(32);
    expect(notices).toEqual([expect.stringMatching(/created a new MFA encryption key in .*mfa-key \(mode 0600\)\. Keep it secret and back it up/)]);
    const again: string[] = [];
    expect((await mfaOptionsFrom({ mfa: config }, database, again, {}))?.encryptionKey).toBe(first?.encryptionKey);
    expect(again).toEqual([expect.stringMatching(/using the MFA encryption key in/)]);
  });

  it('takes RESTJWT_MFA_KEY first, then the config\'s key, and creates no file for either', async () => {
    const { dir, database } = dataDir();
    expect((await mfaOptionsFrom({ mfa: { ...config, encryptionKey: 'from-config' } }, database, [], { RESTJWT_MFA_KEY: 'from-env' }))?.encryptionKey).toBe('from-env');
    expect((await mfaOptionsFrom({ mfa: { ...config, encryptionKey: 'from-config' } }, database, [], {}))?.encryptionKey).toBe('from-config');
    expect(() => statSync(join(dir, MFA_KEY_FILE))).toThrow();
  });

  it('refuses mfa with the Django shared-database store before anything is created', async () => {
    await expect(mfaOptionsFrom({ mfa: config }, 'django+postgres://u@127.0.0.1:1/app', [], {})).rejects.toThrow(/Django shared-database store has no second factor/);
  });

  it('loadServeSettings hands the mfa options over and keeps them out of the token settings', async () => {
    const { database } = dataDir();
    const loaded = await loadServeSettings({ config: undefined, database, env: { RESTJWT_SETTINGS: JSON.stringify({ signingKey: SECRET, mfa: config }), RESTJWT_MFA_KEY: MFA_KEY } });
    expect(loaded.mfa).toEqual({ ...config, encryptionKey: MFA_KEY });
    expect(loaded.input.mfa).toBeUndefined();
  });
});
