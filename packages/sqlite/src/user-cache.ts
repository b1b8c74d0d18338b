/**
 * User rows by id, read again only when the database may have changed: what authenticating every request asks of
 * the store. A `SELECT … WHERE id = ?` costs a read transaction (the WAL read lock), the B-tree walk and a JavaScript
 * object per row. Whether anything changed is known in two ways:
 * - this connection's own writes: the store's one statement that changes a user row (`updateUser`) calls
 *   {@link UserCache.clear}, so the store's own changes (a deactivation, a password change) are seen by the very next
 *   lookup. Inserts need nothing: a lookup that found no row cached nothing. The connection is the store's own (never
 *   handed out), so no other statement on it changes a user;
 * - other connections' commits (another worker, `restjwt deactivate`, Django on the same file): `PRAGMA
 *   data_version`, which needs a read transaction of its own (about 2.5 µs, most of a protected request's store
 *   cost), asked once per turn of the event loop. Every request handled in a turn was read from its socket after
 *   the turn's poll began, and the question is asked after that, so a request never uses an answer older than its
 *   own arrival except for bytes that arrive on an already-readable socket within the microseconds of one turn: a
 *   commit is seen by the requests that arrive after it, as with a SELECT per lookup.
 */
import type BetterSqlite3 from 'better-sqlite3';

/** At most this many rows; past it the cache starts again empty (the ids a server authenticates are few). */
const MAX_ROWS = 1000;

/**
 * Cached users are records made once from their row (`toRecord`); each lookup gets its own copy (`copy`), as the
 * store contract wants, which costs less than mapping the row again (no text to parse).
 */
export class UserCache<R, V extends object> {
  private readonly rows = new Map<number, V>();
  private readonly dataVersion: BetterSqlite3.Statement<[], number>;
  /** What `PRAGMA data_version` said when the rows were read; -1 before any read. */
  private seenVersion = -1;
  /** `PRAGMA data_version` as read in this turn of the event loop; undefined until asked in it. */
  private turnVersion: number | undefined;
  private readonly endTurn = (): void => {
    this.turnVersion = undefined;
  };

  constructor(
    db: BetterSqlite3.Database,
    private readonly toRecord: (row: R) => V,
    private readonly copy: (record: V) => V,
  ) {
    // Changes committed by other connections (PRAGMA data_version does not count this one's).
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  /** Forgets every row: this connection changed a user. */
  clear(): void {
    this.rows.clear();
  }

  /** User `id` (undefined when there is none): from the cache while nothing changed, else read by `select`. */
  get(id: number, select: BetterSqlite3.Statement<[number], R>): V | undefined {
    let version = this.turnVersion;
    if (version === undefined) {
      version = this.turnVersion = this.dataVersion.get() as number;
      // setImmediate runs after this turn's I/O callbacks: the next turn asks again.
      setImmediate(this.endTurn).unref();
    }
    if (version !== this.seenVersion) {
      this.rows.clear();
      this.seenVersion = version;
    }
    const cached = this.rows.get(id);
    if (cached !== undefined) return this.copy(cached);
    const row = select.get(id);
    if (row === undefined) return undefined;
    const record = this.toRecord(row);
    if (this.rows.size >= MAX_ROWS) this.rows.clear();
    this.rows.set(id, record);
    return this.copy(record);
  }
}
