/** better-sqlite3's failures as the errors the core understands. */
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '@restjwt/core';
import { closedStoreError } from '@restjwt/core/store-kit';

/** The error of a call on a closed SQLite store. */
export function sqliteClosed(filename: string, cause?: unknown): StoreUnavailableError {
  return closedStoreError(`The SQLite store for ${filename}`, 'Open a new one with openSqliteStore().', cause);
}

/** Maps lock and I/O failures to `StoreUnavailableError` (HTTP 503) with what to do; other errors pass through. */
export function translateSqliteError(error: unknown, filename: string, busyTimeoutMs: number): unknown {
  if (error instanceof StoreUnavailableError) return error;
  if (error instanceof Database.SqliteError) {
    const code = error.code;
    if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
      return new StoreUnavailableError(
        `The SQLite database ${filename} stayed locked by another connection for more than ${busyTimeoutMs} ms (${code}). ` +
          'Retry the request; if this keeps happening, look for a long-running writer (a backup, a stuck process) ' +
          'or move to a server database for many concurrent writers.',
        { cause: error },
      );
    }
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) {
      return new StoreUnavailableError(
        `The SQLite database ${filename} is damaged or not a SQLite database (${code}). Restore it from a backup.`,
        { cause: error },
      );
    }
    if (/^SQLITE_(IOERR|CANTOPEN|FULL|READONLY|PROTOCOL|NOMEM|PERM)/.test(code)) {
      return new StoreUnavailableError(
        `The SQLite database ${filename} cannot be read or written (${code}: ${error.message}). Check that the file ` +
          'and its directory exist and are writable by this process, and that the disk is not full.',
        { cause: error },
      );
    }
    return error;
  }
  if (error instanceof TypeError) {
    if (error.message.includes('database connection is not open')) return sqliteClosed(filename, error);
    if (error.message.includes('directory does not exist')) {
      return new StoreUnavailableError(
        `Cannot open the SQLite database ${filename}: its directory does not exist. Create the directory or fix the database URL.`,
        { cause: error },
      );
    }
  }
  return error;
}
