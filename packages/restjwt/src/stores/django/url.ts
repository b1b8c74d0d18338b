/**
 * URLs naming a Django project's database, for the shared-database mode and `restjwt importdjango`:
 *
 * - `django+sqlite:./db.sqlite3`, `django+sqlite:///srv/app/db.sqlite3`: Django's SQLite file;
 * - `django+postgres://USER[:PASSWORD]@HOST[:PORT]/NAME` (also `django+postgresql://`): Django's PostgreSQL database.
 */
import { sqliteFilenameFromUrl } from '@restjwt/sqlite';

/** Where a Django database is. */
export type DjangoDatabase = { kind: 'sqlite'; filename: string } | { kind: 'postgres'; connectionString: string };

export const DJANGO_URL_EXAMPLES = 'django+sqlite:./db.sqlite3, django+sqlite:///srv/app/db.sqlite3 or django+postgres://user@host:5432/name';

/** True when `url` uses a `django+` scheme. */
export function isDjangoUrl(url: string): boolean {
  return /^django\+/i.test(url.trim());
}

/**
 * Parses a Django database URL. With `prefixOptional`, `sqlite:` and `postgres://` URLs are read as Django databases
 * too (for `importdjango --from`, whose source can only be a Django database).
 *
 * @throws Error naming the accepted forms; only the scheme of a bad URL is echoed (it may hold a password).
 */
export function parseDjangoUrl(url: string, options: { prefixOptional?: boolean } = {}): DjangoDatabase {
  const trimmed = url.trim();
  let rest = trimmed;
  if (isDjangoUrl(trimmed)) rest = trimmed.slice('django+'.length);
  else if (options.prefixOptional !== true) throw new Error(`Expected a Django database URL such as ${DJANGO_URL_EXAMPLES}.`);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(rest)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    const filename = sqliteFilenameFromUrl(rest);
    if (filename === ':memory:') throw new Error('A Django database cannot be in memory: give the path of its SQLite file.');
    return { kind: 'sqlite', filename };
  }
  if (scheme === 'postgres' || scheme === 'postgresql') return { kind: 'postgres', connectionString: rest };
  const got = scheme === undefined ? 'a value without a scheme' : `a ${scheme}: URL`;
  throw new Error(`Unsupported Django database URL (${got}). Use ${DJANGO_URL_EXAMPLES}.`);
}
