/**
 * `rotate` on PostgreSQL as one statement of data-modifying CTEs, committed on its own: one round trip where the
 * transaction takes seven. The hot path of every refresh.
 */
import { sql } from 'kysely';
import type { RotateOptions, RotateResult, SessionUseValues } from '@restjwt/core/store-kit';
import type { TokenValues } from './rows.js';
import type { SqlStatements } from './statements.js';
import type { SqlExecutor } from './transaction.js';

/**
 * The rules are `rotate`'s: the presented token is recorded unless it is (then with its successor as
 * `replaced_by`: whoever inserts it wins, as no one else can have blacklisted it), the unique `token_id` of the
 * blacklist insert decides the single winner, and only the winner records the successor, links it and touches the
 * session. All parts share the statement's snapshot, so a presented row that a concurrent, uncommitted transaction
 * is inserting is neither inserted here (the insert waits, then does nothing) nor seen: `not_found`, and the caller
 * runs the transaction instead, whose statements each see what committed before them. The text never varies
 * (choices are parameters), so it runs as one prepared statement.
 */
export async function rotateInOneStatement(
  exec: SqlExecutor,
  statements: SqlStatements,
  presented: TokenValues,
  successor: TokenValues,
  options: RotateOptions,
  use: SessionUseValues | null,
  fallbackFamily: string | null,
): Promise<RotateResult | 'not_found'> {
  const outstanding = statements.tableRef('restjwt_outstanding_token');
  const blacklisted = statements.tableRef('restjwt_blacklisted_token');
  const users = statements.tableRef('restjwt_user');
  const sessions = statements.tableRef('restjwt_session');
  const presentedJti = sql`cast(${presented.jti} as text)`;
  const successorJti = sql`cast(${successor.jti} as text)`;
  const fallback = sql`cast(${fallbackFamily} as text)`;
  const usedAt = sql`cast(${use === null ? null : new Date(use.at)} as timestamptz)`;
  const query = sql<{ found: number; won: number }>`
    WITH inserted AS (
      INSERT INTO ${outstanding} (jti, user_id, token_type, family_id, created_at, expires_at, replaced_by)
      VALUES (${presentedJti}, (SELECT id FROM ${users} WHERE id = cast(${presented.userId} as bigint)), cast(${presented.tokenType} as text),
              cast(${presented.familyId} as text), cast(${presented.createdAt} as timestamptz), cast(${presented.expiresAt} as timestamptz), ${successorJti})
      ON CONFLICT (jti) DO NOTHING
      RETURNING id, family_id
    ), presented AS (
      SELECT id, family_id FROM inserted
      UNION ALL
      SELECT id, family_id FROM ${outstanding} WHERE jti = ${presentedJti}
    ), won AS (
      INSERT INTO ${blacklisted} (token_id, blacklisted_at)
      SELECT id, cast(${new Date(Date.now())} as timestamptz) FROM presented
      ON CONFLICT (token_id) DO NOTHING
      RETURNING token_id
    ), family AS (
      SELECT CASE WHEN cast(${options.inheritFamily === true} as boolean) THEN coalesce(p.family_id, ${fallback}) ELSE ${fallback} END AS family_id
      FROM presented p JOIN won ON won.token_id = p.id
    ), successor AS (
      INSERT INTO ${outstanding} (jti, user_id, token_type, family_id, created_at, expires_at)
      SELECT ${successorJti}, (SELECT id FROM ${users} WHERE id = cast(${successor.userId} as bigint)), cast(${successor.tokenType} as text),
             family_id, cast(${successor.createdAt} as timestamptz), cast(${successor.expiresAt} as timestamptz)
      FROM family
      ON CONFLICT (jti) DO NOTHING
      RETURNING 1
    ), linked AS (
      -- A presented row inserted above already names its successor (this update cannot see that row).
      UPDATE ${outstanding} SET replaced_by = ${successorJti} WHERE id = (SELECT token_id FROM won)
      RETURNING 1
    ), touched AS (
      UPDATE ${sessions}
      SET last_used_at = ${usedAt},
          client_address = coalesce(cast(${use?.clientAddress ?? null} as text), client_address),
          user_agent = coalesce(cast(${use?.userAgent ?? null} as text), user_agent)
      WHERE ${usedAt} IS NOT NULL AND family_id = (SELECT family_id FROM family) AND last_used_at <= ${usedAt}
      RETURNING 1
    )
    SELECT cast((SELECT count(*) FROM presented) as integer) AS found, cast((SELECT count(*) FROM won) as integer) AS won`;
  const [row] = await exec.oneStatement(() => exec.executePrepared('restjwt_rotate', query.compile(exec.db)));
  if (row === undefined || row.found === 0) return 'not_found';
  return row.won === 1 ? 'rotated' : 'already_blacklisted';
}
