/**
 * Django's SQLite database through better-sqlite3. The file and its schema belong to Django: this driver opens it
 * without changing its journal mode and never creates tables.
 */
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { StoreUnavailableError } from '@restjwt/core';
import { closedStoreError } from '@restjwt/core/store-kit';
import type { DjangoDriver, SqlRunner, SqlValue } from './driver.js';

/**
 * A datetime as Django's SQLite backend writes it with USE_TZ=True: naive UTC, `str(datetime)`, so
 * `2026-11-23 10:27:59.123000`, or `2026-11-23 10:27:59` when there are no microseconds.
 */
export function formatDjangoSqliteDate(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('Expected a valid Date');
  const iso = date.toISOString(); // 2026-11-23T10:27:59.123Z
  const base = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  const millis = iso.slice(20, 23);
  return millis === '000' ? base : `${base}.${millis}000`;
}

const DJANGO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Parses a datetime Django stored in SQLite (what `django.utils.dateparse.parse_datetime` reads). A value without an
 * offset is UTC, as Django writes it with USE_TZ=True.
 *
 * @throws RangeError for a value Django could not have written.
 */
export function parseDjangoSqliteDate(value: string): Date {
  const m = DJANGO_DATETIME.exec(value.trim());
  if (m === null) throw new RangeError(`Unrecognised datetime in the Django database: ${JSON.stringify(value)}`);
  const [, y, mo, d, h, mi, s = '0', frac = '', tz] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(6, '0')) / 1000);
  if (tz !== undefined && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    ms -= sign * offsetMinutes * 60_000;
  }
  return new Date(Math.floor(ms));
}

function bind(params: readonly SqlValue[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p instanceof Date ? formatDjangoSqliteDate(p) : p));
}

/** Options for {@link openDjangoSqlite}. */
export interface DjangoSqliteOptions {
  filename: string;
  /** How long a statement waits for Django's (or another process's) write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
}

class SqliteDjangoDriver implements DjangoDriver {
  readonly dialect = 'sqlite' as const;
  readonly description: string;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  /** Settles when the running transaction (if any) has finished; statements wait for it. */
  private tail: Promise<unknown> = Promise.resolve();
  private inTransaction = false;
  private readonly direct: SqlRunner;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly busyTimeoutMs: number,
  ) {
    this.description = db.name;
    this.direct = {
      all: <R>(sql: string, params: readonly SqlValue[] = []) => this.runAsPromise(() => this.prepare(sql).all(...bind(params)) as R[]),
      run: (sql: string, params: readonly SqlValue[] = []) => this.runAsPromise(() => this.prepare(sql).run(...bind(params)).changes),
    };
  }

  all<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]> {
    return this.outside(() => this.direct.all<R>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.outside(() => this.direct.run(sql, params));
  }

  /**
   * One connection, so transactions take turns: a statement issued while a transaction awaits would otherwise join
   * it. BEGIN IMMEDIATE takes the database's write lock at once, so Django's writers and ours serialise.
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      this.inTransaction = true;
      try {
        await this.runAsPromise(() => this.db.exec('BEGIN IMMEDIATE'));
        try {
          const value = await fn(this.direct);
          await this.runAsPromise(() => this.db.exec('COMMIT'));
          return value;
        } catch (error) {
          if (this.db.open && this.db.inTransaction) this.db.exec('ROLLBACK');
          throw error;
        }
      } finally {
        this.inTransaction = false;
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  dateParam(date: Date): SqlValue {
    return formatDjangoSqliteDate(date);
  }

  readDate(value: unknown): Date | null {
    if (value === null || value === undefined) return null;
    if (typeof value === 'string') return parseDjangoSqliteDate(value);
    throw new RangeError(`Unrecognised datetime in the Django database: ${String(value)}`);
  }

  boolParam(value: boolean): SqlValue {
    return value ? 1 : 0;
  }

  isUniqueViolation(error: unknown): boolean {
    return isSqliteUniqueViolation(error);
  }

  existingTables(names: readonly string[]): Promise<string[]> {
    const marks = names.map(() => '?').join(', ');
    return this.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (${marks})`, names).then((rows) =>
      rows.map((r) => r.name),
    );
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }

  /** A statement outside any transaction: at once when none is running, else after it. */
  private outside<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.inTransaction) return fn();
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private prepare(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `fn` now (better-sqlite3 is synchronous): a promise settled with its result or its translated error. */
  private runAsPromise<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(translateSqliteError(error, this.description, this.busyTimeoutMs));
    }
  }
}

/** True when `error` is SQLite's unique-constraint failure. */
export function isSqliteUniqueViolation(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function translateSqliteError(error: unknown, filename: string, busyTimeoutMs: number): unknown {
  if (error instanceof Database.SqliteError) {
    if (/^SQLITE_(BUSY|LOCKED)/.test(error.code)) {
      return new StoreUnavailableError(
        `The Django SQLite database ${filename} stayed locked for more than ${busyTimeoutMs} ms (${error.code}). Retry; ` +
          'if it keeps happening, look for a long-running writer, or move the deployment to PostgreSQL.',
        { cause: error },
      );
    }
    if (/^SQLITE_(IOERR|CANTOPEN|FULL|READONLY|CORRUPT|NOTADB|PERM)/.test(error.code)) {
      return new StoreUnavailableError(`The Django SQLite database ${filename} cannot be used (${error.code}: ${error.message}).`, {
        cause: error,
      });
    }
    return error;
  }
  if (error instanceof TypeError && error.message.includes('database connection is not open')) {
    return closedStoreError(`The Django store for ${filename}`, undefined, error);
  }
  return error;
}

/**
 * Opens Django's SQLite file (which must exist: Django creates it with `manage.py migrate`).
 *
 * @throws StoreUnavailableError when the file is missing or cannot be opened.
 */
export function openDjangoSqlite(options: DjangoSqliteOptions): DjangoDriver {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let db: BetterSqlite3.Database;
  try {
    // fileMustExist: a typo in the path must not create an empty database next to Django's.
    db = new Database(options.filename, { fileMustExist: true, timeout: busyTimeoutMs });
  } catch (error) {
    throw new StoreUnavailableError(
      `Cannot open the Django SQLite database ${options.filename}: ${(error as Error).message}. Point the URL at the ` +
        "file in Django's DATABASES (NAME), created by `python manage.py migrate`.",
      { cause: error },
    );
  }
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  // Django turns foreign key checks on for its SQLite connections; do the same (its constraints are deferred).
  db.pragma('foreign_keys = ON');
  return new SqliteDjangoDriver(db, busyTimeoutMs);
}
