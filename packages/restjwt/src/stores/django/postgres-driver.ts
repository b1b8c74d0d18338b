/**
 * Django's PostgreSQL database, over the pooled connection of the SQL store (`createKysely` from `@restjwt/sql`, its
 * `connect.ts`: timeouts everywhere, broken connections discarded). Django owns the schema; this
 * driver only reads and writes rows, with raw SQL.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { StoreUnavailableError } from '@restjwt/core';
import { closedStoreError } from '@restjwt/core/store-kit';
import { createKysely, type SqlConnection, translateSqlError, uniqueViolation } from '@restjwt/sql';
import type { DjangoDriver, SqlRunner, SqlValue } from './driver.js';

/** Options for {@link openDjangoPostgres}. */
export interface DjangoPostgresOptions {
  /** `postgres://USER[:PASSWORD]@HOST[:PORT]/NAME` (Django's DATABASES entry as a URL; `?pool=`, `?connect_timeout=`…). */
  connectionString: string;
  /** Pool size. Default: the URL's `?pool=N`, else 10. */
  max?: number;
}

// Django's tables have no Kysely schema type here: every statement is raw SQL.
type AnyDatabase = Record<string, never>;

/** `?` placeholders → `$1, $2, …` (the statements of this store have no `?` inside literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** True when `error` is PostgreSQL's unique_violation. */
export function isPostgresUniqueViolation(error: unknown): boolean {
  return uniqueViolation(error) !== null;
}

class PostgresDjangoDriver implements DjangoDriver {
  readonly dialect = 'postgres' as const;
  readonly description: string;
  private readonly db: Kysely<AnyDatabase>;
  private readonly runner: SqlRunner;
  private closed = false;

  constructor(private readonly connection: SqlConnection<AnyDatabase>) {
    this.db = connection.db;
    this.description = connection.target;
    this.runner = this.runnerFor(this.db);
  }

  all<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]> {
    return this.runner.all<R>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.runner.run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction().execute((trx) => fn(this.runnerFor(trx)));
    } catch (error) {
      throw this.translate(error);
    }
  }

  dateParam(date: Date): SqlValue {
    return date;
  }

  readDate(value: unknown): Date | null {
    if (value === null || value === undefined) return null;
    if (value instanceof Date) return value;
    if (typeof value === 'string') return new Date(value);
    throw new RangeError(`Unrecognised datetime in the Django database: ${String(value)}`);
  }

  boolParam(value: boolean): SqlValue {
    return value;
  }

  isUniqueViolation(error: unknown): boolean {
    return isPostgresUniqueViolation(error);
  }

  async existingTables(names: readonly string[]): Promise<string[]> {
    // Visible through the search_path, as Django's unqualified table names are.
    const rows = await this.execute<{ relname: string }>(
      this.db,
      `SELECT c.relname FROM pg_catalog.pg_class c
        WHERE c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND pg_catalog.pg_table_is_visible(c.oid)`,
      [[...names]],
    );
    return rows.rows.map((r) => r.relname);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }

  private runnerFor(db: Kysely<AnyDatabase>): SqlRunner {
    return {
      all: async <R>(sql: string, params: readonly SqlValue[] = []): Promise<R[]> =>
        (await this.execute<R>(db, numbered(sql), [...params])).rows,
      run: async (sql: string, params: readonly SqlValue[] = []): Promise<number> =>
        Number((await this.execute(db, numbered(sql), [...params])).numAffectedRows ?? 0n),
    };
  }

  private async execute<R>(db: Kysely<AnyDatabase>, sql: string, params: unknown[]): Promise<{ rows: R[]; numAffectedRows?: bigint }> {
    if (this.closed) throw closedStoreError(`The Django store for ${this.description}`);
    try {
      return await db.executeQuery<R>(CompiledQuery.raw(sql, params));
    } catch (error) {
      throw this.translate(error);
    }
  }

  private translate(error: unknown): unknown {
    if (error instanceof StoreUnavailableError) return error;
    if ((error as { code?: unknown } | null)?.code === '42P01') {
      return new Error(
        `A Django table is missing in ${this.description}. Run "python manage.py migrate" in the Django project.`,
        { cause: error },
      );
    }
    return translateSqlError(error, 'postgres', this.description);
  }
}

/** Connects a pool to Django's PostgreSQL database; nothing connects until the first query. */
export function openDjangoPostgres(options: DjangoPostgresOptions): DjangoDriver {
  return new PostgresDjangoDriver(
    createKysely<AnyDatabase>(options.connectionString, options.max === undefined ? {} : { poolSize: options.max }),
  );
}
