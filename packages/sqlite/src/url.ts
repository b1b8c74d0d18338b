/**
 * Database URLs for the SQLite backend, in the spirit of dj-database-url:
 *
 * - `sqlite:./db.sqlite3` or `sqlite:db.sqlite3`: a path relative to the working directory;
 * - `sqlite:///var/lib/app/db.sqlite3`: an absolute path (the empty host between `//` and `/`);
 * - `sqlite::memory:`: a private in-memory database (gone when the store closes).
 */

const EXAMPLES = 'sqlite:./db.sqlite3 (relative path), sqlite:///var/lib/app/db.sqlite3 (absolute path) or sqlite::memory:';

/** True when `url` uses the `sqlite:` scheme (whether or not the rest is valid). */
export function isSqliteUrl(url: string): boolean {
  return /^sqlite:/i.test(url.trim());
}

/**
 * Turns a `sqlite:` database URL into the filename better-sqlite3 opens (`:memory:` for the in-memory form).
 * Percent-escapes in the path are decoded (`%20` is a space).
 *
 * @throws Error naming the valid forms when `url` is not one of them.
 */
export function sqliteFilenameFromUrl(url: string): string {
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1];
  if (scheme === undefined || scheme.toLowerCase() !== 'sqlite') {
    // Only the scheme is echoed: a URL for another backend may carry a password.
    const got = scheme === undefined ? 'a value without a scheme' : `a ${scheme}: URL`;
    throw new Error(`Expected a SQLite database URL, got ${got}. Use ${EXAMPLES}.`);
  }
  const rest = trimmed.slice(scheme.length + 1);
  const invalid = (why: string): Error => new Error(`Invalid SQLite database URL "${trimmed}": ${why}. Use ${EXAMPLES}.`);

  if (rest === ':memory:' || rest === '//:memory:') return ':memory:';
  if (rest.includes('?') || rest.includes('#')) throw invalid('query strings and fragments are not supported');

  let path: string;
  if (rest.startsWith('//')) {
    // `sqlite://host/...` names a host, which a file database cannot have; `sqlite:///x` is the absolute path `/x`.
    if (!rest.startsWith('///')) throw invalid('a host is not allowed; write three slashes for an absolute path');
    path = rest.slice(2);
    // `sqlite:///C:/data/db.sqlite3` on Windows: drop the slash before the drive letter.
    if (/^\/[A-Za-z]:[/\\]/.test(path)) path = path.slice(1);
  } else {
    path = rest;
  }

  try {
    path = decodeURIComponent(path);
  } catch {
    throw invalid('it contains a malformed percent-escape');
  }
  if (path === '' || path === '/') throw invalid('the path is empty');
  return path;
}
