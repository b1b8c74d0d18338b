import { pbkdf2Sync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import {
  createPasswordHasher,
  DEFAULT_ARGON2_PARAMS,
  DEFAULT_PBKDF2_ITERATIONS,
  encodeDjangoPbkdf2,
  parseDjangoPbkdf2,
  verifyDjangoPbkdf2,
  WORKERS_PBKDF2_MAX_ITERATIONS,
} from '../../packages/core/src/passwords/index.js';

const PASSWORD = 'correct horse battery staple';

// Computed once, independently, with Python as Django's PBKDF2PasswordHasher does:
//   base64.b64encode(hashlib.pbkdf2_hmac('sha256', password.encode(), salt.encode(), iterations))
const DJANGO_PBKDF2_870K = 'pbkdf2_sha256$870000$seasalt123$U7pTldXB09kkAQcOM5P/ZZfXEvPzuGqQuJQR4YFPNws=';
const DJANGO_PBKDF2_1K = 'pbkdf2_sha256$1000$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=';
// Non-ASCII password, to pin UTF-8 encoding: password 'pässwörd ✓', salt 'NaCl', 1000 iterations.
const DJANGO_PBKDF2_UNICODE = 'pbkdf2_sha256$1000$NaCl$UZGsaeg+ag+FIjwuEetyI1VRoMe674UJjznurfFBhNo=';

// Reference-implementation (phc-winner-argon2) vectors: password 'password', salt 'somesalt'.
const REF_ARGON2ID = '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
const REF_ARGON2ID_M256 = '$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4';
const REF_ARGON2I = '$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

describe('argon2id', () => {
  const hasher = createPasswordHasher();

  // Spec order m,t,p matters: the reference C decoder (argon2-cffi, so Django; libsodium) rejects any other order.
  it('round-trips and writes the OWASP parameters into the PHC string, in spec order', async () => {
    const encoded = await hasher.hash(PASSWORD);
    expect(encoded).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(encoded).not.toContain(PASSWORD);
    expect(await hasher.verify(encoded, PASSWORD)).toBe(true);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hasher.hash(PASSWORD), hasher.hash(PASSWORD)]);
    expect(a).not.toBe(b);
  });

  it('rejects a wrong password', async () => {
    const encoded = await hasher.hash(PASSWORD);
    expect(await hasher.verify(encoded, 'correct horse battery stapler')).toBe(false);
    expect(await hasher.verify(encoded, '')).toBe(false);
  });

  it('uses custom parameters when given', async () => {
    const custom = createPasswordHasher({ argon2: { memoryCost: 1024, timeCost: 1 } });
    const encoded = await custom.hash(PASSWORD);
    expect(encoded).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await custom.verify(encoded, PASSWORD)).toBe(true);
  });

  it('verifies the reference implementation vectors (argon2id and argon2i)', async () => {
    expect(await hasher.verify(REF_ARGON2ID, 'password')).toBe(true);
    expect(await hasher.verify(REF_ARGON2ID, 'passwore')).toBe(false);
    expect(await hasher.verify(REF_ARGON2ID_M256, 'password')).toBe(true);
    expect(await hasher.verify(REF_ARGON2I, 'password')).toBe(true);
    expect(await hasher.verify(REF_ARGON2I, 'passwore')).toBe(false);
  });

  it('rejects invalid parameters at creation', () => {
    expect(() => createPasswordHasher({ argon2: { timeCost: 0 } })).toThrow(RangeError);
    expect(() => createPasswordHasher({ argon2: { memoryCost: 1.5 } })).toThrow(RangeError);
    expect(() => createPasswordHasher({ argon2: { memoryCost: 8, parallelism: 2 } })).toThrow(RangeError);
  });

  it('exposes the OWASP defaults', () => {
    expect(DEFAULT_ARGON2_PARAMS).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  });
});

