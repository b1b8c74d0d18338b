/**
 * Opens a store from a database URL, the way the CLI and `restjwt serve` take it (`--database`, `RESTJWT_DATABASE`).
 */
import type { Store } from '../core/store/types.js';
import { createMemoryStore } from './memory/index.js';
import { isSqliteUrl, openSqliteStore, sqliteFilenameFromUrl } from './sqlite/index.js';

/** The database URL used when none is given: a SQLite file in the working directory. */
export const DEFAULT_DATABASE_URL = 'sqlite:./restjwt.sqlite3';

/** Every URL form {@link openStore} accepts, for error messages and help texts. */
export const ACCEPTED_DATABASE_URLS =
  'sqlite:./restjwt.sqlite3 (a file relative to the working directory), sqlite:///var/lib/restjwt/db.sqlite3 ' +
  '(an absolute path), sqlite::memory: or memory: (in-process, lost on exit)';

/** Options for {@link openStore}. */
export interface OpenStoreOptions {
  /** Apply pending migrations while opening (default true). `restjwt migrate` passes false to report what it applies. */
  migrate?: boolean;
}

/** Schemes of the server databases planned for the multi-instance stores. */
const PLANNED_SCHEMES = new Set(['postgres', 'postgresql', 'mysql', 'mariadb']);

/** True when `url` is the in-process memory store (`memory:`, also spelled `memory://`). */
function isMemoryUrl(url: string): boolean {
  return /^memory:(\/\/)?$/i.test(url.trim());
}

/**
 * Opens the store a database URL names: `sqlite:…` opens (creating if needed) a SQLite file, `memory:` an in-process
 * store. Migrations run on open unless `options.migrate` is false.
 *
 * @throws Error saying what to use instead for server-database URLs (not available yet) and unknown schemes.
 * @throws StoreUnavailableError when the SQLite file cannot be opened.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const trimmed = url.trim();
  if (isSqliteUrl(trimmed)) {
    return openSqliteStore({ filename: sqliteFilenameFromUrl(trimmed), migrate: options.migrate ?? true });
  }
  if (isMemoryUrl(trimmed)) return createMemoryStore();

  // Only the scheme is ever echoed: a server database URL usually carries a password.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme !== undefined && PLANNED_SCHEMES.has(scheme)) {
    throw new Error(
      `${scheme}:// databases arrive with the multi-instance stores, which are not available yet. ` +
        `Use SQLite for now, e.g. --database ${DEFAULT_DATABASE_URL}.`,
    );
  }
  const got = scheme === undefined ? 'a value without a scheme' : `a ${scheme}: URL`;
  throw new Error(`Unsupported database URL (${got}). Use one of: ${ACCEPTED_DATABASE_URLS}.`);
}
