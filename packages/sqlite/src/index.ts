/**
 * The SQLite backend (`@restjwt/sqlite`): the store (`store.ts`), its statements (`statements.ts`), its
 * migrations (`migrations.ts`), its URLs (`url.ts`) and its error translation (`errors.ts`).
 */
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './store.js';
export { appliedMigrations, migrate, migrations, MIGRATIONS_TABLE, type Migration } from './migrations.js';
export { isSqliteUrl, sqliteFilenameFromUrl } from './url.js';
export { DEFAULT_FLUSH_BATCH_SIZE } from '@restjwt/core/store-kit';
