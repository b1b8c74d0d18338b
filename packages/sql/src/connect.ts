/**
 * Connections to the server databases: one Kysely instance over a pg pool (PostgreSQL) or a mysql2 pool
 * (MariaDB/MySQL), with timeouts everywhere so that a database that went away makes calls fail within seconds
 * instead of hanging.
 *
 * URLs, in the spirit of dj-database-url:
 *
 * - `postgres://user:password@host:5432/dbname` (also `postgresql://`); other query parameters go to pg (`sslmode`…)
 * - `mysql://user:password@host:3306/dbname` (also `mariadb://`); other query parameters go to mysql2
 *
 * plus restjwt's own parameters, removed before the driver sees the URL:
 *
 * - `pool=N`: connections in the pool (default 10);
 * - `connect_timeout=S`: seconds to wait for a connection, as in libpq (default 5);
 * - `statement_timeout=MS`: milliseconds a statement may run (default 5000; also the client-side read timeout);
 * - `schema=NAME`: the PostgreSQL schema (MariaDB/MySQL: database) holding the tables instead of the default one.
 */
import { Kysely, MysqlDialect, PostgresDialect } from 'kysely';
import type { MysqlPool, MysqlPoolConnection, MysqlQueryResult, PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type mysql from 'mysql2';
import type pg from 'pg';
import { createRequire } from 'node:module';
import { requireOptional } from '@restjwt/core/adapter-kit';
import type { RestJwtDatabase } from './schema.js';

// The drivers are optional peers: an app installs the one its database needs, and is told which when it is missing.
const load = createRequire(import.meta.url);
const pgDriver = (): typeof pg => requireOptional(() => load('pg') as typeof pg, 'the PostgreSQL store', ['pg']);
const mysqlDriver = (): typeof mysql => requireOptional(() => load('mysql2') as typeof mysql, 'the MariaDB/MySQL store', ['mysql2']);

export type SqlDialect = 'postgres' | 'mysql';

/** Options of {@link createKysely}; each overrides the URL's query parameter of the same meaning. */
export interface SqlConnectOptions {
  /** Connections in the pool. Default: the URL's `?pool=N`, else 10. */
  poolSize?: number;
  /** How long to wait for a new connection (or a free one from a full pool). Default: `?connect_timeout=S`, else 5000. */
  connectTimeoutMs?: number;
  /** How long one statement may take, enforced by the server and by the client. Default: `?statement_timeout=MS`, else 5000. */
  statementTimeoutMs?: number;
  /**
   * PostgreSQL: run the hot statements (a refresh's rotation, user and blacklist lookups) as named, server-side
   * prepared statements, parsed and planned once per connection. Default: `?prepare=false` turns it off, else on.
   * Off is for a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`).
   */
  prepareStatements?: boolean;
}

/**
 * Runs a named statement on a pooled PostgreSQL connection: `text` is parsed and planned by the first use on each
 * connection, later uses send only `name` and `values`. One `name` must always go with the same `text`.
 */
export type PgPrepared = <R>(name: string, text: string, values: unknown[]) => Promise<R[]>;

/** What {@link createKysely} returns. */
export interface SqlConnection<DB = RestJwtDatabase> {
  db: Kysely<DB>;
  dialect: SqlDialect;
  /** `host:port/database`, without credentials: safe to put in messages. */
  target: string;
  /** The `?schema=` of the URL, if any. */
  schema: string | undefined;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** PostgreSQL with prepared statements on (see {@link SqlConnectOptions.prepareStatements}); undefined otherwise. */
  prepared: PgPrepared | undefined;
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;

/** The URL forms this module accepts, for messages. */
export const SQL_URL_EXAMPLES = 'postgres://user:password@host:5432/dbname or mysql://user:password@host:3306/dbname (also mariadb://)';

const SCHEMES: Readonly<Record<string, SqlDialect>> = { postgres: 'postgres', postgresql: 'postgres', mysql: 'mysql', mariadb: 'mysql' };

/** The dialect a URL names, or null when it is not a server-database URL. */
export function sqlDialectOf(url: string): SqlDialect | null {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url.trim())?.[1]?.toLowerCase();
  return scheme === undefined ? null : (SCHEMES[scheme] ?? null);
}

/** True for `postgres://`, `postgresql://`, `mysql://` and `mariadb://` URLs. */
export function isSqlUrl(url: string): boolean {
  return sqlDialectOf(url) !== null;
}

/** A readable name for the database product. */
export function dialectLabel(dialect: SqlDialect): string {
  return dialect === 'postgres' ? 'PostgreSQL' : 'MariaDB/MySQL';
}

interface ParsedUrl {
  dialect: SqlDialect;
  /** The URL for the driver: restjwt's parameters removed (and `mariadb:` spelled `mysql:`). */
  driverUrl: string;
  target: string;
  schema: string | undefined;
  pool: number | undefined;
  connectTimeoutMs: number | undefined;
  statementTimeoutMs: number | undefined;
  /** `?prepare=true|false`. */
  prepare: boolean | undefined;
}

/**
 * Splits a server-database URL into what the driver gets and restjwt's own parameters.
 *
 * @throws Error naming the accepted forms; the message never repeats the URL (it may hold a password).
 */
export function parseSqlUrl(url: string): ParsedUrl {
  const trimmed = url.trim();
  const dialect = sqlDialectOf(trimmed);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase() ?? '';
  if (dialect === null) {
    const got = scheme === '' ? 'a value without a scheme' : `a ${scheme}: URL`;
    throw new Error(`Expected a server database URL, got ${got}. Use ${SQL_URL_EXAMPLES}.`);
  }
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    throw new Error(`The ${scheme}:// database URL is malformed. Use ${SQL_URL_EXAMPLES}; percent-encode special characters in the password.`);
  }
  if (parsed.hostname === '') throw new Error(`The ${scheme}:// database URL names no host. Use ${SQL_URL_EXAMPLES}.`);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new Error(`The ${scheme}:// database URL must name one database after the host, as in ${SQL_URL_EXAMPLES}.`);
  }

  const take = (name: string): string | undefined => {
    const value = parsed.searchParams.get(name) ?? undefined;
    parsed.searchParams.delete(name);
    return value;
  };
  const integer = (name: string, value: string | undefined, min: number, max: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new Error(`The database URL parameter ${name} must be a whole number from ${min} to ${max}, got "${value}".`);
    }
    return n;
  };
  const pool = integer('pool', take('pool'), 1, 1000);
  const connectSeconds = integer('connect_timeout', take('connect_timeout'), 1, 3600);
  const statementTimeoutMs = integer('statement_timeout', take('statement_timeout'), 1, 3_600_000);
  const schema = take('schema');
  const prepare = take('prepare');
  if (prepare !== undefined && prepare !== 'true' && prepare !== 'false') {
    throw new Error(`The database URL parameter prepare must be true or false, got "${prepare}".`);
  }
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(schema)) {
    throw new Error(`The database URL parameter schema must be a plain identifier (letters, digits, _), got "${schema}".`);
  }
  if (dialect === 'mysql') parsed.protocol = 'mysql:';
  const port = parsed.port === '' ? (dialect === 'postgres' ? '5432' : '3306') : parsed.port;
  return {
    dialect,
    driverUrl: parsed.toString(),
    target: `${parsed.hostname}:${port}/${database}`,
    schema,
    pool,
    connectTimeoutMs: connectSeconds === undefined ? undefined : connectSeconds * 1000,
    statementTimeoutMs,
    prepare: prepare === undefined ? undefined : prepare === 'true',
  };
}

