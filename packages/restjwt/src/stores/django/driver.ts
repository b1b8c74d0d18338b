/**
 * The little SQL the Django store needs, over two databases: SQLite (better-sqlite3) and PostgreSQL (pg).
 *
 * Statements are written once with `?` placeholders; each driver binds them its own way and converts the values whose
 * representation differs (Django's SQLite datetimes are text, its booleans integers).
 */

/** A value bound to a placeholder. */
export type SqlValue = string | number | boolean | null | Date;

/** What a statement (or a transaction's statement) can do. */
export interface SqlRunner {
  /** Rows of a query. */
  all<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** A connection to a Django database. */
export interface DjangoDriver extends SqlRunner {
  readonly dialect: 'sqlite' | 'postgres';
  /** Where the database is, for messages: a file path, or host/port/name without the password. */
  readonly description: string;
  /**
   * Runs `fn` in one transaction that holds the write lock from its first statement (SQLite: BEGIN IMMEDIATE) or
   * relies on row locks of unique indexes (PostgreSQL, READ COMMITTED); commits when `fn` resolves, rolls back when it
   * throws.
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /** How this database wants a datetime bound (SQLite: Django's text form; PostgreSQL: a Date). */
  dateParam(date: Date): SqlValue;
  /** A datetime column as a Date (null stays null). */
  readDate(value: unknown): Date | null;
  /** How this database wants a boolean bound. */
  boolParam(value: boolean): SqlValue;
  /** True when `error` is this database's unique-constraint violation. */
  isUniqueViolation(error: unknown): boolean;
  /** Names of the tables among `names` that exist. */
  existingTables(names: readonly string[]): Promise<string[]>;
  close(): Promise<void>;
}
