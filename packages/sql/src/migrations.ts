/**
 * The server databases' schema as versioned Kysely migrations, kept in code. One definition serves PostgreSQL and
 * MariaDB/MySQL; the few differences (identity columns, time type, binary collation) are the helpers below.
 *
 * The tables, columns and index names are the SQLite store's (`../sqlite/migrations.ts`), so query plans and error
 * messages read the same everywhere. Append new migrations; never edit or rename released ones.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Migrator, sql, type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { SqlDialect } from './connect.js';

/** The table recording which migrations ran (Kysely's migrator format), and its lock table. */
export const MIGRATIONS_TABLE = 'restjwt_migrations';
export const MIGRATIONS_LOCK_TABLE = 'restjwt_migrations_lock';

/** Names of every migration, oldest first. */
export const MIGRATION_NAMES = ['0001_initial', '0002_families', '0003_revoked_access', '0004_sessions_identities', '0005_token_state', '0006_audit', '0007_factors'] as const;

/** The longest one-time value (`putOneTime` refuses longer ones): OAuth state and codes are far shorter. */
export const MAX_ONE_TIME_VALUE = 65_535;

/** The identity column: `bigserial` on PostgreSQL, `bigint auto_increment` on MariaDB/MySQL. */
function addId<T extends string, C extends string>(dialect: SqlDialect, table: CreateTableBuilder<T, C>): CreateTableBuilder<T, C | 'id'> {
  return dialect === 'postgres'
    ? table.addColumn('id', 'bigserial', (col) => col.primaryKey())
    : table.addColumn('id', 'bigint', (col) => col.autoIncrement().primaryKey());
}

/** Instants with millisecond precision: `timestamptz` on PostgreSQL, `datetime(3)` holding UTC on MariaDB/MySQL. */
function instant(dialect: SqlDialect) {
  return dialect === 'postgres' ? sql`timestamptz` : sql`datetime(3)`;
}

/**
 * The binary collation without trailing-space padding on this server: usernames, emails and jtis must compare
 * exactly, as on PostgreSQL and SQLite (the default collations ignore case and accents, and `_bin` ones still treat
 * `'bob'` and `'bob '` as equal).
 */
async function exactCollation(db: Kysely<unknown>): Promise<string> {
  const { rows } = await sql<{ v: string }>`select version() as v`.execute(db);
  const version = rows[0]?.v ?? '';
  if (/mariadb/i.test(version)) return 'utf8mb4_nopad_bin';
  const major = Number(/^(\d+)\./.exec(version)?.[1] ?? '0');
  return major >= 8 ? 'utf8mb4_0900_bin' : 'utf8mb4_bin';
}