describe('Django pbkdf2_sha256', () => {
  const hasher = createPasswordHasher();

  it('verifies hashes made by Python hashlib as Django makes them', async () => {
    expect(await hasher.verify(DJANGO_PBKDF2_870K, PASSWORD)).toBe(true);
    expect(await hasher.verify(DJANGO_PBKDF2_1K, PASSWORD)).toBe(true);
    expect(await hasher.verify(DJANGO_PBKDF2_UNICODE, 'pässwörd ✓')).toBe(true);
  });

  it('rejects wrong passwords', async () => {
    expect(await hasher.verify(DJANGO_PBKDF2_1K, 'Correct horse battery staple')).toBe(false);
    expect(await hasher.verify(DJANGO_PBKDF2_870K, '')).toBe(false);
    expect(await hasher.verify(DJANGO_PBKDF2_UNICODE, 'passwörd ✓')).toBe(false);
  });

  it('encodes exactly as Django does', async () => {
    expect(await encodeDjangoPbkdf2(PASSWORD, 'seasalt123', 870000)).toBe(DJANGO_PBKDF2_870K);
    expect(await encodeDjangoPbkdf2(PASSWORD, 'seasalt123', 1000)).toBe(DJANGO_PBKDF2_1K);
    expect(await encodeDjangoPbkdf2('pässwörd ✓', 'NaCl', 1000)).toBe(DJANGO_PBKDF2_UNICODE);
  });

  it('parses the fields', () => {
    const parsed = parseDjangoPbkdf2(DJANGO_PBKDF2_1K);
    expect(parsed?.iterations).toBe(1000);
    expect(parsed?.salt).toBe('seasalt123');
    expect(parsed?.hash.length).toBe(32);
  });

  it('treats malformed pbkdf2 strings as non-matching', async () => {
    const malformed = [
      'pbkdf2_sha256$1000$seasalt123',
      'pbkdf2_sha256$0$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=',
      'pbkdf2_sha256$-5$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=',
      'pbkdf2_sha256$abc$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=',
      'pbkdf2_sha256$99999999999$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=',
      'pbkdf2_sha256$1000$$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=',
      'pbkdf2_sha256$1000$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA',
      'pbkdf2_sha256$1000$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=$extra',
      'pbkdf2_sha1$1000$seasalt123$mi/mouJNitkW01F5F1gueFuRlWbcQkpDEMxeAA/Xa9k=',
    ];
    for (const encoded of malformed) {
      expect(await verifyDjangoPbkdf2(encoded, PASSWORD), encoded).toBe(false);
      expect(await hasher.verify(encoded, PASSWORD), encoded).toBe(false);
    }
  });

  it('refuses bad encode arguments without echoing the password', async () => {
    const secret = 'hunter2-do-not-log';
    for (const [salt, iterations] of [['', 1000], ['a$b', 1000], ['salt', 0], ['salt', 1.5]] as const) {
      const error: unknown = await encodeDjangoPbkdf2(secret, salt, iterations).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect(String((error as Error).message)).not.toContain(secret);
    }
  });
});

describe('Django argon2', () => {
  const hasher = createPasswordHasher();

  it("verifies Django's 'argon2' + PHC format", async () => {
    // What Django's Argon2PasswordHasher stores for the reference vector: 'argon2' + argon2-cffi's PHC string.
    expect(await hasher.verify(`argon2${REF_ARGON2ID_M256}`, 'password')).toBe(true);
    expect(await hasher.verify(`argon2${REF_ARGON2ID_M256}`, 'passwore')).toBe(false);
    expect(await hasher.verify(`argon2${REF_ARGON2I}`, 'password')).toBe(true);
  });

  it('verifies a Django-format hash of a fresh argon2id hash', async () => {
    const phc = await hasher.hash(PASSWORD);
    expect(await hasher.verify(`argon2${phc}`, PASSWORD)).toBe(true);
    expect(await hasher.verify(`argon2${phc}`, 'nope')).toBe(false);
  });
});

describe('needsRehash', () => {
  const hasher = createPasswordHasher();

  it('is false for a current argon2id hash', async () => {
    expect(hasher.needsRehash(await hasher.hash(PASSWORD))).toBe(false);
  });

  it('is true for pbkdf2, other argon2 variants, other parameters and Django-prefixed argon2id', async () => {
    expect(hasher.needsRehash(DJANGO_PBKDF2_870K)).toBe(true);
    expect(hasher.needsRehash(REF_ARGON2ID)).toBe(true);
    expect(hasher.needsRehash(REF_ARGON2I)).toBe(true);
    expect(hasher.needsRehash('$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA')).toBe(
      true,
    );
    const other = createPasswordHasher({ argon2: { memoryCost: 1024, timeCost: 1 } });
    const otherHash = await other.hash(PASSWORD);
    expect(hasher.needsRehash(otherHash)).toBe(true);
    expect(other.needsRehash(otherHash)).toBe(false);
    expect(hasher.needsRehash(`argon2${await hasher.hash(PASSWORD)}`)).toBe(true);
  });

  it('is true for garbage without throwing', () => {
    for (const encoded of ['', '!unusable', 'garbage', '$argon2id$', '$argon2id$v=19$m=x']) {
      expect(hasher.needsRehash(encoded)).toBe(true);
    }
  });
});

