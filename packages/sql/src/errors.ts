/**
 * How driver errors become restjwt's errors: outages and timeouts → `StoreUnavailableError` (HTTP 503) with a message
 * saying what to do, a missing schema → a plain Error naming `restjwt migrate`, everything else unchanged.
 */
import { StoreUnavailableError } from '@restjwt/core';
import { dialectLabel, type SqlDialect } from './connect.js';

/** Socket-level failures: the database cannot be reached or went away. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
]);

/** pg reports these without a code. */
const PG_CLIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable|Cannot use a pool after calling end|Client was closed|connection error/i;
/** mysql2 reports these without a code. */
const MYSQL_CLIENT_MESSAGES = /Pool is closed|closed state|Connection lost|Can't add new command/i;

/** MariaDB/MySQL error numbers meaning "unavailable for now". */
const MYSQL_UNAVAILABLE_ERRNOS = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1053, // ER_SERVER_SHUTDOWN
  1205, // ER_LOCK_WAIT_TIMEOUT
  1927, // ER_CONNECTION_KILLED
  1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
  3024, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
  2002, // CR_CONNECTION_ERROR
  2003, // CR_CONN_HOST_ERROR
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
]);
const MYSQL_ACCESS_ERRNOS = new Set([1044, 1045, 1049]); // access denied (db, user), unknown database

interface DriverError {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  message?: unknown;
  constraint?: unknown;
}

function fields(error: unknown): DriverError {
  return error !== null && typeof error === 'object' ? (error as DriverError) : {};
}

/** PostgreSQL SQLSTATE or mysql2 error number of a server-reported error. */
function serverCode(error: unknown): string | number | undefined {
  const e = fields(error);
  if (typeof e.errno === 'number' && typeof e.sqlState === 'string') return e.errno;
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  return undefined;
}

/** A deadlock or serialization failure: the transaction was rolled back and may simply be run again. */
export function isRetryableConflict(error: unknown): boolean {
  const code = serverCode(error);
  return code === '40P01' || code === '40001' || code === 1213;
}

/** A unique-constraint violation, with the name of the constraint or index when the driver tells it. */
export function uniqueViolation(error: unknown): { index: string } | null {
  const e = fields(error);
  const code = serverCode(error);
  if (code === '23505') return { index: typeof e.constraint === 'string' ? e.constraint : '' };
  if (code === 1062) {
    // "Duplicate entry 'bob' for key 'restjwt_user_username_uniq'" (MySQL 8 prefixes the table name).
    const match = /for key '(?:[^.']*\.)?([^']+)'/.exec(typeof e.message === 'string' ? e.message : '');
    return { index: match?.[1] ?? '' };
  }
  return null;
}

/** True when the restjwt tables do not exist (the schema was never migrated). */
function isMissingTable(error: unknown): boolean {
  const code = serverCode(error);
  return code === '42P01' || code === 1146;
}

function isUnavailable(error: unknown): boolean {
  const e = fields(error);
  const code = serverCode(error);
  if (typeof code === 'string') {
    // 08: connection exception; 57P0x: shutdown / cannot connect now; 57014: statement timeout; 53: resources;
    // 55P03: lock not available (lock_timeout).
    return code.startsWith('08') || code.startsWith('57P') || code === '57014' || code.startsWith('53') || code === '55P03';
  }
  if (typeof code === 'number') return MYSQL_UNAVAILABLE_ERRNOS.has(code);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return PG_CLIENT_MESSAGES.test(message) || MYSQL_CLIENT_MESSAGES.test(message);
}

function isAccessProblem(error: unknown): boolean {
  const code = serverCode(error);
  if (typeof code === 'string') return code === '28P01' || code === '28000' || code === '3D000';
  return typeof code === 'number' && MYSQL_ACCESS_ERRNOS.has(code);
}

/** A short description of the driver error without anything from the URL. */
function reason(error: unknown): string {
  const e = fields(error);
  const code = typeof e.code === 'string' ? e.code : typeof e.errno === 'number' ? String(e.errno) : '';
  const message = typeof e.message === 'string' ? e.message.split('\n')[0] ?? '' : String(error);
  return code !== '' && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * Maps a driver error to what the store throws. `applied` says whether the failed call may have changed data:
 * false when it failed before its transaction could commit.
 */
export function translateSqlError(error: unknown, dialect: SqlDialect, target: string, applied: 'not_applied' | 'unknown' = 'unknown'): unknown {
  if (error instanceof StoreUnavailableError) return error;
  const label = dialectLabel(dialect);
  if (isAccessProblem(error)) {
    return new StoreUnavailableError(
      `The ${label} database ${target} refused the connection (${reason(error)}). Check the user, password and database ` +
        'name in --database / RESTJWT_DATABASE, and that the database exists.',
      { cause: error, outcome: 'not_applied' },
    );
  }
  if (isUnavailable(error)) {
    const code = serverCode(error);
    const timedOut = code === '57014' || code === 1969 || code === 3024 || code === 1205 || code === '55P03' || /timeout|timed out|ETIMEDOUT/i.test(reason(error));
    const what = timedOut ? 'did not answer in time' : 'is unreachable';
    return new StoreUnavailableError(
      `The ${label} database ${target} ${what} (${reason(error)}). Requests that need it answer 503 until it is back; ` +
        'check that the server is running and reachable from this machine, and the --database URL. restjwt reconnects by itself.',
      { cause: error, outcome: applied },
    );
  }
  if (isMissingTable(error)) {
    return new Error(`The ${label} database ${target} has no restjwt schema. Run "restjwt migrate", or open the store with migrate: true.`, {
      cause: error,
    });
  }
  return error;
}