function positiveInteger(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${String(value)}`);
  return value;
}

/**
 * Opens a pooled Kysely connection for a `postgres://` or `mysql://`/`mariadb://` URL. Nothing connects until the
 * first query. Close it with `db.destroy()`.
 *
 * - Pool size: `options.poolSize`, else the URL's `?pool=N`, else 10.
 * - PostgreSQL: `connectionTimeoutMillis` (also bounds the wait for a free pooled connection), `statement_timeout`
 *   and `lock_timeout` on the server, `query_timeout` in the client, TCP keep-alive.
 * - MariaDB/MySQL: `connectTimeout`, a per-query client timeout, `max_statement_time` (MariaDB) or
 *   `max_execution_time` (MySQL) and `innodb_lock_wait_timeout` on the server, TCP keep-alive; BIGINT read as
 *   strings, `tinyint(1)` as booleans, times in UTC.
 * - A connection that failed (reset, timed out, server gone) is destroyed instead of going back to the pool, so the
 *   pool heals by itself when the database returns.
 */
export function createKysely<DB = RestJwtDatabase>(url: string, options: SqlConnectOptions = {}): SqlConnection<DB> {
  const parsed = parseSqlUrl(url);
  const poolSize = positiveInteger(options.poolSize, 'poolSize') ?? parsed.pool ?? DEFAULT_POOL_SIZE;
  const connectTimeoutMs = positiveInteger(options.connectTimeoutMs, 'connectTimeoutMs') ?? parsed.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const statementTimeoutMs =
    positiveInteger(options.statementTimeoutMs, 'statementTimeoutMs') ?? parsed.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  // The client gives the server a moment to report its own timeout first (a clean error on a healthy connection).
  const clientTimeoutMs = statementTimeoutMs + 1000;

  let db: Kysely<DB>;
  let prepared: PgPrepared | undefined;
  if (parsed.dialect === 'postgres') {
    const pool = new (pgDriver().Pool)({
      connectionString: parsed.driverUrl,
      max: poolSize,
      connectionTimeoutMillis: connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      statement_timeout: statementTimeoutMs,
      lock_timeout: statementTimeoutMs,
      query_timeout: clientTimeoutMs,
      // A client that vanished mid-transaction must not hold row locks for long.
      idle_in_transaction_session_timeout: Math.max(60_000, 4 * statementTimeoutMs),
      application_name: 'restjwt',
    });
    // An idle pooled connection that breaks emits 'error' on the pool; pg removes it. Without a listener the
    // process would crash.
    pool.on('error', () => undefined);
    const guarded = new GuardedPgPool(pool);
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: guarded }) });
    if ((options.prepareStatements ?? parsed.prepare ?? true) === true) prepared = (name, text, values) => guarded.prepared(name, text, values);
  } else {
    const pool = mysqlDriver().createPool({
      uri: parsed.driverUrl,
      connectionLimit: poolSize,
      maxIdle: poolSize,
      idleTimeout: 30_000,
      waitForConnections: true,
      queueLimit: 0,
      connectTimeout: connectTimeoutMs,
      enableKeepAlive: true,
      keepAliveInitialDelay: 10_000,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: false,
      timezone: 'Z',
      charset: 'utf8mb4',
      typeCast(field, next) {
        if (field.type === 'TINY' && field.length === 1) {
          const value = field.string();
          return value === null ? null : value === '1';
        }
        return next();
      },
    });
    const lockWaitSeconds = Math.max(1, Math.ceil(statementTimeoutMs / 1000));
    pool.on('connection', (connection) => {
      // Fatal errors are also emitted on the connection; the pool drops it, this only keeps the process alive.
      connection.on('error', () => undefined);
      // Queued before the connection is handed out. Each SET fails harmlessly on the other product.
      const ignore = (): void => undefined;
      connection.query(`SET SESSION innodb_lock_wait_timeout = ${lockWaitSeconds}`, ignore);
      connection.query(`SET SESSION max_statement_time = ${statementTimeoutMs / 1000}`, ignore);
      connection.query(`SET SESSION max_execution_time = ${statementTimeoutMs}`, ignore);
    });
    db = new Kysely<DB>({ dialect: new MysqlDialect({ pool: new GuardedMysqlPool(pool, clientTimeoutMs) }) });
  }
  return { db, dialect: parsed.dialect, target: parsed.target, schema: parsed.schema, poolSize, connectTimeoutMs, statementTimeoutMs, prepared };
}

