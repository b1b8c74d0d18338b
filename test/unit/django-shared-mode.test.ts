/**
 * Pieces of the Django shared-database mode that need no Django: bcrypt hashes as Django writes them (vectors made
 * with Python's bcrypt the way Django's hashers call it, cost 4 to keep the test fast), the `rehashPasswords`
 * setting, the revoke-claim value, the hash form written for Django, Django's SQLite datetimes and the URLs.
 */
import { describe, expect, it } from 'vitest';
import { createPasswordHasher, createRestJwt, resolveSettings } from '@restjwt/core';
import { encodeDjangoPbkdf2, verifyDjangoBcrypt } from '../../packages/core/src/passwords/index.js';
import { djangoRevokeClaim, formatDjangoSqliteDate, parseDjangoSqliteDate, parseDjangoUrl, toDjangoHash } from 'restjwt/stores/django';
import { createMemoryStore } from '@restjwt/core/memory';

const PASSWORD = 'correct horse battery staple';
// Django's BCryptSHA256PasswordHasher: bcrypt over hexlify(sha256(password)).
const BCRYPT_SHA256 = 'bcrypt_sha256$$2b$04$6VuFV0DMj3Pq9G5PyqsW0.wPQqCBkcg8E3uIDct/TSH7m7cmnvaxy';
// The same for 'é' * 60 (120 UTF-8 bytes, past bcrypt's 72): the SHA-256 step makes every byte count.
const BCRYPT_SHA256_LONG = 'bcrypt_sha256$$2b$04$FQTSkA2J3khHJ/qBvdIyq.Ek8hixGzFqhbGyXvj/HvLpWsHJIk1uu';
// Django's BCryptPasswordHasher: bcrypt over the password itself.
const BCRYPT = 'bcrypt$$2b$04$GRFDpXNbLJSt/n4oF7/d8.xjCHwaZMMq./xLdXYjS6OHDx2fEvVs6';

describe('Django bcrypt hashes', () => {
  const hasher = createPasswordHasher({ argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });

  it('verifies bcrypt_sha256 and bcrypt, and refuses wrong passwords', async () => {
    expect(await hasher.verify(BCRYPT_SHA256, PASSWORD)).toBe(true);
    expect(await hasher.verify(BCRYPT_SHA256, `${PASSWORD} `)).toBe(false);
    expect(await hasher.verify(BCRYPT, PASSWORD)).toBe(true);
    expect(await hasher.verify(BCRYPT, 'wrong')).toBe(false);
    // The two formats are not interchangeable.
    expect(await hasher.verify(`bcrypt$${BCRYPT_SHA256.slice('bcrypt_sha256$'.length)}`, PASSWORD)).toBe(false);
  });

  it('counts every byte of a long password under bcrypt_sha256', async () => {
    const long = 'é'.repeat(60);
    expect(await verifyDjangoBcrypt(BCRYPT_SHA256_LONG, long)).toBe(true);
    expect(await verifyDjangoBcrypt(BCRYPT_SHA256_LONG, `${'é'.repeat(59)}e`)).toBe(false);
  });

  it('refuses malformed bcrypt strings without throwing', async () => {
    for (const bad of ['bcrypt_sha256$', 'bcrypt_sha256$$2b$04$short', 'bcrypt_sha256$$2x$04$6VuFV0DMj3Pq9G5PyqsW0.wPQqCBkcg8E3uIDct/TSH7m7cmnvaxy', 'bcrypt_md5$$2b$04$6VuFV0DMj3Pq9G5PyqsW0.wPQqCBkcg8E3uIDct/TSH7m7cmnvaxy']) {
      expect(await verifyDjangoBcrypt(bad, PASSWORD)).toBe(false);
    }
  });

  it('wants a rehash for Django bcrypt hashes (when rehashing is on)', () => {
    expect(hasher.needsRehash(BCRYPT_SHA256)).toBe(true);
  });
});

