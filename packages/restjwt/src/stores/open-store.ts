/**
 * Opens a store from a database URL, the way the CLI and `restjwt serve` take it (`--database`, `RESTJWT_DATABASE`),
 * optionally behind the Redis revocation cache (`--redis`, `REDIS_URL`).
 */
import { importOptional } from '@restjwt/core/adapter-kit';
import { openMemoryStore } from '@restjwt/core/memory';
import type { Store } from '@restjwt/core/store-kit';
import type { RedisCacheEvent } from '@restjwt/redis';
import { isSqliteUrl, openSqliteStore, sqliteFilenameFromUrl } from '@restjwt/sqlite';
import { isDjangoUrl, openDjangoStore } from './django/index.js';

/**
 * The server databases' schemes and the driver each needs. The SQL store and Redis are optional packages of the CLI
 * (zero-config `restjwt serve` runs on SQLite without them), so a URL is recognised here before they are loaded.
 */
const SERVER_DATABASES: Readonly<Record<string, { label: string; driver: string }>> = {
  postgres: { label: 'PostgreSQL', driver: 'pg' },
  postgresql: { label: 'PostgreSQL', driver: 'pg' },
  mysql: { label: 'MariaDB/MySQL', driver: 'mysql2' },
  mariadb: { label: 'MariaDB/MySQL', driver: 'mysql2' },
};

/** The server database a `postgres://`, `postgresql://`, `mysql://` or `mariadb://` URL names, else undefined. */
function serverDatabase(url: string): { label: string; driver: string } | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  return scheme === undefined || !Object.hasOwn(SERVER_DATABASES, scheme) ? undefined : SERVER_DATABASES[scheme];
}

/** The database URL used when none is given: a SQLite file in the working directory. */
export const DEFAULT_DATABASE_URL = 'sqlite:./restjwt.sqlite3';

/** Every URL form {@link openStore} accepts, for error messages and help texts. */
export const ACCEPTED_DATABASE_URLS =
  'sqlite:./restjwt.sqlite3 (a file relative to the working directory), sqlite:///var/lib/restjwt/db.sqlite3 ' +
  '(an absolute path), sqlite::memory: or memory: (in-process, lost on exit), postgres://user:password@host:5432/dbname ' +
  'or mysql://user:password@host:3306/dbname (also mariadb://) (several instances), ' +
  "django+sqlite:./db.sqlite3 or django+postgres://user@host/name (a Django project's own database, shared with it)";

/** Options for {@link openStore}. */
export interface OpenStoreOptions {
  /** Apply pending migrations while opening (default true). `restjwt migrate` passes false to report what it applies. */
  migrate?: boolean;
  /**
   * Redis URL of the revocation cache (`redis://…`, `rediss://…`). Undefined: `REDIS_URL` from `env`; null or '':
   * no cache.
   */
  redisUrl?: string | null;
  /** Prefix of the Redis keys; default `RESTJWT_REDIS_PREFIX` from `env`, else `restjwt:`. */
  redisPrefix?: string;
  /** Connections in a server database's pool; default the URL's `?pool=N`, else `RESTJWT_DB_POOL_SIZE`, else 10. */
  poolSize?: number;
  /** Where the defaults above are read; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Operator events of the Redis cache (loads, deferred writes). */
  onEvent?: (event: RedisCacheEvent) => void;
}

/** True when `url` is the in-process memory store (`memory:`, also spelled `memory://`). */
function isMemoryUrl(url: string): boolean {
  return /^memory:(\/\/)?$/i.test(url.trim());
}

/** `RESTJWT_DB_POOL_SIZE` as a number, or undefined when unset. */
function poolSizeFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.RESTJWT_DB_POOL_SIZE?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 1000) {
    throw new Error(`RESTJWT_DB_POOL_SIZE must be a whole number from 1 to 1000, got "${raw}".`);
  }
  return n;
}

/** Opens the store a database URL names, without the Redis cache. */
async function openDatabase(url: string, options: OpenStoreOptions, env: NodeJS.ProcessEnv) {
  const migrate = options.migrate ?? true;
  if (isSqliteUrl(url)) return openSqliteStore({ filename: sqliteFilenameFromUrl(url), migrate });
  if (isMemoryUrl(url)) return openMemoryStore();
  // Django owns that schema: "migrating" only checks that its tables exist.
  if (isDjangoUrl(url)) return openDjangoStore({ database: url, check: migrate, ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }) });
  const server = serverDatabase(url);
  if (server !== undefined) {
    const { openSqlStore, parseSqlUrl } = await importOptional(() => import('@restjwt/sql'), `a ${server.label} database`, ['@restjwt/sql', server.driver]);
    // An explicit ?pool=N in the URL wins over the environment.
    const poolSize = options.poolSize ?? (parseSqlUrl(url).pool === undefined ? poolSizeFromEnv(env) : undefined);
    return openSqlStore({ url, migrate, ...(poolSize === undefined ? {} : { poolSize }) });
  }
  // Only the scheme is ever echoed: a server database URL usually carries a password.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const got = scheme === undefined ? 'a value without a scheme' : `a ${scheme}: URL`;
  throw new Error(`Unsupported database URL (${got}). Use one of: ${ACCEPTED_DATABASE_URLS}.`);
}

/**
 * Opens the store a database URL names: `sqlite:…` a SQLite file (created if needed), `memory:` an in-process store,
 * `postgres://…`/`postgresql://…`/`mysql://…`/`mariadb://…` the SQL store on that server. Migrations run on open
 * unless `options.migrate` is false. With a Redis URL (option or `REDIS_URL`), the store is wrapped in the Redis
 * revocation cache (see `@restjwt/redis`).
 *
 * @throws Error saying what to use instead for unknown schemes or malformed URLs (never echoing a password).
 * @throws StoreUnavailableError when the database or Redis cannot be reached, saying what to check.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const env = options.env ?? process.env;
  const trimmed = url.trim();
  const redisUrl = (options.redisUrl === undefined ? env.REDIS_URL : options.redisUrl)?.trim() ?? '';
  const store = await openDatabase(trimmed, options, env);
  if (redisUrl === '') return store;
  try {
    const { withRedisCache } = await importOptional(() => import('@restjwt/redis'), 'the Redis cache (--redis, REDIS_URL)', ['@restjwt/redis']);
    return await withRedisCache(store, {
      url: redisUrl,
      prefix: options.redisPrefix ?? (env.RESTJWT_REDIS_PREFIX?.trim() || 'restjwt:'),
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
    });
  } catch (error) {
    await store.close();
    throw error;
  }
}
