/**
 * Everything the SQL store is tested for on one server database: the shared contract, the schema and migrations,
 * the blacklist check's query plan, several stores (instances) on one database, outages through a TCP proxy, and a
 * flush measurement. `postgres.test.ts` and `mariadb.test.ts` run it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../packages/core/src/store/errors.js';
import { sql, type Kysely } from 'kysely';
import type { AuditEvent, NewFactor } from '@restjwt/core/store-kit';
import { createKysely, createMigrator, openSqlStore, SqlStore, type SqlDialect } from '@restjwt/sql';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { makeToken, runStoreContract } from './contract.js';
import { withParams } from './services.js';

export interface SqlSuiteOptions {
  name: string;
  label: string;
  available: boolean;
  /** The server's URL (its database is where a fresh scope gets created). */
  url: string;
  dialect: SqlDialect;
  /** A new, unused schema (PostgreSQL) or database (MariaDB) name. */
  freshScope(): Promise<string>;
  dropScope(scope: string): Promise<void>;
  /** Refreshes the planner's statistics of the token tables. */
  analyze(scope: string): Promise<void>;
  indexNames(scope: string): Promise<string[]>;
  /** Asserts that a plan of the blacklist check uses the unique indexes and scans no table. */
  expectIndexedPlan(plan: string[]): void;
}

const HOUR = 3_600_000;

/** A second factor as `@restjwt/mfa` would add one: TOTP unless a credential id makes it a passkey. */
function newFactor(userId: string, credentialId: string | null = null): NewFactor {
  return {
    userId,
    kind: credentialId === null ? 'totp' : 'webauthn',
    label: credentialId === null ? 'Phone' : 'YubiKey',
    confirmed: true,
    secret: 'v1.encrypted-secret',
    credentialId,
    meta: '{}',
    createdAt: new Date(Math.floor(Date.now() / 1000) * 1000),
  };
}

/** An audit event as the core hands one to the store. */
function auditEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { type: 'logout', at: new Date(), userId: null, username: null, actorId: null, familyId: null, clientAddress: null, userAgent: null, detail: {}, ...overrides };
}