async function initialUp(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  // MariaDB/MySQL: InnoDB (transactions, foreign keys) and an exact collation.
  const collation = dialect === 'mysql' ? await exactCollation(db) : '';
  const tableOptions = <T extends string, C extends string>(_dialect: SqlDialect, table: CreateTableBuilder<T, C>): CreateTableBuilder<T, C> =>
    dialect === 'postgres' ? table : table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = ${sql.raw(collation)}`);

  await tableOptions(
    dialect,
    addId(dialect, db.schema.createTable('restjwt_user'))
      .addColumn('username', 'varchar(150)', (col) => col.notNull())
      .addColumn('email', 'varchar(254)', (col) => col.notNull().defaultTo(''))
      .addColumn('password', 'varchar(255)', (col) => col.notNull())
      .addColumn('is_active', 'boolean', (col) => col.notNull().defaultTo(true))
      .addColumn('is_staff', 'boolean', (col) => col.notNull().defaultTo(false))
      .addColumn('last_login', instant(dialect))
      .addColumn('date_joined', instant(dialect), (col) => col.notNull())
      .addColumn('token_version', 'varchar(64)', (col) => col.notNull())
      .addUniqueConstraint('restjwt_user_username_uniq', ['username']),
  ).execute();
  // Login may key on email (usernameField = 'email').
  await db.schema.createIndex('restjwt_user_email_idx').on('restjwt_user').column('email').execute();

  await tableOptions(
    dialect,
    addId(dialect, db.schema.createTable('restjwt_outstanding_token'))
      .addColumn('jti', 'varchar(255)', (col) => col.notNull())
      .addColumn('user_id', 'bigint')
      .addColumn('token_type', 'varchar(16)', (col) => col.notNull())
      .addColumn('family_id', 'varchar(255)')
      .addColumn('created_at', instant(dialect), (col) => col.notNull())
      .addColumn('expires_at', instant(dialect), (col) => col.notNull())
      .addCheckConstraint('restjwt_outstanding_token_type_check', sql`token_type in ('refresh', 'sliding')`),
  ).execute();
  // The uniqueness that makes blacklist/rotate idempotent, and the lookup of every blacklist check.
  await db.schema.createIndex('restjwt_outstanding_token_jti_uniq').unique().on('restjwt_outstanding_token').column('jti').execute();
  await db.schema.createIndex('restjwt_outstanding_token_user_id_idx').on('restjwt_outstanding_token').column('user_id').execute();
  await db.schema.createIndex('restjwt_outstanding_token_expires_at_idx').on('restjwt_outstanding_token').column('expires_at').execute();
  await db.schema.createIndex('restjwt_outstanding_token_family_id_idx').on('restjwt_outstanding_token').column('family_id').execute();

  await tableOptions(
    dialect,
    addId(dialect, db.schema.createTable('restjwt_blacklisted_token'))
      .addColumn('token_id', 'bigint', (col) => col.notNull())
      .addColumn('blacklisted_at', instant(dialect), (col) => col.notNull()),
  ).execute();
  // The uniqueness that decides the single winner of concurrent blacklist/rotate calls (insert-if-absent whose
  // affected-row count is checked), and the index the cascade from outstanding rows needs.
  await db.schema.createIndex('restjwt_blacklisted_token_token_id_uniq').unique().on('restjwt_blacklisted_token').column('token_id').execute();

  // Foreign keys last, so that MariaDB/MySQL reuse the indexes above instead of creating their own.
  await db.schema
    .alterTable('restjwt_outstanding_token')
    .addForeignKeyConstraint('restjwt_outstanding_token_user_id_fk', ['user_id'], 'restjwt_user', ['id'], (fk) => fk.onDelete('cascade'))
    .execute();
  await db.schema
    .alterTable('restjwt_blacklisted_token')
    .addForeignKeyConstraint('restjwt_blacklisted_token_token_id_fk', ['token_id'], 'restjwt_outstanding_token', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .execute();
}

/**
 * Sessions, linked identities and one-time values (the optional capabilities), named and indexed as in the SQLite
 * store's migration of the same name.
 */
async function sessionsIdentitiesUp(db: Kysely<unknown>, dialect: SqlDialect, d: Kysely<unknown>): Promise<void> {
  const collation = dialect === 'mysql' ? await exactCollation(db) : '';
  const create = <C extends string>(table: CreateTableBuilder<string, C>) =>
    (dialect === 'postgres' ? table : table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = ${sql.raw(collation)}`)).execute();

  await create(
    addId(dialect, d.schema.createTable('restjwt_session'))
      .addColumn('family_id', 'varchar(255)', (col) => col.notNull())
      .addColumn('user_id', 'bigint', (col) => col.notNull())
      .addColumn('created_at', instant(dialect), (col) => col.notNull())
      .addColumn('last_used_at', instant(dialect), (col) => col.notNull())
      .addColumn('client_address', 'varchar(255)')
      .addColumn('user_agent', 'varchar(512)'),
  );
  // One session per family: recordSession is an insert-if-absent on it.
  await d.schema.createIndex('restjwt_session_family_id_uniq').unique().on('restjwt_session').column('family_id').execute();
  await d.schema.createIndex('restjwt_session_user_id_idx').on('restjwt_session').column('user_id').execute();

  await create(
    addId(dialect, d.schema.createTable('restjwt_identity'))
      .addColumn('provider', 'varchar(64)', (col) => col.notNull())
      .addColumn('subject', 'varchar(255)', (col) => col.notNull())
      .addColumn('user_id', 'bigint', (col) => col.notNull())
      .addColumn('email', 'varchar(254)')
      .addColumn('created_at', instant(dialect), (col) => col.notNull())
      .addColumn('last_used_at', instant(dialect), (col) => col.notNull()),
  );
  // The uniqueness that makes linkIdentity atomic: of concurrent links of one pair, one insert wins.
  await d.schema.createIndex('restjwt_identity_provider_subject_uniq').unique().on('restjwt_identity').columns(['provider', 'subject']).execute();
  await d.schema.createIndex('restjwt_identity_user_id_idx').on('restjwt_identity').column('user_id').execute();

  await create(
    addId(dialect, d.schema.createTable('restjwt_one_time'))
      .addColumn('key', 'varchar(255)', (col) => col.notNull())
      // MariaDB/MySQL's `text` holds 65,535 bytes, fewer than MAX_ONE_TIME_VALUE characters of utf8mb4.
      .addColumn('value', dialect === 'postgres' ? 'text' : sql`mediumtext`, (col) => col.notNull())
      .addColumn('expires_at', instant(dialect), (col) => col.notNull()),
  );
  await d.schema.createIndex('restjwt_one_time_key_uniq').unique().on('restjwt_one_time').column('key').execute();
  await d.schema.createIndex('restjwt_one_time_expires_at_idx').on('restjwt_one_time').column('expires_at').execute();

  // Foreign keys last, so that MariaDB/MySQL reuse the user_id indexes above.
  for (const table of ['restjwt_session', 'restjwt_identity']) {
    await d.schema
      .alterTable(table)
      .addForeignKeyConstraint(`${table}_user_id_fk`, ['user_id'], 'restjwt_user', ['id'], (fk) => fk.onDelete('cascade'))
      .execute();
  }
}

