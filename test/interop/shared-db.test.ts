/**
 * The shared-database mode against the real simplejwt: restjwt's DjangoStore and a Django deployment (Debian's
 * simplejwt 5.2.2 under gunicorn) on one database — SQLite and PostgreSQL. Users created in Django log in to restjwt
 * (pbkdf2_sha256, argon2, bcrypt_sha256 hashes, never rewritten); a token blacklisted by one side is refused by the
 * other; rows written by one side are read by the other's code (Django's ORM, restjwt's store).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError, UserExistsError, type OutstandingToken } from '@restjwt/core';
import { openDjangoStore, type DjangoStore } from 'restjwt/stores/django';
import { openStore } from '../../packages/restjwt/src/stores/open-store.js';
import { fastHasher, PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { bearer, claimsOf, client, jti, type Client } from './helpers/client.js';
import {
  createScratchPgDatabase,
  djangoSkipReason,
  dumpDjango,
  manage,
  migrateDjango,
  postgresSkipReason,
  pythonSkipReason,
  seedDjangoUsers,
  SHARED_KEY,
  startDjango,
  type DjangoPeer,
  type PeerConfig,
  type SeededUser,
} from './helpers/django.js';

const BLACKLISTED = { detail: 'Token is blacklisted', code: 'token_not_valid' };
const VERIFY_BLACKLISTED = { non_field_errors: ['Token is blacklisted'] };

interface Backend {
  name: string;
  skip: string | null;
  /** Creates an empty database; returns Django's URL for it, restjwt's `django+` URL, and how to remove it. */
  create(): Promise<{ djangoUrl: string; restjwtUrl: string; remove: () => Promise<void> }>;
}

const djangoSkip = djangoSkipReason();
const hashersSkip = pythonSkipReason(['argon2', 'bcrypt']);
const pgSkip = djangoSkip ?? (await postgresSkipReason());

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    skip: djangoSkip ?? hashersSkip,
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'restjwt-interop-shared-'));
      const file = join(dir, 'django.sqlite3');
      return { djangoUrl: `sqlite:///${file}`, restjwtUrl: `django+sqlite:///${file}`, remove: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: pgSkip ?? hashersSkip,
    async create() {
      const scratch = await createScratchPgDatabase('restjwt_django');
      return { djangoUrl: scratch.url, restjwtUrl: `django+${scratch.url}`, remove: scratch.drop };
    },
  },
];

