/**
 * The database servers the store tests use, and whether they are reachable. Tests against a server that is not
 * running are skipped with a console line saying how to enable them, so `npm test` passes on any machine.
 *
 * Override the addresses with RESTJWT_TEST_POSTGRES_URL, RESTJWT_TEST_MYSQL_URL and RESTJWT_TEST_REDIS_URL.
 * Every test works in its own schema / database / key prefix and removes it afterwards: the servers are shared.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Redis } from 'ioredis';

export const POSTGRES_URL = process.env.RESTJWT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.RESTJWT_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const REDIS_URL = process.env.RESTJWT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Probe {
  ok: boolean;
  reason: string;
}

/** A fresh lowercase identifier for a schema, database or key prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function announce(name: string, url: string, probe: Probe, envVar: string): void {
  if (!probe.ok) {
    console.warn(
      `[restjwt tests] SKIPPING the ${name} tests: no ${name} at ${redact(url)} (${probe.reason}). ` +
        `Start one, or point ${envVar} at one, to run them.`,
    );
  }
}

const probes = new Map<string, Promise<Probe>>();
function once(key: string, fn: () => Promise<Probe>): Promise<Probe> {
  let probe = probes.get(key);
  if (probe === undefined) {
    probe = fn().catch((error: unknown) => ({ ok: false, reason: error instanceof Error ? error.message : String(error) }));
    probes.set(key, probe);
  }
  return probe;
}

export function probePostgres(): Promise<Probe> {
  return once('postgres', async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return { ok: true, reason: '' };
    } finally {
      await client.end().catch(() => undefined);
    }
  }).then((p) => (announce('PostgreSQL', POSTGRES_URL, p, 'RESTJWT_TEST_POSTGRES_URL'), p));
}

export function probeMysql(): Promise<Probe> {
  return once('mysql', async () => {
    const connection = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 2000 });
    try {
      await connection.query('select 1');
      return { ok: true, reason: '' };
    } finally {
      await connection.end().catch(() => undefined);
    }
  }).then((p) => (announce('MariaDB/MySQL', MYSQL_URL, p, 'RESTJWT_TEST_MYSQL_URL'), p));
}

export function probeRedis(): Promise<Probe> {
  return once('redis', async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return { ok: true, reason: '' };
    } finally {
      client.disconnect();
    }
  }).then((p) => (announce('Redis', REDIS_URL, p, 'RESTJWT_TEST_REDIS_URL'), p));
}

/** Runs `statements` on the PostgreSQL test database with a short-lived connection. */
export async function postgresAdmin(...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Runs `statements` on the MariaDB/MySQL server with a short-lived connection. */
export async function mysqlAdmin(...statements: string[]): Promise<void> {
  const connection = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 5000 });
  try {
    for (const statement of statements) await connection.query(statement);
  } finally {
    await connection.end();
  }
}

/** `base` with its path replaced by `/database` and `params` added to its query. */
export function withDatabase(base: string, database: string, params: Record<string, string> = {}): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/** `base` with `params` added to its query. */
export function withParams(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/** Deletes every Redis key starting with `prefix` (SCAN + UNLINK: never FLUSHDB on a shared server). */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