/**
 * One row per token: the blacklist becomes the outstanding row's own `blacklisted_at`, so that a rotation updates the
 * presented row in place (a HOT update: no indexed column changes) and inserts one row, where it inserted two rows
 * and updated one (7 index entries, 2 foreign-key checks). The foreign key from tokens to users goes too: every
 * insert of a token checked it by locking the user's row (FOR KEY SHARE), which all of a user's concurrent refreshes
 * queued on; the insert still stores NULL for an unknown user (a lookup, as simplejwt does), and no code deletes
 * users. Measured in docs/benchmarks.md ("refresh on PostgreSQL").
 *
 * Online: adding a nullable column changes the catalog only (PostgreSQL 11+, MariaDB 10.3+: no rewrite); the old
 * table is renamed first (atomic, quick), so no instance can blacklist into it while its rows are copied, then
 * dropped. Every blacklisted token stays refused and every live one accepted. An instance of the previous version
 * still running fails loudly from the rename on (its statements name the old table: 503), never accepting a
 * blacklisted token; so upgrade the instances right after migrating (docs/architecture.md, "Upgrading").
 */
async function tokenStateUp(db: Kysely<unknown>, dialect: SqlDialect, schema: string | undefined): Promise<void> {
  const table = (name: string) => sql.table(schema === undefined ? name : `${schema}.${name}`);
  const retired = 'restjwt_blacklisted_token_0004';
  await db.schema.alterTable('restjwt_outstanding_token').addColumn('blacklisted_at', instant(dialect)).execute();
  if (dialect === 'postgres') {
    await sql`ALTER TABLE ${table('restjwt_blacklisted_token')} RENAME TO ${sql.id(retired)}`.execute(db);
    await sql`UPDATE ${table('restjwt_outstanding_token')} AS o SET blacklisted_at = b.blacklisted_at
      FROM ${table(retired)} AS b WHERE b.token_id = o.id`.execute(db);
    await sql`ALTER TABLE ${table('restjwt_outstanding_token')} DROP CONSTRAINT restjwt_outstanding_token_user_id_fk`.execute(db);
  } else {
    await sql`RENAME TABLE ${table('restjwt_blacklisted_token')} TO ${table(retired)}`.execute(db);
    await sql`UPDATE ${table('restjwt_outstanding_token')} AS o JOIN ${table(retired)} AS b ON b.token_id = o.id
      SET o.blacklisted_at = b.blacklisted_at`.execute(db);
    await sql`ALTER TABLE ${table('restjwt_outstanding_token')} DROP FOREIGN KEY restjwt_outstanding_token_user_id_fk`.execute(db);
  }
  await db.schema.dropTable(retired).execute();
}

/**
 * The audit log: one table, written in the transaction of the change it records. `user_id` and `actor_id` are text
 * without a foreign key, so that an event about an unknown user (a failed login) is kept, and so is the history of a
 * user deleted later. Indexed for its queries only: `at` (the time bounds of `countAudit` and `flushAudit`), and
 * `(user_id, id)` and `(username, id)` (a user's events, newest first); every other filter reads along the primary key.
 *
 * Online: a new table and its indexes; nothing existing is touched.
 */
