/**
 * How the SQL store runs its work: every call bounded by a deadline and refused once closed, transactions at READ
 * COMMITTED retried after a deadlock or serialization failure, hot statements prepared on PostgreSQL, and driver
 * errors translated (`errors.ts`) into the errors the core understands.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CompiledQuery, Kysely, Transaction } from 'kysely';
import { StoreUnavailableError } from '@restjwt/core';
import { closedStoreError } from '@restjwt/core/store-kit';
import { dialectLabel, type PgPrepared, type SqlConnection, type SqlDialect } from './connect.js';
import { isRetryableConflict, translateSqlError } from './errors.js';
import type { RestJwtDatabase } from './schema.js';

/** How often a transaction that hit a deadlock or serialization failure is tried in all. */
const MAX_ATTEMPTS = 5;

export type Db = Kysely<RestJwtDatabase>;
export type Trx = Transaction<RestJwtDatabase>;

/** Runs the SQL store's calls on one connection pool (see the module comment). */
export class SqlExecutor {
  readonly dialect: SqlDialect;
  /** `host:port/database` (no credentials), for messages. */
  readonly target: string;
  /** The Kysely instance without a schema (migrations name theirs). */
  readonly root: Db;
  /** The Kysely instance on the store's schema. */
  readonly db: Db;
  /** Upper bound of one call: however the driver behaves, nothing waits longer than this. */
  private readonly deadlineMs: number;
  /** Named prepared statements (PostgreSQL, unless turned off). */
  private readonly prepared: PgPrepared | undefined;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(connection: SqlConnection, schema: string | undefined) {
    this.dialect = connection.dialect;
    this.target = connection.target;
    this.root = connection.db;
    this.db = schema === undefined ? this.root : this.root.withSchema(schema);
    this.deadlineMs = connection.connectTimeoutMs + 2 * (connection.statementTimeoutMs + 1000) + 1000;
    this.prepared = connection.prepared;
  }

  /** Closes the pool (waiting for checked-out connections). Idempotent; later calls reject with `StoreUnavailableError`. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.root.destroy().catch(() => undefined);
    return this.closing;
  }

  assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  /** Runs `fn` unless closed, racing it against the deadline, with driver errors translated. */
  async withDeadline<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new StoreUnavailableError(
            `The ${dialectLabel(this.dialect)} database ${this.target} did not answer within ${this.deadlineMs} ms. Requests that ` +
              'need it answer 503 until it is back; check the server and the network to it. restjwt reconnects by itself.',
          ),
        );
      }, this.deadlineMs);
      timer.unref();
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (error) {
      if (this.closed && !(error instanceof StoreUnavailableError)) throw this.closedError();
      throw translateSqlError(error, this.dialect, this.target);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs `fn` in one READ COMMITTED transaction, again after a deadlock or serialization failure. */
  inTransaction<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.withDeadline(async () => {
      for (let attempt = 1; ; attempt++) {
        let committing = false;
        try {
          return await this.db
            .transaction()
            .setIsolationLevel('read committed')
            .execute(async (trx) => {
              const result = await fn(trx);
              committing = true;
              return result;
            });
        } catch (error) {
          if (!committing && attempt < MAX_ATTEMPTS && isRetryableConflict(error)) {
            // Rolled back by the database: nothing was applied. Try again.
            await backOff(attempt);
            continue;
          }
          throw translateSqlError(error, this.dialect, this.target, committing ? 'unknown' : 'not_applied');
        }
      }
    });
  }

  /** Runs one autocommitted statement, again after a deadlock or serialization failure (which rolled it back). */
  oneStatement<T>(fn: () => Promise<T>): Promise<T> {
    return this.withDeadline(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn();
        } catch (error) {
          if (attempt < MAX_ATTEMPTS && isRetryableConflict(error)) {
            await backOff(attempt);
            continue;
          }
          throw translateSqlError(error, this.dialect, this.target, 'unknown');
        }
      }
    });
  }

  /**
   * Runs a statement of the hot path (refresh, authentication): on PostgreSQL as the prepared statement `name`
   * (unless turned off: `SqlConnectOptions.prepareStatements`), so the server parses and plans it once per
   * connection. `name` must always go with the same SQL text: the query's shape may not vary, only its parameters.
   */
  async executePrepared<R>(name: string, query: CompiledQuery<R>): Promise<R[]> {
    if (this.prepared !== undefined) return this.prepared<R>(name, query.sql, [...query.parameters]);
    return (await this.db.executeQuery(query)).rows;
  }

  private closedError(): StoreUnavailableError {
    return closedStoreError(`The ${dialectLabel(this.dialect)} store for ${this.target}`, 'Open a new one with openSqlStore().');
  }
}

/** A little wait, growing with the attempt, with jitter so that conflicting retries spread out. */
function backOff(attempt: number): Promise<void> {
  return sleep(5 * attempt + Math.floor(Math.random() * 10 * attempt));
}