describe('unusable and unknown hashes', () => {
  const hasher = createPasswordHasher();

  it('verify false without throwing', async () => {
    const bad = [
      '',
      '!',
      '!Xq8b3kV0yHfz1e9VdGQ2a5mT7nWcLpR4sJ6uEoYi', // Django's make_password(None)
      `!${DJANGO_PBKDF2_1K}`,
      'garbage',
      '$argon2id$',
      '$argon2id$v=19$m=19456,t=2,p=1$notbase64!!$abc',
      'argon2$argon2id$broken',
      'argon2$',
      'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu',
      'md5$salt$0123456789abcdef0123456789abcdef',
      '$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ012',
      '$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA',
    ];
    for (const encoded of bad) {
      expect(await hasher.verify(encoded, PASSWORD), encoded).toBe(false);
      expect(await hasher.verify(encoded, ''), encoded).toBe(false);
    }
  });

  it('verify false for non-string inputs from JavaScript callers', async () => {
    expect(await hasher.verify(null as unknown as string, PASSWORD)).toBe(false);
    expect(await hasher.verify(DJANGO_PBKDF2_1K, undefined as unknown as string)).toBe(false);
  });
});

describe('burn', () => {
  it('resolves without a value, for any input', async () => {
    const hasher = createPasswordHasher({ argon2: { memoryCost: 1024, timeCost: 1 } });
    await expect(hasher.burn(PASSWORD)).resolves.toBeUndefined();
    await expect(hasher.burn('')).resolves.toBeUndefined();
  });

  it('computes the dummy hash once even under concurrent first calls', async () => {
    const hasher = createPasswordHasher({ argon2: { memoryCost: 1024, timeCost: 1 } });
    await Promise.all([hasher.burn('a'), hasher.burn('b'), hasher.burn('c')]);
    await expect(hasher.burn('d')).resolves.toBeUndefined();
  });

  it('takes a good fraction of a real verify', async () => {
    const hasher = createPasswordHasher();
    const encoded = await hasher.hash(PASSWORD);
    // Warm up: the first burn also computes the dummy hash, and the first verify pays one-off costs.
    await hasher.burn(PASSWORD);
    await hasher.verify(encoded, 'wrong');

    const verifyTimes: number[] = [];
    const burnTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      verifyTimes.push(await timeIt(() => hasher.verify(encoded, 'wrong')));
      burnTimes.push(await timeIt(() => hasher.burn('wrong')));
    }
    // A loose sanity check that burn really runs argon2 with the current parameters, not a timing guarantee.
    expect(median(burnTimes)).toBeGreaterThan(0.3 * median(verifyTimes));
  });
});

describe('maxConcurrentHashes', () => {
  // A slow hash started first, then a cheap verify: with one slot the verify waits its turn; with two it overtakes.
  async function finishOrder(maxConcurrentHashes: number): Promise<string[]> {
    const slow = createPasswordHasher({ argon2: { memoryCost: 65536, timeCost: 6, parallelism: 1 }, maxConcurrentHashes });
    const cheap = await createPasswordHasher({ argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } }).hash('pw');
    const order: string[] = [];
    await Promise.all([slow.hash('slow').then(() => order.push('slow')), slow.verify(cheap, 'pw').then(() => order.push('cheap'))]);
    return order;
  }

  it('with one slot, hashes run one at a time in arrival order', async () => {
    expect(await finishOrder(1)).toEqual(['slow', 'cheap']);
  });

  it('with two slots, a cheap verify does not wait for a slow hash', async () => {
    expect(await finishOrder(2)).toEqual(['cheap', 'slow']);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => createPasswordHasher({ maxConcurrentHashes: bad })).toThrow(/maxConcurrentHashes must be a positive integer/);
    }
  });
});