async function auditUp(db: Kysely<unknown>, dialect: SqlDialect, d: Kysely<unknown>): Promise<void> {
  const collation = dialect === 'mysql' ? await exactCollation(db) : '';
  const table = addId(dialect, d.schema.createTable('restjwt_audit_event'))
    .addColumn('type', 'varchar(32)', (col) => col.notNull())
    .addColumn('at', instant(dialect), (col) => col.notNull())
    .addColumn('user_id', 'varchar(255)')
    .addColumn('username', 'varchar(150)')
    .addColumn('actor_id', 'varchar(255)')
    .addColumn('family_id', 'varchar(255)')
    .addColumn('client_address', 'varchar(255)')
    .addColumn('user_agent', 'varchar(512)')
    .addColumn('detail', 'text', (col) => col.notNull());
  await (dialect === 'postgres' ? table : table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = ${sql.raw(collation)}`)).execute();
  await d.schema.createIndex('restjwt_audit_event_at_idx').on('restjwt_audit_event').column('at').execute();
  await d.schema.createIndex('restjwt_audit_event_user_id_idx').on('restjwt_audit_event').columns(['user_id', 'id']).execute();
  await d.schema.createIndex('restjwt_audit_event_username_idx').on('restjwt_audit_event').columns(['username', 'id']).execute();
}

/**
 * Second factors and recovery codes (FactorStore), owned by their user: deleting the user deletes them (as sessions
 * and identities). `credential_id` is unique across users and nullable (TOTP factors have none; both databases
 * allow many NULLs in a unique index). It and `code_hash` are ASCII with a binary collation on MariaDB/MySQL: 1023
 * utf8mb4 characters (4092 bytes) would exceed InnoDB's 3072-byte key, and comparisons must be exact; the store
 * refuses values that are not visible ASCII before writing (see `checkAsciiKey`), so every database compares them
 * alike (no case folding, and no PAD SPACE: they hold no space).
 *
 * Online: new tables and their indexes; nothing existing is touched.
 */
async function factorsUp(db: Kysely<unknown>, dialect: SqlDialect, d: Kysely<unknown>): Promise<void> {
  const collation = dialect === 'mysql' ? await exactCollation(db) : '';
  const create = <C extends string>(table: CreateTableBuilder<string, C>) =>
    (dialect === 'postgres' ? table : table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = ${sql.raw(collation)}`)).execute();
  const asciiKey = (length: number) => (dialect === 'postgres' ? sql.raw(`varchar(${length})`) : sql.raw(`varchar(${length}) character set ascii collate ascii_bin`));

  await create(
    addId(dialect, d.schema.createTable('restjwt_factor'))
      .addColumn('user_id', 'bigint', (col) => col.notNull())
      .addColumn('kind', 'varchar(16)', (col) => col.notNull())
      .addColumn('label', 'varchar(100)', (col) => col.notNull())
      .addColumn('confirmed', 'boolean', (col) => col.notNull().defaultTo(false))
      .addColumn('created_at', instant(dialect), (col) => col.notNull())
      .addColumn('last_used_at', instant(dialect))
      // 4000 characters of utf8mb4 fit MariaDB/MySQL's `text` (65,535 bytes).
      .addColumn('secret', 'text', (col) => col.notNull())
      .addColumn('credential_id', asciiKey(1023))
      .addColumn('counter', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('meta', 'text', (col) => col.notNull())
      .addCheckConstraint('restjwt_factor_kind_check', sql`kind in ('totp', 'webauthn')`),
  );
  // A credential belongs to one factor: addFactor's unique violation is CredentialExistsError.
  await d.schema.createIndex('restjwt_factor_credential_id_uniq').unique().on('restjwt_factor').column('credential_id').execute();
  await d.schema.createIndex('restjwt_factor_user_id_idx').on('restjwt_factor').column('user_id').execute();

  await create(
    d.schema
      .createTable('restjwt_recovery_code')
      .addColumn('user_id', 'bigint', (col) => col.notNull())
      .addColumn('code_hash', asciiKey(128), (col) => col.notNull())
      // Spending a code is one delete by this key; its user_id prefix also serves the foreign key and the counts.
      .addPrimaryKeyConstraint('restjwt_recovery_code_pkey', ['user_id', 'code_hash']),
  );

  // Foreign keys last, so that MariaDB/MySQL reuse the user_id indexes above.
  for (const table of ['restjwt_factor', 'restjwt_recovery_code']) {
    await d.schema
      .alterTable(table)
      .addForeignKeyConstraint(`${table}_user_id_fk`, ['user_id'], 'restjwt_user', ['id'], (fk) => fk.onDelete('cascade'))
      .execute();
  }
}

async function initialDown(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('restjwt_blacklisted_token').ifExists().execute();
  await db.schema.dropTable('restjwt_outstanding_token').ifExists().execute();
  await db.schema.dropTable('restjwt_user').ifExists().execute();
}