for (const backend of BACKENDS) {
  if (backend.skip !== null) console.warn(`[interop] skipping the shared-database tests on ${backend.name}: ${backend.skip}`);

  describe.skipIf(backend.skip !== null)(`shared ${backend.name} database with simplejwt${backend.skip === null ? '' : ` (skipped: ${backend.skip})`}`, () => {
    let db: Awaited<ReturnType<Backend['create']>> | undefined;
    let config: PeerConfig;
    let peer: DjangoPeer | undefined;
    let app: TestApp | undefined;
    let store: DjangoStore;
    let django: Client;
    let restjwt: Client;
    const users = new Map<string, SeededUser>();

    beforeAll(async () => {
      db = await backend.create();
      config = { databaseUrl: db.djangoUrl };

      // Before Django migrates, the store refuses the database and says what to do.
      if (backend.name === 'SQLite') writeFileSync(db.djangoUrl.slice('sqlite:///'.length), '');
      await expect(openDjangoStore(db.restjwtUrl)).rejects.toThrow(/manage\.py migrate/);

      await migrateDjango(config);
      for (const seeded of await seedDjangoUsers(config, [
        { username: 'alice', password: PASSWORD, email: 'alice@example.com', is_staff: true, hasher: 'pbkdf2_sha256' },
        { username: 'bob', password: PASSWORD, hasher: 'argon2' },
        { username: 'carol', password: PASSWORD, hasher: 'bcrypt_sha256' },
        { username: 'dave', password: PASSWORD, is_active: false },
      ])) {
        users.set(seeded.username, seeded);
      }
      peer = await startDjango(config);
      store = (await openStore(db.restjwtUrl)) as DjangoStore;
      app = await startApp(
        { signingKey: SHARED_KEY, messageVersion: '5.2', rotateRefreshTokens: true, blacklistAfterRotation: true, rehashPasswords: false },
        { store },
      );
      django = client(peer.url);
      restjwt = client(app.url);
    }, 90_000);

    afterAll(async () => {
      await peer?.stop();
      await app?.close();
      await db?.remove();
    });

    it.each(['alice', 'bob', 'carol'])('%s, created in Django, logs in to restjwt; the hash Django wrote is kept', async (name) => {
      const seeded = users.get(name)!;
      expect(seeded.password.split('$')[0]).toBe({ alice: 'pbkdf2_sha256', bob: 'argon2', carol: 'bcrypt_sha256' }[name]);
      const pair = await restjwt.login(name, PASSWORD);
      expect(claimsOf(pair.access).user_id).toBe(String(seeded.id));
      expect((await restjwt.get('/api/protected/', bearer(pair.access))).status).toBe(200);
      expect((await store.findUser('username', name))?.passwordHash).toBe(seeded.password);
      expect((await restjwt.post('/api/token/', { username: name, password: 'wrong' })).status).toBe(401);
    });

    it('refuses the inactive Django user at login and on the protected view', async () => {
      expect((await restjwt.post('/api/token/', { username: 'dave', password: PASSWORD })).status).toBe(401);
      const stale = await django.post('/api/token/', { username: 'dave', password: PASSWORD });
      expect(stale.status).toBe(401);
    });

    it('a refresh token blacklisted by Django (logout) is refused by restjwt', async () => {
      const pair = await django.login('alice', PASSWORD);
      expect((await django.post('/api/token/blacklist/', { refresh: pair.refresh })).status).toBe(200);
      const refused = await restjwt.post('/api/token/refresh/', { refresh: pair.refresh });
      expect([refused.status, refused.json]).toEqual([401, BLACKLISTED]);
      expect((await restjwt.post('/api/token/verify/', { token: pair.refresh })).json).toEqual(VERIFY_BLACKLISTED);
      expect((await restjwt.post('/api/token/blacklist/', { refresh: pair.refresh })).json).toEqual(BLACKLISTED);
    });

    it('a refresh token blacklisted by restjwt (logout) is refused by Django', async () => {
      const pair = await restjwt.login('alice', PASSWORD);
      expect((await restjwt.post('/api/token/blacklist/', { refresh: pair.refresh })).status).toBe(200);
      const refused = await django.post('/api/token/refresh/', { refresh: pair.refresh });
      expect([refused.status, refused.json]).toEqual([401, BLACKLISTED]);
      expect((await django.post('/api/token/verify/', { token: pair.refresh })).json).toEqual(VERIFY_BLACKLISTED);
    });

    it('rotation on either side retires the token for both', async () => {
      // Django issues, restjwt rotates: Django refuses the old token.
      const d = await django.login('alice', PASSWORD);
      const rotated = await restjwt.post('/api/token/refresh/', { refresh: d.refresh });
      expect(rotated.status).toBe(200);
      expect((await django.post('/api/token/refresh/', { refresh: d.refresh })).json).toEqual(BLACKLISTED);
      // …and Django rotates the token restjwt issued: restjwt refuses the old one.
      const again = await django.post('/api/token/refresh/', { refresh: rotated.json.refresh });
      expect(again.status).toBe(200);
      expect((await restjwt.post('/api/token/refresh/', { refresh: rotated.json.refresh })).json).toEqual(BLACKLISTED);
      expect((await restjwt.post('/api/token/refresh/', { refresh: again.json.refresh })).status).toBe(200);
    });

    it('of 10 concurrent refreshes of one Django token at restjwt, exactly one wins', async () => {
      const d = await django.login('alice', PASSWORD);
      const answers = await Promise.all(Array.from({ length: 10 }, () => restjwt.post('/api/token/refresh/', { refresh: d.refresh })));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 401).map((a) => a.json)).toEqual(Array(9).fill(BLACKLISTED));
    });

    it('writes outstanding rows that Django\'s ORM reads back: jti, user, created_at = iat, expires_at = exp, token ""', async () => {
      const pair = await restjwt.login('bob', PASSWORD);
      const claims = claimsOf(pair.refresh);
      const dump = await dumpDjango(config);
      const row = dump.tokens.find((t) => t.jti === claims.jti);
      expect(row).toMatchObject({ user_id: users.get('bob')!.id, token: '', blacklisted_at: null });
      expect(Date.parse(row!.created_at!)).toBe((claims.iat as number) * 1000);
      expect(Date.parse(row!.expires_at)).toBe((claims.exp as number) * 1000);
      // Django's own token rows read back through the store.
      const d = await django.login('alice', PASSWORD);
      const fromDjango = (await store.listDjangoTokens({ limit: 10_000 })).find((t) => t.jti === claimsOf(d.refresh).jti);
      expect(fromDjango).toMatchObject({ userId: String(users.get('alice')!.id), blacklistedAt: null });
      expect(fromDjango!.expiresAt.getTime()).toBe((claimsOf(d.refresh).exp as number) * 1000);
    });

    it('tokenVersion is simplejwt 5.5\'s revoke claim: md5 of the stored hash, upper-case hex, as Python computes it', async () => {
      const python = await manage(config, [
        'shell',
        '-c',
        "import hashlib; from django.contrib.auth.models import User; print(hashlib.md5(User.objects.get(username='carol').password.encode()).hexdigest().upper())",
      ]);
      expect((await store.findUser('username', 'carol'))?.tokenVersion).toBe(python.trim());
    });

    it('a user created by restjwt logs in to Django (its argon2id hash is stored in Django\'s argon2 form)', async () => {
      const created = await store.createUser({ username: 'erin', email: 'erin@example.com', passwordHash: await fastHasher.hash(PASSWORD) });
      expect(created.passwordHash).toMatch(/^argon2\$argon2id\$v=19\$/);
      await expect(store.createUser({ username: 'erin', passwordHash: 'x' })).rejects.toBeInstanceOf(UserExistsError);
      const fromDjango = await django.login('erin', PASSWORD);
      expect(claimsOf(fromDjango.access).user_id).toBe(Number(created.id));
      expect((await restjwt.get('/api/protected/', bearer(fromDjango.access))).status).toBe(200);
    });

    it('a password set by Django ends restjwt logins with the old one; a password set by restjwt works in Django', async () => {
      const [frank] = await seedDjangoUsers(config, [{ username: 'frank', password: 'first password' }]);
      expect((await restjwt.post('/api/token/', { username: 'frank', password: 'first password' })).status).toBe(200);
      await manage(config, ['peer_password', 'frank'], 'second password');
      expect((await restjwt.post('/api/token/', { username: 'frank', password: 'first password' })).status).toBe(401);
      expect((await restjwt.post('/api/token/', { username: 'frank', password: 'second password' })).status).toBe(200);
      const before = (await store.findUser('id', String(frank!.id)))!.tokenVersion;
      await store.setPassword(String(frank!.id), await fastHasher.hash('third password'));
      expect((await store.findUser('id', String(frank!.id)))!.tokenVersion).not.toBe(before);
      expect((await django.post('/api/token/', { username: 'frank', password: 'third password' })).status).toBe(200);
    });

    it('expired rows written by restjwt are flushed by Django\'s flushexpiredtokens, and Django\'s by restjwt', async () => {
      const old = new Date(Date.now() - 7 * 86_400_000);
      const mine: OutstandingToken = { jti: jti(), userId: String(users.get('alice')!.id), tokenType: 'refresh', familyId: null, createdAt: old, expiresAt: new Date(old.getTime() + 86_400_000) };
      await store.recordOutstanding(mine);
      expect(await store.blacklist({ ...mine })).toBe('blacklisted');
      expect((await dumpDjango(config)).tokens.find((t) => t.jti === mine.jti)?.blacklisted_at).not.toBeNull();
      await manage(config, ['flushexpiredtokens']);
      expect((await dumpDjango(config)).tokens.find((t) => t.jti === mine.jti)).toBeUndefined();

      const d = await django.login('alice', PASSWORD);
      await django.post('/api/token/blacklist/', { refresh: d.refresh });
      const inTwoDays = new Date(Date.now() + 2 * 86_400_000);
      expect(await store.flushExpired(inTwoDays, { batchSize: 3 })).toBeGreaterThan(0);
      expect(await store.countTokens()).toEqual({ outstanding: 0, blacklisted: 0 });
      expect((await dumpDjango(config)).tokens).toEqual([]);
    });

    it('store semantics over Django\'s tables: lookups, idempotent records, atomic blacklist and rotation', async () => {
      const alice = users.get('alice')!;
      expect((await store.findUser('email', 'alice@example.com'))?.id).toBe(String(alice.id));
      expect(await store.findUser('id', 'abc')).toBeNull();
      expect(await store.findUser('id', '99999999999')).toBeNull();
      expect(await store.findUser('username', 'ALICE')).toBeNull();
      expect((await store.findUser('id', String(alice.id)))).toMatchObject({ username: 'alice', isStaff: true, isActive: true, lastLogin: null });
      const listed = await store.listUsers({ limit: 2, offset: 1 });
      expect(listed.map((u) => u.username)).toEqual(['bob', 'carol']);

      const at = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
      await store.updateLastLogin(String(alice.id), at);
      expect((await store.findUser('id', String(alice.id)))?.lastLogin).toEqual(at);
      expect(Date.parse((await dumpDjango(config)).users.find((u) => u.username === 'alice')!.last_login!)).toBe(at.getTime());

      const token = (userId: string | null = String(alice.id)): OutstandingToken => ({
        jti: jti(), userId, tokenType: 'refresh', familyId: null, createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000),
      });
      const t = token('424242'); // a user that does not exist is recorded as NULL
      await store.recordOutstanding(t);
      await store.recordOutstanding(t);
      expect((await dumpDjango(config)).tokens.filter((r) => r.jti === t.jti)).toMatchObject([{ user_id: null }]);
      expect(await store.isBlacklisted(t.jti)).toBe(false);

      const raced = token();
      const blacklists = await Promise.all(Array.from({ length: 20 }, () => store.blacklist({ ...raced })));
      expect(blacklists.filter((r) => r === 'blacklisted')).toHaveLength(1);
      expect(await store.isBlacklisted(raced.jti)).toBe(true);
      // The blacklist pages through for the Redis revocation cache.
      const seen: string[] = [];
      for (let cursor: string | null = null, n = 0; n < 100; n++) {
        const page = await store.listBlacklisted({ cursor, limit: 2, expiresAfter: new Date() });
        seen.push(...page.entries.map((e) => e.jti));
        if (page.next === null) break;
        cursor = page.next;
      }
      expect(seen).toContain(raced.jti);
      expect(new Set(seen).size).toBe(seen.length);

      const presented = token();
      const rotations = await Promise.all(Array.from({ length: 20 }, () => store.rotate({ ...presented }, token())));
      expect(rotations.filter((r) => r === 'rotated')).toHaveLength(1);

      await store.ping();
      const other = await openDjangoStore(db!.restjwtUrl);
      await other.close();
      await expect(other.findUser('username', 'alice')).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });
}