describe('pbkdf2_sha256 as the format of new hashes (the default on Cloudflare Workers)', () => {
  const hasher = createPasswordHasher({ algorithm: 'pbkdf2_sha256' });
  // Django's make_password('correct horse', salt='abcdefghijkl', hasher='pbkdf2_sha256') at 100 000 iterations,
  // computed here by node:crypto's pbkdf2 (OpenSSL), an implementation independent of the WebCrypto path under test.
  const DJANGO_100K = `pbkdf2_sha256$100000$abcdefghijkl$${pbkdf2Sync('correct horse', 'abcdefghijkl', 100_000, 32, 'sha256').toString('base64')}`;

  it('writes Django\'s format at 100 000 iterations with a 22-character salt, and verifies it', async () => {
    const encoded = await hasher.hash(PASSWORD);
    expect(encoded).toMatch(/^pbkdf2_sha256\$100000\$[a-zA-Z0-9]{22}\$[A-Za-z0-9+/]{43}=$/);
    expect(await hasher.verify(encoded, PASSWORD)).toBe(true);
    expect(await hasher.verify(encoded, `${PASSWORD}!`)).toBe(false);
    expect(DEFAULT_PBKDF2_ITERATIONS).toBe(WORKERS_PBKDF2_MAX_ITERATIONS);
  });

  it('writes what Django writes for the same password, salt and iterations, and verifies Django\'s hash', async () => {
    expect(await encodeDjangoPbkdf2('correct horse', 'abcdefghijkl', 100_000)).toBe(DJANGO_100K);
    expect(await hasher.verify(DJANGO_100K, 'correct horse')).toBe(true);
    expect(await hasher.verify(DJANGO_100K, 'correct horsf')).toBe(false);
    // The hash a Worker writes for the password, recomputed by OpenSSL from its own salt.
    const encoded = await hasher.hash('correct horse');
    const [, , salt, hash] = encoded.split('$') as [string, string, string, string];
    expect(pbkdf2Sync('correct horse', salt, 100_000, 32, 'sha256').toString('base64')).toBe(hash);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hasher.hash(PASSWORD), hasher.hash(PASSWORD)]);
    expect(a.split('$')[2]).not.toBe(b.split('$')[2]);
  });

  it('takes its iteration count from pbkdf2.iterations, and refuses one the runtime cannot derive', async () => {
    const custom = createPasswordHasher({ algorithm: 'pbkdf2_sha256', pbkdf2: { iterations: 1000 } });
    const encoded = await custom.hash(PASSWORD);
    expect(encoded).toMatch(/^pbkdf2_sha256\$1000\$/);
    expect(await custom.verify(encoded, PASSWORD)).toBe(true);
    for (const iterations of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      expect(() => createPasswordHasher({ algorithm: 'pbkdf2_sha256', pbkdf2: { iterations } })).toThrow(/pbkdf2\.iterations must be a positive integer/);
    }
  });

  it('needs a rehash for another iteration count or format; argon2id hashers rehash its hashes (portable to Node)', async () => {
    const encoded = await hasher.hash(PASSWORD);
    expect(hasher.needsRehash(encoded)).toBe(false);
    expect(hasher.needsRehash(DJANGO_PBKDF2_870K)).toBe(true);
    expect(hasher.needsRehash(await createPasswordHasher().hash(PASSWORD))).toBe(true);
    expect(hasher.needsRehash('garbage')).toBe(true);
    const onNode = createPasswordHasher();
    expect(await onNode.verify(encoded, PASSWORD)).toBe(true);
    expect(onNode.needsRehash(encoded)).toBe(true);
  });

  it('still verifies argon2 and bcrypt hashes where the native module loads', async () => {
    expect(await hasher.verify(REF_ARGON2ID, 'password')).toBe(true);
    expect(await hasher.verify(`argon2${REF_ARGON2I}`, 'password')).toBe(true);
  });

  it('burn costs what a verify of a current hash costs', async () => {
    const encoded = await hasher.hash(PASSWORD);
    await hasher.burn(PASSWORD);
    await hasher.verify(encoded, 'wrong');
    const verifyTimes: number[] = [];
    const burnTimes: number[] = [];
    for (let i = 0; i < 7; i++) {
      verifyTimes.push(await timeIt(() => hasher.verify(encoded, 'wrong')));
      burnTimes.push(await timeIt(() => hasher.burn('wrong')));
    }
    // The same derivation (iterations, salt length, 32 bytes, compare): loose bounds for a shared machine.
    expect(median(burnTimes) / median(verifyTimes)).toBeGreaterThan(0.6);
    expect(median(burnTimes) / median(verifyTimes)).toBeLessThan(1.6);
  });
});
