// The password hasher as it runs on Cloudflare Workers, told apart by the user agent Cloudflare documents for it
// ('Cloudflare-Workers'): no native module loads there, so new hashes are Django pbkdf2_sha256 at the platform's
// 100 000 iterations, and stored hashes it cannot check are a typed error. A file of its own: @node-rs/argon2, once
// loaded by another test, would stay loaded in the module. The real runtime is probed in workerd (README).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, PasswordHashUnsupportedError } from '../../packages/core/src/errors.js';
import { createPasswordHasher, verifyDjangoPbkdf2 } from '../../packages/core/src/passwords/index.js';

const PASSWORD = 'correct horse battery staple';
// As in passwords.test.ts: Python hashlib as Django's PBKDF2PasswordHasher, and the argon2 reference vectors.
const DJANGO_PBKDF2_870K = 'pbkdf2_sha256$870000$seasalt123$U7pTldXB09kkAQcOM5P/ZZfXEvPzuGqQuJQR4YFPNws=';
const DJANGO_PBKDF2_1K = 'pbkdf2_sha256$1000$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=';
const REF_ARGON2ID = '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
const REF_ARGON2ID_M256 = '$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4';

describe('on Cloudflare Workers (navigator.userAgent "Cloudflare-Workers": no native module loads)', () => {
  const onWorkers = () => vi.stubGlobal('navigator', { userAgent: 'Cloudflare-Workers', hardwareConcurrency: 1 });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('hashes pbkdf2_sha256 at 100 000 iterations by default', async () => {
    onWorkers();
    const hasher = createPasswordHasher();
    const encoded = await hasher.hash(PASSWORD);
    expect(encoded).toMatch(/^pbkdf2_sha256\$100000\$/);
    expect(await hasher.verify(encoded, PASSWORD)).toBe(true);
  });

  it('refuses argon2id, and iterations above the platform\'s 100 000, at creation', () => {
    onWorkers();
    expect(() => createPasswordHasher({ algorithm: 'argon2id' })).toThrow(ConfigurationError);
    expect(() => createPasswordHasher({ pbkdf2: { iterations: 100_001 } })).toThrow(/up to 100000 on this runtime/);
  });

  it('answers a typed error, not false, for a stored hash it cannot check: argon2, or PBKDF2 above 100 000', async () => {
    onWorkers();
    const hasher = createPasswordHasher();
    for (const [encoded, format] of [
      [REF_ARGON2ID, 'argon2'],
      [`argon2${REF_ARGON2ID_M256}`, 'argon2'],
      [DJANGO_PBKDF2_870K, 'pbkdf2_sha256'],
    ] as const) {
      const error: unknown = await hasher.verify(encoded, PASSWORD).catch((e: unknown) => e);
      expect(error, encoded).toBeInstanceOf(PasswordHashUnsupportedError);
      expect((error as PasswordHashUnsupportedError).format).toBe(format);
      expect((error as Error).message).not.toContain(PASSWORD);
    }
    expect((await verifyDjangoPbkdf2(DJANGO_PBKDF2_870K, PASSWORD).catch((e: unknown) => e)) as Error).toBeInstanceOf(PasswordHashUnsupportedError);
    // Within the limit, Django's hashes verify as anywhere else.
    expect(await hasher.verify(DJANGO_PBKDF2_1K, PASSWORD)).toBe(true);
    expect(await hasher.verify(DJANGO_PBKDF2_1K, 'wrong')).toBe(false);
  });
});
