/**
 * The SQL store on a real MariaDB/MySQL server (skipped with a console line when none is reachable). Each test works
 * in its own database and drops it afterwards.
 */
import mysql from 'mysql2/promise';
import { expect } from 'vitest';
import { sqlSuite } from './sql-suite.js';
import { MYSQL_URL, mysqlAdmin, probeMysql, uniqueName } from './services.js';

const probe = await probeMysql();

sqlSuite({
  name: 'mariadb',
  label: 'MariaDB/MySQL',
  available: probe.ok,
  url: MYSQL_URL,
  dialect: 'mysql',
  freshScope: async () => uniqueName('rjt'),
  dropScope: (database) => mysqlAdmin(`DROP DATABASE IF EXISTS \`${database}\``),
  analyze: (database) => mysqlAdmin(`ANALYZE TABLE \`${database}\`.restjwt_outstanding_token`),
  async indexNames(database) {
    const connection = await mysql.createConnection({ uri: MYSQL_URL });
    try {
      const [rows] = await connection.query('SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = ?', [database]);
      return (rows as { name: string }[]).map((row) => row.name);
    } finally {
      await connection.end();
    }
  },
  expectIndexedPlan(plan) {
    // One row of one table, by its unique jti index; type ALL would be a table scan.
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatch(/\btable=restjwt_outstanding_token\b/);
    expect(plan[0]).toMatch(/\bkey=restjwt_outstanding_token_jti_uniq\b/);
    expect(plan[0]).not.toMatch(/\btype=ALL\b/);
  },
});