/** The migrations for `dialect`, run against `schema` when given (else the connection's default schema/database). */
export function sqlMigrations(dialect: SqlDialect, schema?: string): Record<(typeof MIGRATION_NAMES)[number], Migration> {
  const scoped = (db: Kysely<unknown>): Kysely<unknown> => (schema === undefined ? db : db.withSchema(schema));
  return {
    '0001_initial': {
      up: (db: Kysely<unknown>) => initialUp(scoped(db), dialect),
      down: (db: Kysely<unknown>) => initialDown(scoped(db)),
    },
    // Refresh-token families: the successor `rotate` recorded, for reuse detection and the reuse interval.
    '0002_families': {
      up: async (db: Kysely<unknown>) => {
        await scoped(db).schema.alterTable('restjwt_outstanding_token').addColumn('replaced_by', 'varchar(255)').execute();
      },
      down: async (db: Kysely<unknown>) => {
        await scoped(db).schema.alterTable('restjwt_outstanding_token').dropColumn('replaced_by').execute();
      },
    },
    // Revoked access tokens (setting revokeAccessTokens): refused by jti until they expire.
    '0003_revoked_access': {
      up: async (db: Kysely<unknown>) => {
        const d = scoped(db);
        const collation = dialect === 'mysql' ? await exactCollation(db) : '';
        const table = addId(dialect, d.schema.createTable('restjwt_revoked_access'))
          .addColumn('jti', 'varchar(255)', (col) => col.notNull())
          .addColumn('expires_at', instant(dialect), (col) => col.notNull());
        await (dialect === 'postgres' ? table : table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = ${sql.raw(collation)}`)).execute();
        await d.schema.createIndex('restjwt_revoked_access_jti_uniq').unique().on('restjwt_revoked_access').column('jti').execute();
        await d.schema.createIndex('restjwt_revoked_access_expires_at_idx').on('restjwt_revoked_access').column('expires_at').execute();
      },
      down: async (db: Kysely<unknown>) => {
        await scoped(db).schema.dropTable('restjwt_revoked_access').ifExists().execute();
      },
    },
    // Sessions (admin page), linked identities (social login) and one-time values (OAuth state, login codes).
    '0004_sessions_identities': {
      up: (db: Kysely<unknown>) => sessionsIdentitiesUp(db, dialect, scoped(db)),
      down: async (db: Kysely<unknown>) => {
        const d = scoped(db);
        for (const table of ['restjwt_one_time', 'restjwt_identity', 'restjwt_session']) await d.schema.dropTable(table).ifExists().execute();
      },
    },
    // One row per token: the blacklist is the outstanding row's `blacklisted_at`; no foreign key to users.
    '0005_token_state': {
      up: (db: Kysely<unknown>) => tokenStateUp(scoped(db), dialect, schema),
    },
    // The audit log of security events (AuditStore).
    '0006_audit': {
      up: (db: Kysely<unknown>) => auditUp(db, dialect, scoped(db)),
      down: async (db: Kysely<unknown>) => {
        await scoped(db).schema.dropTable('restjwt_audit_event').ifExists().execute();
      },
    },
    // Second factors and recovery codes (FactorStore).
    '0007_factors': {
      up: (db: Kysely<unknown>) => factorsUp(db, dialect, scoped(db)),
      down: async (db: Kysely<unknown>) => {
        const d = scoped(db);
        for (const table of ['restjwt_recovery_code', 'restjwt_factor']) await d.schema.dropTable(table).ifExists().execute();
      },
    },
  };
}

/** A Kysely migrator over restjwt's migrations (its bookkeeping tables go into `schema` too). */
export function createMigrator(db: Kysely<unknown>, dialect: SqlDialect, schema?: string): Migrator {
  const provider: MigrationProvider = { getMigrations: async () => sqlMigrations(dialect, schema) };
  return new Migrator({
    db,
    provider,
    migrationTableName: MIGRATIONS_TABLE,
    migrationLockTableName: MIGRATIONS_LOCK_TABLE,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
}

/**
 * Applies pending migrations, in order, under the migrator's lock (so several instances starting together apply
 * each one once). Returns the names applied, `[]` when the schema was current.
 *
 * @throws the first migration error (the driver's error; translate it for messages).
 */
export async function migrateToLatest(db: Kysely<unknown>, dialect: SqlDialect, schema?: string): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await createMigrator(db, dialect, schema).migrateToLatest();
    if (error === undefined) return (results ?? []).filter((r) => r.status === 'Success' && r.direction === 'Up').map((r) => r.migrationName);
    // Kysely's migrator first introspects every table of the database; a table or schema dropped meanwhile by
    // someone else makes that query fail. Nothing was migrated then: look again.
    if (attempt < 5 && isCatalogRace(error)) {
      await sleep(50 * attempt);
      continue;
    }
    throw error;
  }
}

/** PostgreSQL catalog lookups that fail when an object vanishes while being listed. */
function isCatalogRace(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e?.code === '3F000' || e?.code === '42P01') return true;
  return e?.code === 'XX000' && typeof e.message === 'string' && /cache lookup failed/.test(e.message);
}