export function sqlSuite(o: SqlSuiteOptions): void {
  describe.skipIf(!o.available)(`${o.label} (SqlStore over a real connection)`, () => {
    const scopes = new Set<string>();
    const stores: SqlStore[] = [];
    const newScope = async (): Promise<string> => {
      const scope = await o.freshScope();
      scopes.add(scope);
      return scope;
    };
    /** A new scope whose schema stops at `migration`: the database of a previous version, to upgrade. */
    const scopeAt = async (migration: string): Promise<string> => {
      const scope = await newScope();
      const { db } = createKysely(o.url);
      try {
        const { error } = await createMigrator(db as Kysely<unknown>, o.dialect, scope).migrateTo(migration);
        expect(error).toBeUndefined();
      } finally {
        await db.destroy();
      }
      return scope;
    };
    const open = async (scope: string, extra: { migrate?: boolean; url?: string } = {}): Promise<SqlStore> => {
      const store = await openSqlStore({ url: extra.url ?? o.url, schema: scope, migrate: extra.migrate ?? true });
      stores.push(store);
      return store;
    };
    const dropAll = async (): Promise<void> => {
      for (const store of stores.splice(0)) await store.close();
      for (const scope of [...scopes]) {
        await o.dropScope(scope);
        scopes.delete(scope);
      }
    };

    afterEach(dropAll);
    afterAll(dropAll);

    /** Runs `statements` on the server, outside any store (as an operator or another program would). */
    const admin = async (...statements: string[]): Promise<void> => {
      const { db } = createKysely(o.url);
      try {
        for (const statement of statements) await sql.raw(statement).execute(db);
      } finally {
        await db.destroy();
      }
    };
    /**
     * Runs `fn` while a trigger makes every `event` on `table` of `scope` fail on the database itself (PL/pgSQL's
     * RAISE EXCEPTION, MariaDB's SIGNAL), then drops the trigger.
     */
    const whileRefusing = async (scope: string, table: string, event: 'INSERT' | 'UPDATE', fn: () => Promise<void>): Promise<void> => {
      if (o.dialect === 'postgres') {
        await admin(
          `CREATE FUNCTION "${scope}".restjwt_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$`,
          `CREATE TRIGGER restjwt_test_refuse BEFORE ${event} ON "${scope}".${table} FOR EACH ROW EXECUTE FUNCTION "${scope}".restjwt_test_refuse()`,
        );
      } else {
        await admin(
          `CREATE TRIGGER \`${scope}\`.restjwt_test_refuse BEFORE ${event} ON \`${scope}\`.${table} FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by a test trigger'`,
        );
      }
      try {
        await fn();
      } finally {
        if (o.dialect === 'postgres') await admin(`DROP TRIGGER restjwt_test_refuse ON "${scope}".${table}`, `DROP FUNCTION "${scope}".restjwt_test_refuse()`);
        else await admin(`DROP TRIGGER \`${scope}\`.restjwt_test_refuse`);
      }
    };

    let contractScope = '';
    runStoreContract(
      o.name,
      async () => {
        contractScope = await newScope();
        return openSqlStore({ url: o.url, schema: contractScope });
      },
      {
        cleanup: async () => {
          await o.dropScope(contractScope);
          scopes.delete(contractScope);
        },
      },
    );

    describe('schema and migrations', () => {
      it('open creates the tables and the indexes the SQLite store has, and records the migration', async () => {
        const scope = await newScope();
        const store = await open(scope);
        expect(await store.migrate()).toEqual([]);
        expect(await o.indexNames(scope)).toEqual(
          expect.arrayContaining([
            'restjwt_user_email_idx',
            'restjwt_outstanding_token_jti_uniq',
            'restjwt_outstanding_token_user_id_idx',
            'restjwt_outstanding_token_expires_at_idx',
            'restjwt_outstanding_token_family_id_idx',
            'restjwt_session_family_id_uniq',
            'restjwt_session_user_id_idx',
            'restjwt_identity_provider_subject_uniq',
            'restjwt_identity_user_id_idx',
            'restjwt_one_time_key_uniq',
            'restjwt_one_time_expires_at_idx',
            'restjwt_audit_event_at_idx',
            'restjwt_audit_event_user_id_idx',
            'restjwt_audit_event_username_idx',
            'restjwt_factor_credential_id_uniq',
            'restjwt_factor_user_id_idx',
          ]),
        );
        const { db } = createKysely<{ restjwt_migrations: { name: string } }>(o.url);
        try {
          const rows = await db.withSchema(scope).selectFrom('restjwt_migrations').select('name').execute();
          expect(rows.map((r) => r.name)).toEqual(['0001_initial', '0002_families', '0003_revoked_access', '0004_sessions_identities', '0005_token_state', '0006_audit', '0007_factors']);
        } finally {
          await db.destroy();
        }
      });

      it('with migrate: false nothing is created until migrate() runs; the error names restjwt migrate', async () => {
        const scope = await newScope();
        const store = await open(scope, { migrate: false });
        await expect(store.countTokens()).rejects.toThrow(/no restjwt schema.*restjwt migrate/);
        expect(await store.migrate()).toEqual(['0001_initial', '0002_families', '0003_revoked_access', '0004_sessions_identities', '0005_token_state', '0006_audit', '0007_factors']);
        expect(await store.migrate()).toEqual([]);
        await store.recordOutstanding(makeToken());
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
      });

      it('a database at 0003_revoked_access upgrades to 0004_sessions_identities in place, keeping its data', async () => {
        const scope = await scopeAt('0003_revoked_access');
        const store = await open(scope, { migrate: false });
        const user = await store.createUser({ username: 'olga', passwordHash: 'h' });
        const token = makeToken({ userId: user.id });
        token.familyId = token.jti;
        await store.recordOutstanding(token);
        const use = { familyId: token.jti, at: new Date(), clientAddress: '192.0.2.1', userAgent: 'UA' };
        // Before the migration the new capabilities say what to do instead of failing obscurely.
        await expect(store.recordSession(user.id, use)).rejects.toThrow(/restjwt migrate/);

        expect(await store.migrate()).toEqual(['0004_sessions_identities', '0005_token_state', '0006_audit', '0007_factors']);
        expect(await store.findUser('username', 'olga')).toEqual(user);
        expect((await store.findOutstanding(token.jti))?.userId).toBe(user.id);
        await store.recordSession(user.id, use);
        expect(await store.listSessions(user.id)).toMatchObject([{ familyId: token.jti, active: true, expiresAt: token.expiresAt }]);
        expect(await store.linkIdentity({ provider: 'github', subject: '1', userId: user.id, email: null, at: new Date() })).toBe('linked');
        await store.putOneTime('k', 'v', new Date(Date.now() + 60_000));
        expect(await store.takeOneTime('k')).toBe('v');
      });

      it('a database at 0004 with tokens upgrades to 0005_token_state (one row per token): every row kept, every blacklisted token still refused, every live one accepted', async () => {
        const scope = await newScope();
        const { db } = createKysely(o.url);
        // The 0004 schema's tables, as the previous version wrote them (its blacklist is a table of its own).
        const old = db.withSchema(scope) as unknown as Kysely<Record<string, Record<string, unknown>>>;
        const hour = 3_600_000;
        const base = Date.now() - 60_000;
        const expected = new Map<string, { userId: string | null; familyId: string; replacedBy: string | null; blacklistedAt: Date | null }>();
        let userId = '';
        try {
          const { error } = await createMigrator(db as Kysely<unknown>, o.dialect, scope).migrateTo('0004_sessions_identities');
          expect(error).toBeUndefined();
          await old.insertInto('restjwt_user').values({ username: 'pia', email: '', password: 'h', is_active: true, is_staff: false, date_joined: new Date(base), token_version: 'v1' }).execute();
          userId = String((await old.selectFrom('restjwt_user').select('id').executeTakeFirstOrThrow()).id);
          // 60 families of three rotations: two blacklisted tokens naming their successor, then the live one; every
          // third family's tokens have no known user (stored as NULL, as simplejwt does).
          for (let f = 0; f < 60; f++) {
            const chain = [0, 1, 2].map(() => randomUUID().replaceAll('-', ''));
            const owner = f % 3 === 0 ? null : userId;
            for (let i = 0; i < 3; i++) {
              const jti = chain[i]!;
              const replacedBy = i < 2 ? chain[i + 1]! : null;
              const blacklistedAt = i < 2 ? new Date(base + f * 1000 + i) : null;
              await old.insertInto('restjwt_outstanding_token').values({
                jti, user_id: owner, token_type: 'refresh', family_id: chain[0], created_at: new Date(base + i), expires_at: new Date(base + hour), replaced_by: replacedBy,
              }).execute();
              if (blacklistedAt !== null) {
                const { id } = await old.selectFrom('restjwt_outstanding_token').select('id').where('jti', '=', jti).executeTakeFirstOrThrow();
                await old.insertInto('restjwt_blacklisted_token').values({ token_id: id, blacklisted_at: blacklistedAt }).execute();
              }
              expected.set(jti, { userId: owner, familyId: chain[0]!, replacedBy, blacklistedAt });
            }
          }
          const counted = async (table: string) => Number((await old.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
          expect([await counted('restjwt_outstanding_token'), await counted('restjwt_blacklisted_token')]).toEqual([180, 120]);
        } finally {
          await db.destroy();
        }

        const store = await open(scope, { migrate: false });
        expect(await store.migrate()).toEqual(['0005_token_state', '0006_audit', '0007_factors']);
        expect(await store.countTokens()).toEqual({ outstanding: 180, blacklisted: 120 });
        for (const [jti, want] of expected) {
          expect(await store.findOutstanding(jti)).toMatchObject({ jti, ...want });
          expect(await store.isBlacklisted(jti)).toBe(want.blacklistedAt !== null);
        }
        const listed: string[] = [];
        for (let cursor: string | null = null; ; ) {
          const page = await store.listBlacklisted({ cursor, limit: 50 });
          listed.push(...page.entries.map((entry) => entry.jti));
          if (page.next === null) break;
          cursor = page.next;
        }
        expect(listed.sort()).toEqual([...expected].filter(([, t]) => t.blacklistedAt !== null).map(([jti]) => jti).sort());
        // Each token as a refresh would present it: the blacklisted ones refused, the live ones rotated once.
        for (const [jti, want] of expected) {
          const presented = { jti, userId: want.userId, tokenType: 'refresh' as const, familyId: want.familyId, createdAt: new Date(base), expiresAt: new Date(base + hour) };
          const successor = makeToken({ userId: want.userId, familyId: want.familyId });
          expect(await store.rotate(presented, successor, { inheritFamily: true })).toBe(want.blacklistedAt === null ? 'rotated' : 'already_blacklisted');
        }
        expect(await store.countTokens()).toEqual({ outstanding: 240, blacklisted: 180 });
        // The previous version's blacklist table is gone: an instance still running it fails loudly, never answers "live".
        const { db: previous } = createKysely(o.url);
        try {
          await expect(sql`SELECT count(*) FROM ${sql.table(`${scope}.restjwt_blacklisted_token`)}`.execute(previous)).rejects.toThrow(/restjwt_blacklisted_token/);
        } finally {
          await previous.destroy();
        }
      });

      it('a database at 0005 upgrades to 0006_audit (the audit log) keeping its rows; before it, an audited change fails whole', async () => {
        const scope = await scopeAt('0005_token_state');
        // The previous version's data, written through the store as that version would (nothing audited).
        const store = await open(scope, { migrate: false });
        const user = await store.createUser({ username: 'quinn', passwordHash: 'h' });
        const live = makeToken({ userId: user.id, familyId: 'fam-q' });
        const revoked = makeToken({ userId: user.id, familyId: 'fam-q' });
        await store.recordOutstanding(live);
        expect(await store.blacklist(revoked)).toBe('blacklisted');
        await store.recordSession(user.id, { familyId: 'fam-q', at: new Date(), clientAddress: '192.0.2.7', userAgent: 'UA' });
        expect(await store.linkIdentity({ provider: 'github', subject: 'q', userId: user.id, email: null, at: new Date() })).toBe('linked');
        // Without the audit table an audited change is refused whole, saying what to do: the token stays live.
        await expect(store.blacklist(live, { audit: auditEvent({ userId: user.id }) })).rejects.toThrow(/restjwt migrate/);
        expect(await store.isBlacklisted(live.jti)).toBe(false);

        expect(await store.migrate()).toEqual(['0006_audit', '0007_factors']);
        expect(await store.findUser('id', user.id)).toEqual(user);
        expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
        expect(await store.findOutstanding(live.jti)).toMatchObject({ userId: user.id, familyId: 'fam-q', blacklistedAt: null });
        expect(await store.isBlacklisted(revoked.jti)).toBe(true);
        expect(await store.listSessions(user.id)).toMatchObject([{ familyId: 'fam-q', clientAddress: '192.0.2.7', active: true }]);
        expect(await store.listIdentities(user.id)).toMatchObject([{ provider: 'github', subject: 'q' }]);
        expect(await store.listAudit()).toEqual({ events: [], next: null });
        expect(await store.blacklist(live, { audit: auditEvent({ userId: user.id }) })).toBe('blacklisted');
        expect((await store.listAudit()).events).toMatchObject([{ type: 'logout', userId: user.id }]);
      });

      it('a database at 0006 upgrades to 0007_factors (second factors) keeping its rows; before it, factor calls name restjwt migrate', async () => {
        const scope = await scopeAt('0006_audit');
        // The previous version's data, written through the store as that version would.
        const store = await open(scope, { migrate: false });
        const user = await store.createUser({ username: 'sven', passwordHash: 'h' }, { audit: auditEvent({ type: 'user_created' }) });
        const live = makeToken({ userId: user.id, familyId: 'fam-s' });
        const revoked = makeToken({ userId: user.id, familyId: 'fam-s' });
        await store.recordOutstanding(live);
        expect(await store.blacklist(revoked, { audit: auditEvent({ userId: user.id }) })).toBe('blacklisted');
        await store.recordSession(user.id, { familyId: 'fam-s', at: new Date(), clientAddress: '192.0.2.8', userAgent: 'UA' });
        expect(await store.linkIdentity({ provider: 'github', subject: 's', userId: user.id, email: null, at: new Date() })).toBe('linked');
        await expect(store.addFactor(newFactor(user.id))).rejects.toThrow(/restjwt migrate/);
        await expect(store.listFactors(user.id)).rejects.toThrow(/restjwt migrate/);

        expect(await store.migrate()).toEqual(['0007_factors']);
        expect(await store.findUser('id', user.id)).toEqual(user);
        expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
        expect(await store.findOutstanding(live.jti)).toMatchObject({ userId: user.id, familyId: 'fam-s', blacklistedAt: null });
        expect(await store.isBlacklisted(revoked.jti)).toBe(true);
        expect(await store.listSessions(user.id)).toMatchObject([{ familyId: 'fam-s', clientAddress: '192.0.2.8', active: true }]);
        expect(await store.listIdentities(user.id)).toMatchObject([{ provider: 'github', subject: 's' }]);
        expect((await store.listAudit()).events.map((e) => e.type)).toEqual(['logout', 'user_created']);
        expect(await store.listFactors(user.id)).toEqual([]);
        const factor = await store.addFactor(newFactor(user.id));
        expect(await store.listFactors(user.id)).toEqual([factor]);
        await store.setRecoveryCodes(user.id, ['h1', 'h2']);
        expect(await store.countRecoveryCodes(user.id)).toBe(2);
      });

      it('second factors: the longest credential id fits its unique index, ids compare exactly, and factors and codes go with their user', async () => {
        const scope = await newScope();
        const store = await open(scope);
        const user = await store.createUser({ username: 'tove', passwordHash: 'h' });
        // 1023 characters: as utf8mb4 (4092 bytes) the key would exceed InnoDB's 3072 bytes; as ASCII it fits.
        const longest = `${'A'.repeat(1022)}z`;
        const key = await store.addFactor(newFactor(user.id, longest));
        expect(await store.findFactorByCredential(longest)).toEqual(key);
        expect(await store.findFactorByCredential(`${'A'.repeat(1022)}Z`)).toBeNull();
        expect(await store.findFactorByCredential(`${longest} `)).toBeNull();
        await expect(store.addFactor(newFactor(user.id, longest))).rejects.toMatchObject({ code: 'credential_exists' });
        await expect(store.addFactor(newFactor(user.id, `${longest}A`))).rejects.toThrow(/longer than 1023/);
        // What the ASCII columns cannot hold is refused before writing, on both databases alike.
        await expect(store.addFactor(newFactor(user.id, 'clé'))).rejects.toBeInstanceOf(RangeError);
        await expect(store.addFactor(newFactor(user.id, 'a b'))).rejects.toBeInstanceOf(RangeError);
        await expect(store.setRecoveryCodes(user.id, ['hash-é'])).rejects.toBeInstanceOf(RangeError);
        expect(await store.useRecoveryCode(user.id, 'hash-é')).toBe(false);
        expect(await store.findFactorByCredential('clé')).toBeNull();
        // Labels, secrets and metadata are text of any kind, kept exactly.
        const totp = await store.addFactor({ ...newFactor(user.id), label: 'Téléphone 📱 ', secret: 's'.repeat(4000), meta: '{"a":"ü"}' });
        expect((await store.listFactors(user.id)).map((f) => f.id)).toEqual([key.id, totp.id]);
        expect((await store.listFactors(user.id))[1]).toEqual(totp);
        await store.setRecoveryCodes(user.id, Array.from({ length: 20 }, (_, i) => `${'f'.repeat(126)}${String(i).padStart(2, '0')}`));
        expect(await store.countRecoveryCodes(user.id)).toBe(20);

        const { db } = createKysely(o.url);
        try {
          await db.withSchema(scope).deleteFrom('restjwt_user').where('id', '=', user.id).execute();
        } finally {
          await db.destroy();
        }
        expect(await store.listFactors(user.id)).toEqual([]);
        expect(await store.findFactorByCredential(longest)).toBeNull();
        expect(await store.countRecoveryCodes(user.id)).toBe(0);
      });

      it('deleting a user deletes their sessions and linked identities; long values are refused before writing', async () => {
        const scope = await newScope();
        const store = await open(scope);
        const user = await store.createUser({ username: 'gone', passwordHash: 'h' });
        const token = makeToken({ userId: user.id });
        token.familyId = token.jti;
        await store.recordOutstanding(token);
        await store.recordSession(user.id, { familyId: token.jti, at: new Date(), clientAddress: null, userAgent: null });
        expect(await store.linkIdentity({ provider: 'github', subject: '7', userId: user.id, email: null, at: new Date() })).toBe('linked');
        await expect(store.linkIdentity({ provider: 'p'.repeat(65), subject: '7', userId: user.id, email: null, at: new Date() })).rejects.toThrow(/longer than 64/);
        await expect(store.putOneTime('k', 'v'.repeat(65_536), new Date(Date.now() + 60_000))).rejects.toThrow(/longer than 65535/);
        // The largest value fits the column whole, multi-byte characters included.
        const big = '€'.repeat(65_535);
        await store.putOneTime('big', big, new Date(Date.now() + 60_000));
        expect(await store.takeOneTime('big')).toBe(big);

        const { db } = createKysely(o.url);
        try {
          await db.withSchema(scope).deleteFrom('restjwt_user').where('id', '=', user.id).execute();
        } finally {
          await db.destroy();
        }
        expect(await store.sessionOwner(token.jti)).toBeNull();
        expect(await store.findIdentity('github', '7')).toBeNull();
      });

      it('three instances migrating one empty database at once apply the migration exactly once', async () => {
        const scope = await newScope();
        const [a, b, c] = await Promise.all([open(scope, { migrate: false }), open(scope, { migrate: false }), open(scope, { migrate: false })]);
        const applied = await Promise.all([a!.migrate(), b!.migrate(), c!.migrate()]);
        expect(applied.flat()).toEqual(['0001_initial', '0002_families', '0003_revoked_access', '0004_sessions_identities', '0005_token_state', '0006_audit', '0007_factors']);
        await a!.recordOutstanding(makeToken());
        expect(await c!.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
      });

      it('returns ids as decimal strings and compares usernames exactly (case and trailing spaces)', async () => {
        const store = await open(await newScope());
        const bob = await store.createUser({ username: 'bob', passwordHash: 'h' });
        expect(bob.id).toMatch(/^[1-9][0-9]*$/);
        expect(await store.findUser('username', 'bob ')).toBeNull();
        expect(await store.findUser('username', 'BOB')).toBeNull();
        const spaced = await store.createUser({ username: 'bob ', passwordHash: 'h' });
        expect(spaced.id).not.toBe(bob.id);
        expect(await store.findUser('id', `0${bob.id}`)).toBeNull();
        expect(await store.findUser('id', '99999999999999999999999')).toBeNull();
        await expect(store.createUser({ username: 'x'.repeat(151), passwordHash: 'h' })).rejects.toThrow(/longer than 150/);
      });
    });

    describe('importUser (restjwt importdjango)', () => {
      it('keeps the imported id, is idempotent, refuses clashes, and later users get fresh ids', async () => {
        const store = await open(await newScope());
        const user = {
          id: '42', username: 'alice', email: 'a@example.com', passwordHash: 'pbkdf2_sha256$1000$salt$hash', isActive: true,
          isStaff: true, lastLogin: null, dateJoined: new Date('2024-01-02T03:04:05.678Z'), tokenVersion: 'v1',
        };
        expect(await store.importUser(user)).toBe('imported');
        expect(await store.importUser(user)).toBe('exists');
        expect(await store.importUser({ ...user, username: 'mallory' })).toBe('conflict');
        expect(await store.importUser({ ...user, id: '43' })).toBe('conflict');
        expect(await store.findUser('id', '42')).toMatchObject({ username: 'alice', isStaff: true, passwordHash: user.passwordHash, tokenVersion: 'v1' });
        expect((await store.findUser('id', '42'))?.dateJoined.getTime()).toBe(user.dateJoined.getTime());
        const next = await store.createUser({ username: 'bob', passwordHash: 'h' });
        expect(Number(next.id)).toBeGreaterThan(42);
      });
    });

    describe('several instances on one database', () => {
      it('one-time values and identity links stay single-use and single-owner across three stores', async () => {
        const scope = await newScope();
        const instances = [await open(scope), await open(scope), await open(scope)];
        const users = [await instances[0]!.createUser({ username: 'a', passwordHash: 'h' }), await instances[0]!.createUser({ username: 'b', passwordHash: 'h' })];
        await instances[1]!.putOneTime('state', 'value', new Date(Date.now() + 60_000));
        const takes = await Promise.all(Array.from({ length: 30 }, (_, i) => instances[i % 3]!.takeOneTime('state')));
        expect(takes.filter((t) => t !== null)).toEqual(['value']);
        const links = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            instances[i % 3]!.linkIdentity({ provider: 'google', subject: 'x', userId: users[i % 2]!.id, email: null, at: new Date() }),
          ),
        );
        expect(links.filter((r) => r === 'linked')).toHaveLength(1);
      });

      it('second factors across three stores: one of 20 uses of one counter, one of 20 spends of one code, one of 20 registrations of one credential', async () => {
        const scope = await newScope();
        const instances = [await open(scope), await open(scope), await open(scope)];
        const user = await instances[0]!.createUser({ username: 'vera', passwordHash: 'h' });
        const totp = await instances[0]!.addFactor(newFactor(user.id));
        const at = new Date(Math.floor(Date.now() / 1000) * 1000);
        const uses = await Promise.all(Array.from({ length: 20 }, (_, i) => instances[i % 3]!.useFactor(totp.id, 60_000_000, at)));
        expect(uses.filter(Boolean)).toHaveLength(1);
        expect(await instances[1]!.listFactors(user.id)).toMatchObject([{ id: totp.id, counter: 60_000_000, lastUsedAt: at }]);
        // Counters past 2^31 (a WebAuthn signature count is 32 bits) compare as the numbers they are.
        const big = 2 ** 32 + 5;
        const raced = await Promise.all(Array.from({ length: 20 }, (_, i) => instances[i % 3]!.useFactor(totp.id, big, at)));
        expect(raced.filter(Boolean)).toHaveLength(1);
        expect(await instances[2]!.useFactor(totp.id, big - 1, at)).toBe(false);

        await instances[0]!.setRecoveryCodes(user.id, ['only', 'other']);
        const spends = await Promise.all(Array.from({ length: 20 }, (_, i) => instances[i % 3]!.useRecoveryCode(user.id, 'only', { audit: auditEvent({ type: 'recovery_code_used', userId: user.id, detail: { call: i } }) })));
        expect(spends.filter(Boolean)).toHaveLength(1);
        expect(await instances[1]!.countRecoveryCodes(user.id)).toBe(1);
        expect((await instances[2]!.listAudit()).events).toMatchObject([{ type: 'recovery_code_used', detail: { call: spends.indexOf(true) } }]);

        const registrations = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => instances[i % 3]!.addFactor(newFactor(user.id, 'cred-race'))));
        expect(registrations.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of registrations) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'credential_exists' });
        expect((await instances[0]!.listFactors(user.id)).map((f) => f.credentialId)).toEqual([null, 'cred-race']);
      });

      it('of 30 concurrent rotations of one token spread over three stores exactly one wins', async () => {
        const scope = await newScope();
        const instances = [await open(scope), await open(scope), await open(scope)];
        const presented = makeToken();
        await instances[0]!.recordOutstanding(presented);
        const successors = Array.from({ length: 30 }, () => makeToken());
        const results = await Promise.all(successors.map((s, i) => instances[i % 3]!.rotate(presented, s)));
        expect(results.filter((r) => r === 'rotated')).toHaveLength(1);
        expect(await instances[2]!.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
        for (const store of instances) expect(await store.isBlacklisted(presented.jti)).toBe(true);
      });

      it('a rotation that meets its presented token being recorded by an open transaction waits, then rotates it', async () => {
        const scope = await newScope();
        // A long statement timeout: on a loaded machine the server's lock wait must not expire before the release.
        const store = await openSqlStore({ url: o.url, schema: scope, statementTimeoutMs: 60_000 });
        stores.push(store);
        const { db } = createKysely<Record<string, Record<string, unknown>>>(o.url, {});
        const presented = makeToken({ familyId: 'fam-held' });
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let recorded!: () => void;
        const isRecorded = new Promise<void>((resolve) => (recorded = resolve));
        // Another instance records the token (as a login does) in a transaction held open until released.
        const holder = db
          .withSchema(scope)
          .transaction()
          .execute(async (trx) => {
            const { jti, tokenType, familyId, createdAt, expiresAt } = presented;
            await trx
              .insertInto('restjwt_outstanding_token')
              .values({ jti, user_id: null, token_type: tokenType, family_id: familyId, created_at: createdAt, expires_at: expiresAt })
              .execute();
            recorded();
            await released;
          });
        // Settled either way, so that a failure below is reported as itself and not as an unhandled rejection.
        const holderDone = holder.then(
          () => undefined,
          (error: unknown) => error,
        );
        let rotationDone: Promise<unknown> = Promise.resolve();
        try {
          await isRecorded;
          const successor = makeToken();
          const rotation = store.rotate({ ...presented, familyId: presented.jti }, successor, { inheritFamily: true });
          rotationDone = rotation.catch(() => undefined);
          // Wait until this rotation is blocked on the held row (so this test really is the race it names). The
          // probe looks for a waiting statement that names this test's schema: other test files run beside this one.
          const waiting =
            o.dialect === 'postgres'
              ? sql<{ n: number }>`SELECT cast(count(*) as integer) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position(${scope} in query) > 0`
              : sql<{ n: number }>`SELECT count(*) AS n FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT' AND locate(${scope}, trx_query) > 0`;
          // The server's lock tables show the wait; when they do not within a few seconds (information_schema's
          // view lags under load), a rotation still unsettled while the row is held is waiting just the same.
          let settled = false;
          void rotation.then(
            () => (settled = true),
            () => (settled = true),
          );
          const deadline = Date.now() + 5_000;
          while (Number((await waiting.execute(db)).rows[0]?.n ?? 0) === 0 && Date.now() < deadline) {
            if (settled) break;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          if (settled) throw new Error(`the rotation did not wait for the held row: it ended with ${await rotation.then(String, String)}`);
          release();
          expect(await holderDone).toBeUndefined();
          // Not a false loss: the committed row is found, blacklisted, and its family inherited.
          expect(await rotation).toBe('rotated');
          expect(await store.findOutstanding(presented.jti)).toMatchObject({ familyId: 'fam-held', replacedBy: successor.jti });
          expect(await store.findOutstanding(successor.jti)).toMatchObject({ familyId: 'fam-held', blacklistedAt: null });
          expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
        } finally {
          release();
          await holderDone;
          await rotationDone;
          await db.destroy();
        }
      }, 90_000);

      it('the hot statements keep working on a connection that prepared them after another instance adds a column', async () => {
        // One connection, so the statements prepared before the change are the ones used after it.
        const scope = await newScope();
        const store = await openSqlStore({ url: o.url, schema: scope, poolSize: 1 });
        stores.push(store);
        const user = await store.createUser({ username: 'alice', passwordHash: 'x' });
        const token = makeToken({ userId: user.id });
        await store.recordOutstanding(token);
        expect(await store.findUser('id', user.id)).toMatchObject({ username: 'alice' });
        expect(await store.isBlacklisted(token.jti)).toBe(false);
        // What a later restjwt version's migration would do while this instance keeps running.
        const { db } = createKysely<Record<string, Record<string, unknown>>>(o.url, {});
        try {
          await db.schema.withSchema(scope).alterTable('restjwt_user').addColumn('nickname', 'varchar(40)').execute();
        } finally {
          await db.destroy();
        }
        expect(await store.findUser('id', user.id)).toMatchObject({ username: 'alice' });
        expect(await store.findUser('username', 'alice')).toMatchObject({ id: user.id });
        expect(await store.rotate(token, makeToken({ userId: user.id }), { inheritFamily: true })).toBe('rotated');
        expect(await store.isBlacklisted(token.jti)).toBe(true);
      });

      it('with prepared statements off (?prepare=false, for poolers that cannot keep them) the same operations give the same answers', async () => {
        const scope = await newScope();
        const store = await openSqlStore({ url: o.url, schema: scope, prepareStatements: false });
        stores.push(store);
        const user = await store.createUser({ username: 'bob', passwordHash: 'x' });
        expect(await store.findUser('username', 'bob')).toMatchObject({ id: user.id });
        const first = makeToken({ userId: user.id, familyId: 'fam-np' });
        await store.recordOutstanding(first);
        const successors = Array.from({ length: 10 }, () => makeToken({ userId: user.id }));
        const results = await Promise.all(successors.map((t) => store.rotate(first, t, { inheritFamily: true })));
        expect(results.filter((r) => r === 'rotated')).toHaveLength(1);
        const winner = successors[results.indexOf('rotated')]!;
        expect(await store.findOutstanding(winner.jti)).toMatchObject({ familyId: 'fam-np', blacklistedAt: null });
        expect(await store.isBlacklisted(first.jti)).toBe(true);
      });

      it('a blacklist written by one instance is seen by the others at once', async () => {
        const scope = await newScope();
        const a = await open(scope);
        const b = await open(scope);
        const token = makeToken();
        expect(await b.isBlacklisted(token.jti)).toBe(false);
        expect(await a.blacklist(token)).toBe('blacklisted');
        expect(await b.isBlacklisted(token.jti)).toBe(true);
        expect(await b.blacklist(token)).toBe('already_blacklisted');
      });

      it('many tokens rotated concurrently by three stores: exactly one rotation per token', async () => {
        const scope = await newScope();
        const instances = [await open(scope), await open(scope), await open(scope)];
        const tokens = Array.from({ length: 40 }, () => makeToken());
        const calls = tokens.flatMap((t) => [0, 1, 2].map((i) => instances[i]!.rotate(t, makeToken())));
        const results = await Promise.all(calls);
        expect(results.filter((r) => r === 'rotated')).toHaveLength(tokens.length);
        expect(await instances[0]!.countTokens()).toEqual({ outstanding: 2 * tokens.length, blacklisted: tokens.length });
      });
    });

    describe('audit log: the event and its change in one transaction', () => {
      it('a user update the database refuses (a trigger) fails setPassword and leaves no audit row', async () => {
        const scope = await newScope();
        const store = await open(scope);
        const user = await store.createUser({ username: 'rita', passwordHash: 'old' });
        const event = auditEvent({ type: 'password_changed', userId: user.id, username: 'rita' });
        await whileRefusing(scope, 'restjwt_user', 'UPDATE', async () => {
          await expect(store.setPassword(user.id, 'new', { audit: event })).rejects.toThrow(/refused by a test trigger/);
          expect(await store.listAudit()).toEqual({ events: [], next: null });
          expect(await store.findUser('id', user.id)).toEqual(user);
        });
        // The same call with the trigger gone: the change and its one event.
        await store.setPassword(user.id, 'new', { audit: event });
        expect((await store.findUser('id', user.id))?.passwordHash).toBe('new');
        expect((await store.listAudit()).events).toMatchObject([{ type: 'password_changed', userId: user.id }]);
      });

      it('an audit insert the database refuses (a trigger) fails blacklist and rolls the token back: not blacklisted, not recorded', async () => {
        const scope = await newScope();
        const store = await open(scope);
        const recorded = makeToken({ familyId: 'fam-r' });
        const unrecorded = makeToken();
        await store.recordOutstanding(recorded);
        await whileRefusing(scope, 'restjwt_audit_event', 'INSERT', async () => {
          for (const token of [recorded, unrecorded]) {
            await expect(store.blacklist(token, { audit: auditEvent({ familyId: token.familyId }) })).rejects.toThrow(/refused by a test trigger/);
            expect(await store.isBlacklisted(token.jti)).toBe(false);
          }
          expect(await store.findOutstanding(recorded.jti)).toMatchObject({ blacklistedAt: null });
          expect(await store.findOutstanding(unrecorded.jti)).toBeNull();
          expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
        });
        expect(await store.listAudit()).toEqual({ events: [], next: null });
        // Not a lost blacklist: with the trigger gone the same calls blacklist, once each, with one event each.
        for (const token of [recorded, unrecorded]) expect(await store.blacklist(token, { audit: auditEvent({ familyId: token.familyId }) })).toBe('blacklisted');
        expect((await store.listAudit()).events).toHaveLength(2);
      });

      it('an audit insert the database refuses (a trigger) fails addFactor and useRecoveryCode: no factor added, the code still there', async () => {
        const scope = await newScope();
        const store = await open(scope);
        const user = await store.createUser({ username: 'ulla', passwordHash: 'h' });
        await store.setRecoveryCodes(user.id, ['code-1', 'code-2']);
        const event = (type: AuditEvent['type']) => auditEvent({ type, userId: user.id });
        await whileRefusing(scope, 'restjwt_audit_event', 'INSERT', async () => {
          await expect(store.addFactor(newFactor(user.id, 'cred-t'), { audit: event('factor_added') })).rejects.toThrow(/refused by a test trigger/);
          await expect(store.addFactor(newFactor(user.id), { audit: event('factor_added') })).rejects.toThrow(/refused by a test trigger/);
          expect(await store.listFactors(user.id)).toEqual([]);
          expect(await store.findFactorByCredential('cred-t')).toBeNull();
          await expect(store.useRecoveryCode(user.id, 'code-1', { audit: event('recovery_code_used') })).rejects.toThrow(/refused by a test trigger/);
          expect(await store.countRecoveryCodes(user.id)).toBe(2);
        });
        expect(await store.listAudit()).toEqual({ events: [], next: null });
        // Nothing was half-done: with the trigger gone the same calls succeed, once each, with one event each.
        const added = await store.addFactor(newFactor(user.id, 'cred-t'), { audit: event('factor_added') });
        expect(await store.findFactorByCredential('cred-t')).toEqual(added);
        expect(await store.useRecoveryCode(user.id, 'code-1', { audit: event('recovery_code_used') })).toBe(true);
        expect(await store.useRecoveryCode(user.id, 'code-1', { audit: event('recovery_code_used') })).toBe(false);
        expect(await store.countRecoveryCodes(user.id)).toBe(1);
        expect((await store.listAudit()).events.map((e) => e.type)).toEqual(['recovery_code_used', 'factor_added']);
      });

      it('of 20 concurrent audited blacklists of one token over three stores exactly one blacklists, and exactly one audit row is written', async () => {
        const scope = await newScope();
        const instances = [await open(scope), await open(scope), await open(scope)];
        const token = makeToken({ familyId: 'fam-c' });
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => instances[i % 3]!.blacklist(token, { audit: auditEvent({ familyId: token.familyId, detail: { call: i } }) })),
        );
        expect(results.filter((r) => r === 'blacklisted')).toHaveLength(1);
        const { events } = await instances[0]!.listAudit();
        expect(events).toHaveLength(1);
        // The row is the winner's event.
        expect(events[0]?.detail).toEqual({ call: results.indexOf('blacklisted') });
        expect(await instances[1]!.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
      });
    });

    describe('query plans', () => {
      it('EXPLAIN: the blacklist check is one unique-index lookup, no table scan', async () => {
        const scope = await newScope();
        const store = await open(scope);
        // Enough rows that a planner would rather scan a table if no index fitted.
        const { db } = createKysely(o.url);
        const scoped = db.withSchema(scope);
        const now = Date.now();
        let probeJti = '';
        try {
          for (let chunk = 0; chunk < 4; chunk++) {
            const rows = Array.from({ length: 1000 }, () => ({
              jti: randomUUID().replaceAll('-', ''),
              user_id: null,
              token_type: 'refresh' as const,
              family_id: null,
              created_at: new Date(now),
              expires_at: new Date(now + HOUR),
            }));
            await scoped.insertInto('restjwt_outstanding_token').values(rows).execute();
            if (chunk === 0) probeJti = rows[500]!.jti;
          }
          const ids = await scoped.selectFrom('restjwt_outstanding_token').select('id').orderBy('id').limit(2000).execute();
          await scoped
            .updateTable('restjwt_outstanding_token')
            .set({ blacklisted_at: new Date(now) })
            .where('id', 'in', ids.map((r) => String(r.id)))
            .execute();
        } finally {
          await db.destroy();
        }
        await o.analyze(scope);
        expect(await store.isBlacklisted(probeJti)).toBe(true);
        const plan = await store.explainIsBlacklisted(probeJti);
        console.info(`[${o.name}] EXPLAIN isBlacklisted:\n  ${plan.join('\n  ')}`);
        o.expectIndexedPlan(plan);
      });
    });

    describe('outages', () => {
      let proxy: TcpProxy;
      beforeAll(async () => {
        const target = new URL(o.url);
        proxy = await startTcpProxy(target.hostname, Number(target.port || (o.dialect === 'postgres' ? 5432 : 3306)));
      });
      afterAll(async () => {
        await proxy.close();
      });

      const viaProxy = (params: Record<string, string> = {}): string => {
        const url = new URL(o.url);
        url.port = String(proxy.port);
        return withParams(url.toString(), params);
      };

      it('an unreachable server fails fast with StoreUnavailableError saying what to check, without the password', async () => {
        const url = new URL(o.url);
        url.port = '1';
        url.username = 'app';
        url.password = 's3cret-pw';
        const started = Date.now();
        const error = await openSqlStore({ url: url.toString(), schema: 'nothing_here' }).catch((e: unknown) => e);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toMatch(/unreachable.*ECONNREFUSED.*check that the server is running/);
        expect((error as Error).message).toContain(`127.0.0.1:1/`);
        expect((error as Error).message).not.toContain('s3cret-pw');
      });

      it('a connection cut answers StoreUnavailableError at once, and the pool heals when the server is back', async () => {
        const scope = await newScope();
        await open(scope); // migrated directly
        const store = await open(scope, { url: viaProxy(), migrate: false });
        const token = makeToken();
        expect(await store.blacklist(token)).toBe('blacklisted');

        await proxy.cut();
        const started = Date.now();
        for (const call of [() => store.isBlacklisted(token.jti), () => store.rotate(makeToken(), makeToken()), () => store.ping()]) {
          const error = await call().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(StoreUnavailableError);
        }
        expect(Date.now() - started).toBeLessThan(3000);

        await proxy.restore();
        expect(await store.isBlacklisted(token.jti)).toBe(true);
        expect(await store.rotate(makeToken(), makeToken())).toBe('rotated');
      });

      it('a server that stops answering (black hole) fails within the timeouts instead of hanging', async () => {
        const scope = await newScope();
        await open(scope);
        const store = await open(scope, { url: viaProxy({ connect_timeout: '1', statement_timeout: '1000' }), migrate: false });
        await store.recordOutstanding(makeToken()); // a pooled connection now exists

        proxy.stall();
        const started = Date.now();
        const [pooled, rotate] = await Promise.all([
          store.isBlacklisted('x').catch((e: unknown) => e),
          store.rotate(makeToken(), makeToken()).catch((e: unknown) => e),
        ]);
        const elapsed = Date.now() - started;
        expect(pooled).toBeInstanceOf(StoreUnavailableError);
        expect(rotate).toBeInstanceOf(StoreUnavailableError);
        expect((rotate as StoreUnavailableError).message).toMatch(/did not answer in time|unreachable/);
        expect(elapsed).toBeLessThan(6000);

        await proxy.restore();
        expect(await store.rotate(makeToken(), makeToken())).toBe('rotated');
        expect((await store.countTokens()).blacklisted).toBeGreaterThanOrEqual(1);
      });
    });

    describe('flushExpired at volume', () => {
      it('deletes 20,000 expired tokens in batches, with progress, leaving live ones', async () => {
        const scope = await newScope();
        const store = await open(scope);
        const { db } = createKysely(o.url);
        const scoped = db.withSchema(scope);
        const now = Date.now();
        try {
          for (let chunk = 0; chunk < 20; chunk++) {
            await scoped
              .insertInto('restjwt_outstanding_token')
              .values(
                Array.from({ length: 1000 }, () => ({
                  jti: randomUUID().replaceAll('-', ''),
                  user_id: null,
                  token_type: 'refresh' as const,
                  family_id: null,
                  created_at: new Date(now - 2 * HOUR),
                  expires_at: new Date(now - HOUR),
                })),
              )
              .execute();
          }
          const ids = await scoped.selectFrom('restjwt_outstanding_token').select('id').orderBy('id').limit(5000).execute();
          await scoped
            .updateTable('restjwt_outstanding_token')
            .set({ blacklisted_at: new Date(now) })
            .where('id', 'in', ids.map((r) => String(r.id)))
            .execute();
        } finally {
          await db.destroy();
        }
        const live = makeToken();
        await store.blacklist(live);

        const progress: number[] = [];
        const started = performance.now();
        const deleted = await store.flushExpired(new Date(now), { onProgress: (p) => progress.push(p.deleted) });
        const seconds = (performance.now() - started) / 1000;
        console.info(`[${o.name}] flushExpired: ${deleted} rows in ${seconds.toFixed(2)} s (${Math.round(deleted / seconds)} rows/s), ${progress.length} batches`);

        expect(deleted).toBe(20_000);
        expect(progress).toHaveLength(20);
        expect(progress.at(-1)).toBe(20_000);
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
        expect(await store.isBlacklisted(live.jti)).toBe(true);
      }, 60_000);
    });
  });
}