/**
 * True when `error` leaves the connection unusable: anything that is not an ordinary error reported by the server
 * (a socket error, a client-side timeout), or a server report of a connection exception or shutdown.
 */
function breaksPgConnection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P');
  return true;
}

/** A pg pool whose clients are destroyed instead of reused once they failed. */
class GuardedPgPool implements PostgresPool {
  private readonly clients = new WeakMap<pg.PoolClient, GuardedPgClient>();
  constructor(private readonly pool: pg.Pool) {}

  async connect(): Promise<GuardedPgClient> {
    const client = await this.pool.connect();
    let guarded = this.clients.get(client);
    if (guarded === undefined) {
      guarded = new GuardedPgClient(client);
      this.clients.set(client, guarded);
    }
    return guarded;
  }

  /** See {@link PgPrepared}: one pooled connection, released (or destroyed, if it broke) afterwards. */
  async prepared<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
    const client = await this.connect();
    try {
      return await client.prepared<R>(name, text, values);
    } finally {
      client.release();
    }
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

class GuardedPgClient implements PostgresPoolClient {
  private broken = false;
  constructor(private readonly client: pg.PoolClient) {
    // A checked-out client has no listener of pg's own: an unhandled 'error' would crash the process.
    client.on('error', () => {
      this.broken = true;
    });
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') {
      return (this.client.query as unknown as (cursor: PostgresCursor<R>) => PostgresCursor<R>)(sqlOrCursor);
    }
    return this.client.query(sqlOrCursor, parameters === undefined ? [] : [...parameters]).then(
      (result) => result as unknown as PostgresQueryResult<R>,
      (error: unknown) => this.failed(error),
    );
  }

