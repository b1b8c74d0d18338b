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
 * The rules are `rotate`'s: the presented row is blacklisted in place (`blacklisted_at`, and its successor as
 * `replaced_by`) by an update `WHERE blacklisted_at IS NULL`, which decides the single winner: of concurrent updates
 * the first locks the row and the others, once it commits, re-check its new version and change nothing. A presented
 * token that was never recorded is inserted already blacklisted (whoever inserts it wins, as no one else can have
 * blacklisted it). Only the winner records the successor and touches the session. All parts share the statement's
 * snapshot, so a presented row that a concurrent, uncommitted transaction is inserting is neither inserted here (the
 * insert waits, then does nothing) nor seen: `not_found`, and the caller runs the transaction instead, whose statements
 * each see what committed before them. The text never varies (choices are parameters), so it runs as one prepared
 * statement.
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
  const users = statements.tableRef('restjwt_user');
  const sessions = statements.tableRef('restjwt_session');
  const presentedJti = sql`cast(${presented.jti} as text)`;
  const successorJti = sql`cast(${successor.jti} as text)`;
  const fallback = sql`cast(${fallbackFamily} as text)`;
  const now = sql`cast(${new Date(Date.now())} as timestamptz)`;
  const usedAt = sql`cast(${use === null ? null : new Date(use.at)} as timestamptz)`;
  const query = sql<{ found: number; won: number }>`
    WITH blacklisted AS (
      UPDATE ${outstanding} SET blacklisted_at = ${now}, replaced_by = ${successorJti}
      WHERE jti = ${presentedJti} AND blacklisted_at IS NULL
      RETURNING family_id
    ), inserted AS (
      INSERT INTO ${outstanding} (jti, user_id, token_type, family_id, created_at, expires_at, replaced_by, blacklisted_at)
      SELECT ${presentedJti}, (SELECT id FROM ${users} WHERE id = cast(${presented.userId} as bigint)), cast(${presented.tokenType} as text),
             cast(${presented.familyId} as text), cast(${presented.createdAt} as timestamptz), cast(${presented.expiresAt} as timestamptz),
             ${successorJti}, ${now}
      WHERE NOT EXISTS (SELECT 1 FROM ${outstanding} WHERE jti = ${presentedJti})
      ON CONFLICT (jti) DO NOTHING
      RETURNING family_id
    ), won AS (
      SELECT family_id FROM blacklisted UNION ALL SELECT family_id FROM inserted
    ), family AS (
      SELECT CASE WHEN cast(${options.inheritFamily === true} as boolean) THEN coalesce(won.family_id, ${fallback}) ELSE ${fallback} END AS family_id
      FROM won
    ), successor AS (
      INSERT INTO ${outstanding} (jti, user_id, token_type, family_id, created_at, expires_at)
      SELECT ${successorJti}, (SELECT id FROM ${users} WHERE id = cast(${successor.userId} as bigint)), cast(${successor.tokenType} as text),
             family_id, cast(${successor.createdAt} as timestamptz), cast(${successor.expiresAt} as timestamptz)
      FROM family
      ON CONFLICT (jti) DO NOTHING
      RETURNING 1
    ), touched AS (
      UPDATE ${sessions}
      SET last_used_at = ${usedAt},
          client_address = coalesce(cast(${use?.clientAddress ?? null} as text), client_address),
          user_agent = coalesce(cast(${use?.userAgent ?? null} as text), user_agent)
      WHERE ${usedAt} IS NOT NULL AND family_id = (SELECT family_id FROM family) AND last_used_at <= ${usedAt}
      RETURNING 1
    )
    SELECT cast((SELECT count(*) FROM won) as integer) AS won,
           cast((SELECT count(*) FROM ${outstanding} WHERE jti = ${presentedJti}) as integer) AS found`;
  const [row] = await exec.oneStatement(() => exec.executePrepared('restjwt_rotate', query.compile(exec.db)));
  if (row?.won === 1) return 'rotated';
  return row === undefined || row.found === 0 ? 'not_found' : 'already_blacklisted';
}
