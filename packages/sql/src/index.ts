/**
 * The server-database backend (`@restjwt/sql`), PostgreSQL and MariaDB/MySQL: the store (`store.ts`), its
 * statements (`statements.ts`, `pg-rotate.ts`), how they run (`transaction.ts`), the values its columns take
 * (`rows.ts`), connections (`connect.ts`), driver errors (`errors.ts`), the schema (`schema.ts`, `migrations.ts`).
 */
export { openSqlStore, SqlStore, type SqlStoreOptions } from './store.js';
export {
  createKysely,
  dialectLabel,
  isSqlUrl,
  parseSqlUrl,
  sqlDialectOf,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_POOL_SIZE,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  SQL_URL_EXAMPLES,
  type SqlConnection,
  type SqlConnectOptions,
  type SqlDialect,
} from './connect.js';
export { createMigrator, migrateToLatest, sqlMigrations, MIGRATION_NAMES, MIGRATIONS_TABLE, MIGRATIONS_LOCK_TABLE } from './migrations.js';
export type { RestJwtDatabase } from './schema.js';
export { DEFAULT_FLUSH_BATCH_SIZE } from '@restjwt/core/store-kit';
export { translateSqlError, uniqueViolation } from './errors.js';
