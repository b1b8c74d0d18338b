/**
 * The SQL store on a real PostgreSQL server (skipped with a console line when none is reachable). Each test works in
 * its own schema and drops it afterwards.
 */
import pg from 'pg';
import { expect } from 'vitest';
import { sqlSuite } from './sql-suite.js';
import { POSTGRES_URL, postgresAdmin, probePostgres, uniqueName } from './services.js';

const probe = await probePostgres();

sqlSuite({
  name: 'postgres',
  label: 'PostgreSQL',
  available: probe.ok,
  url: POSTGRES_URL,
  dialect: 'postgres',
  freshScope: async () => uniqueName('rjt'),
  dropScope: (schema) => postgresAdmin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`),
  analyze: (schema) => postgresAdmin(`ANALYZE "${schema}".restjwt_outstanding_token`, `ANALYZE "${schema}".restjwt_blacklisted_token`),
  async indexNames(schema) {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE schemaname = $1', [schema]);
      return rows.map((row) => row.indexname);
    } finally {
      await client.end();
    }
  },
  expectIndexedPlan(plan) {
    const text = plan.join('\n');
    // e.g. Nested Loop → Index Scan using restjwt_outstanding_token_jti_uniq on restjwt_outstanding_token o
    //                  → Index Only Scan using restjwt_blacklisted_token_token_id_uniq on restjwt_blacklisted_token b
    expect(text).toMatch(/Index (Only )?Scan using restjwt_outstanding_token_jti_uniq/);
    expect(text).toMatch(/Index (Only )?Scan using restjwt_blacklisted_token_token_id_uniq/);
    expect(text).not.toMatch(/Seq Scan/);
  },
});
