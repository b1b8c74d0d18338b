/**
 * User rows by id, read again only when the database may have changed: what authenticating every request asks of
 * the store. A `SELECT … WHERE id = ?` costs a read transaction (the WAL read lock), the B-tree walk and a JavaScript
 * object per row — about three times `PRAGMA data_version` alone, which still takes the read lock, so that a write
 * committed by any other connection (another worker, `restjwt deactivate`, Django on the same file) is seen by the
 * very next lookup, exactly as with the SELECT.
 */
import type BetterSqlite3 from 'better-sqlite3';

/** At most this many rows; past it the cache starts again empty (the ids a server authenticates are few). */
const MAX_ROWS = 1000;

export class UserRowCache<R> {
  private readonly rows = new Map<number, R>();
  private readonly dataVersion: BetterSqlite3.Statement<[], number>;
  private readonly changes: BetterSqlite3.Statement<[], number>;
  /** What the two counters said when the rows were read; -1 before any read. */
  private seenVersion = -1;
  private seenChanges = -1;

  constructor(db: BetterSqlite3.Database) {
    // Changes committed by other connections (PRAGMA data_version does not count this one's).
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    // Rows this connection changed, committed or not: every write of the store (and of anything else using the same
    // connection) moves it, so none has to remember to clear the cache. Needs no read transaction.
    this.changes = db.prepare<[], number>('SELECT total_changes()').pluck();
  }

  /** The row of user `id` (undefined when there is none): from the cache while nothing changed, else from `select`. */
  get(id: number, select: BetterSqlite3.Statement<[number], R>): R | undefined {
    const version = this.dataVersion.get() as number;
    const changes = this.changes.get() as number;
    if (version !== this.seenVersion || changes !== this.seenChanges) {
      this.rows.clear();
      this.seenVersion = version;
      this.seenChanges = changes;
    }
    const cached = this.rows.get(id);
    if (cached !== undefined) return cached;
    const row = select.get(id);
    if (row !== undefined) {
      if (this.rows.size >= MAX_ROWS) this.rows.clear();
      this.rows.set(id, row);
    }
    return row;
  }
}