  /** A named statement (see {@link PgPrepared}); its rows. */
  prepared<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
    return this.client.query({ name, text, values }).then(
      (result) => result.rows as R[],
      (error: unknown) => this.failed(error),
    );
  }

  private failed(error: unknown): never {
    if (breaksPgConnection(error)) this.broken = true;
    throw error;
  }

  release(): void {
    if (this.broken) {
      this.client.release(new Error('restjwt: connection failed; destroyed instead of reused'));
    } else {
      this.client.release();
    }
  }
}

/** True when a mysql2 error leaves the connection unusable (fatal, timed out, or not a server-reported error). */
function breaksMysqlConnection(error: unknown): boolean {
  const e = error as { fatal?: unknown; code?: unknown; sqlState?: unknown } | null;
  if (e === null || typeof e !== 'object') return true;
  if (e.fatal === true || e.code === 'PROTOCOL_SEQUENCE_TIMEOUT') return true;
  return typeof e.sqlState !== 'string';
}

type MysqlCallback = (error: unknown, result: MysqlQueryResult) => void;

/** A mysql2 pool whose queries time out and whose failed connections are destroyed instead of reused. */
class GuardedMysqlPool implements MysqlPool {
  private readonly connections = new WeakMap<mysql.PoolConnection, GuardedMysqlConnection>();
  constructor(
    private readonly pool: mysql.Pool,
    private readonly timeoutMs: number,
  ) {}

  getConnection(callback: (error: unknown, connection: MysqlPoolConnection) => void): void {
    this.pool.getConnection((error, connection) => {
      if (error) {
        callback(error, undefined as unknown as MysqlPoolConnection);
        return;
      }
      let guarded = this.connections.get(connection);
      if (guarded === undefined) {
        guarded = new GuardedMysqlConnection(connection, this.timeoutMs);
        this.connections.set(connection, guarded);
      }
      callback(null, guarded);
    });
  }

  end(callback: (error: unknown) => void): void {
    this.pool.end(callback);
  }
}

class GuardedMysqlConnection implements MysqlPoolConnection {
  private broken = false;
  constructor(
    private readonly connection: mysql.PoolConnection,
    private readonly timeoutMs: number,
  ) {}

  query(sql: string, parameters: Array<unknown>): { stream: <T>(options: { highWaterMark?: number; objectMode?: true }) => { [Symbol.asyncIterator](): AsyncIterableIterator<T> } };
  query(sql: string, parameters: Array<unknown>, callback: MysqlCallback): void;
  query(sql: string, parameters: Array<unknown>, callback?: MysqlCallback): unknown {
    if (callback === undefined) return this.connection.query(sql, parameters);
    this.connection.query({ sql, values: parameters, timeout: this.timeoutMs }, (error, result) => {
      if (error && breaksMysqlConnection(error)) this.broken = true;
      callback(error, result as unknown as MysqlQueryResult);
    });
    return undefined;
  }

  release(): void {
    if (this.broken) this.connection.destroy();
    else this.connection.release();
  }
}