describe('rehashPasswords', () => {
  it('defaults to true and is validated', () => {
    expect(resolveSettings({}).settings.rehashPasswords).toBe(true);
    expect(resolveSettings({ rehashPasswords: false }).settings.rehashPasswords).toBe(false);
    expect(() => resolveSettings({ rehashPasswords: 'no' })).toThrow(/rehashPasswords.*true or false/);
  });

  it.each([
    [true, 'rewritten as argon2id'],
    [false, 'kept as Django wrote it'],
  ])('rehashPasswords %s: a Django hash is %s at login', async (rehash) => {
    const store = createMemoryStore();
    const django = await encodeDjangoPbkdf2(PASSWORD, 'seasalt', 1000);
    const user = await store.createUser({ username: 'alice', passwordHash: django });
    const restjwt = createRestJwt({
      store,
      hasher: createPasswordHasher({ argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } }),
      settings: { signingKey: 'k'.repeat(64), rehashPasswords: rehash },
    });
    const res = await restjwt.handle('obtainPair', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      rawBody: JSON.stringify({ username: 'alice', password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    const after = (await store.findUser('id', user.id))!.passwordHash;
    if (rehash) expect(after).toMatch(/^\$argon2id\$/);
    else expect(after).toBe(django);
  });
});

describe('Django store helpers', () => {
  it('the revoke claim is simplejwt\'s get_md5_hash_password: md5 of the hash, upper-case hex', () => {
    // Python: hashlib.md5('pbkdf2_sha256$1$a$b'.encode()).hexdigest().upper()
    expect(djangoRevokeClaim('pbkdf2_sha256$1$a$b')).toBe('D189514B36275B5C49334DB961F35162');
    expect(djangoRevokeClaim('x')).toBe('9DD4E461268C8034F5C8564E155C67A6');
  });

  it('stores restjwt\'s argon2id PHC strings in Django\'s argon2 form, other hashes as they are', () => {
    expect(toDjangoHash('$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA')).toBe('argon2$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA');
    expect(toDjangoHash(BCRYPT_SHA256)).toBe(BCRYPT_SHA256);
    expect(toDjangoHash('argon2$argon2id$v=19$m=1,t=1,p=1$a$b')).toBe('argon2$argon2id$v=19$m=1,t=1,p=1$a$b');
  });

  it('writes and reads SQLite datetimes as Django does (naive UTC, microseconds only when there are any)', () => {
    expect(formatDjangoSqliteDate(new Date(Date.UTC(2026, 10, 23, 10, 27, 59, 123)))).toBe('2026-11-23 10:27:59.123000');
    expect(formatDjangoSqliteDate(new Date(Date.UTC(2026, 10, 23, 10, 27, 59)))).toBe('2026-11-23 10:27:59');
    expect(parseDjangoSqliteDate('2026-11-23 10:27:59.123456').toISOString()).toBe('2026-11-23T10:27:59.123Z');
    expect(parseDjangoSqliteDate('2026-11-23 10:27:59').toISOString()).toBe('2026-11-23T10:27:59.000Z');
    expect(parseDjangoSqliteDate('2026-11-23T12:27:59+02:00').toISOString()).toBe('2026-11-23T10:27:59.000Z');
    expect(() => parseDjangoSqliteDate('yesterday')).toThrow(RangeError);
  });

  it('parses django+ URLs and names the accepted forms otherwise', () => {
    expect(parseDjangoUrl('django+sqlite:./db.sqlite3')).toEqual({ kind: 'sqlite', filename: './db.sqlite3' });
    expect(parseDjangoUrl('django+sqlite:///srv/app/db.sqlite3')).toEqual({ kind: 'sqlite', filename: '/srv/app/db.sqlite3' });
    expect(parseDjangoUrl('django+postgres://app:pw@db:5432/app')).toEqual({ kind: 'postgres', connectionString: 'postgres://app:pw@db:5432/app' });
    expect(parseDjangoUrl('postgresql://app@db/app', { prefixOptional: true })).toEqual({ kind: 'postgres', connectionString: 'postgresql://app@db/app' });
    expect(() => parseDjangoUrl('sqlite:./db.sqlite3')).toThrow(/django\+sqlite/);
    expect(() => parseDjangoUrl('django+mysql://u:secret@h/d')).toThrow(/Unsupported Django database URL \(a mysql: URL\)/);
    expect(() => parseDjangoUrl('django+sqlite::memory:')).toThrow(/cannot be in memory/);
  });
});
