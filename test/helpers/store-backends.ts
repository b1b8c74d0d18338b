/**
 * The four stores an HTTP suite runs over (memory, SQLite, PostgreSQL, MariaDB), each giving a fresh store and how
 * to drop what it created; the server databases only where this machine reaches them.
 */
import type { Store } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';
import { openSqlStore } from '@restjwt/sql';
import { MYSQL_URL, mysqlAdmin, POSTGRES_URL, postgresAdmin, probeMysql, probePostgres, uniqueName } from '../stores/services.js';

export interface StoreBackend {
  name: string;
  available: boolean;
  /** A store (none: the app's own fresh SQLite file) and how to drop what it created. */
  open(): Promise<{ store?: Store; drop(): Promise<void> }>;
}

const postgres = await probePostgres();
const mariadb = await probeMysql();

/** The backends, the server databases' schemas named `${prefix}_…`. */
export function storeBackends(prefix: string): readonly StoreBackend[] {
  return [
    { name: 'memory', available: true, open: async () => ({ store: createMemoryStore(), drop: async () => {} }) },
    { name: 'SQLite', available: true, open: async () => ({ drop: async () => {} }) },
    {
      name: 'PostgreSQL',
      available: postgres.ok,
      open: async () => {
        const schema = uniqueName(prefix);
        return { store: await openSqlStore({ url: POSTGRES_URL, schema }), drop: () => postgresAdmin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`) };
      },
    },
    {
      name: 'MariaDB',
      available: mariadb.ok,
      open: async () => {
        const database = uniqueName(prefix);
        return { store: await openSqlStore({ url: MYSQL_URL, schema: database }), drop: () => mysqlAdmin(`DROP DATABASE IF EXISTS \`${database}\``) };
      },
    },
  ];
}
