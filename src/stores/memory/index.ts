/**
 * An in-process store for tests and single-process demos. Everything is lost when the process exits.
 *
 * It keeps the SQL backends' semantics (the shared contract suite checks both). Atomicity comes from JavaScript
 * being single-threaded: each method does its check and its write with no `await` in between.
 */
import { StoreUnavailableError, UserExistsError } from '../../core/store/errors.js';
import type {
  BlacklistPage,
  BlacklistResult,
  BlacklistSource,
  FlushProgress,
  ImportUserResult,
  NewUser,
  OutstandingState,
  OutstandingToken,
  RotateResult,
  Store,
  UserImportStore,
  UserLookupField,
  UserRecord,
} from '../../core/store/types.js';
import { checkBatchSize, checkPage, deleteInBatches, newTokenVersion, toMillis } from '../shared/values.js';


interface TokenRow {
  token: OutstandingToken;
  /** Insertion order, the cursor of `listBlacklisted`. */
  seq: number;
  /** When the token was blacklisted; absent while it is not. */
  blacklistedAt?: Date;
  /** The successor `rotate` recorded. */
  replacedBy?: string;
}

/** A {@link Store} held in `Map`s. Records are copied in and out, so callers cannot change stored state by mutation. */
export class MemoryStore implements Store, UserImportStore {
  /** By id; ids are assigned in increasing order, so insertion order is id order. */
  private readonly users = new Map<string, UserRecord>();
  private readonly userIdsByUsername = new Map<string, string>();
  private nextUserId = 1;
  /** By jti. */
  private readonly tokens = new Map<string, TokenRow>();
  private blacklistedCount = 0;
  /** Revoked access tokens: jti → expiry (ms). */
  private readonly revokedAccess = new Map<string, number>();
  private nextSeq = 1;
  private closed = false;

  // --- lifecycle -------------------------------------------------------------------------------------------------

  /** Nothing to create: always `[]`. */
  async migrate(): Promise<string[]> {
    this.assertOpen();
    return [];
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  /** Drops nothing but refuses later calls, like a closed connection. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }

  // --- users -----------------------------------------------------------------------------------------------------

  async findUser(field: UserLookupField, value: string): Promise<UserRecord | null> {
    this.assertOpen();
    let found: UserRecord | undefined;
    if (field === 'id') {
      found = this.users.get(value);
    } else if (field === 'username') {
      const id = this.userIdsByUsername.get(value);
      found = id === undefined ? undefined : this.users.get(id);
    } else {
      // Emails are not unique: the oldest user wins, as `ORDER BY id LIMIT 1` in SQL.
      for (const user of this.users.values()) {
        if (user.email === value) {
          found = user;
          break;
        }
      }
    }
    return found === undefined ? null : copyUser(found);
  }

  async createUser(user: NewUser): Promise<UserRecord> {
    this.assertOpen();
    if (this.userIdsByUsername.has(user.username)) throw new UserExistsError(user.username);
    const record: UserRecord = {
      id: String(this.nextUserId++),
      username: user.username,
      email: user.email ?? '',
      passwordHash: user.passwordHash,
      isActive: user.isActive ?? true,
      isStaff: user.isStaff ?? false,
      lastLogin: null,
      // Whole milliseconds, as the SQL stores keep.
      dateJoined: new Date(Date.now()),
      tokenVersion: newTokenVersion(),
    };
    this.users.set(record.id, record);
    this.userIdsByUsername.set(record.username, record.id);
    return copyUser(record);
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    this.assertOpen();
    const user = this.users.get(id);
    if (user) user.passwordHash = passwordHash;
  }

  async setPassword(id: string, passwordHash: string): Promise<void> {
    this.assertOpen();
    const user = this.users.get(id);
    if (!user) return;
    user.passwordHash = passwordHash;
    user.tokenVersion = newTokenVersion();
  }

  /** Deactivating also renews `tokenVersion`, so the user's outstanding tokens stop working where it is checked. */
  async setActive(id: string, isActive: boolean): Promise<void> {
    this.assertOpen();
    const user = this.users.get(id);
    if (!user) return;
    user.isActive = isActive;
    if (!isActive) user.tokenVersion = newTokenVersion();
  }

  async renewTokenVersion(id: string): Promise<void> {
    this.assertOpen();
    const user = this.users.get(id);
    if (user) user.tokenVersion = newTokenVersion();
  }

  async updateLastLogin(id: string, at: Date): Promise<void> {
    this.assertOpen();
    const ms = toMillis(at, 'at');
    const user = this.users.get(id);
    if (user) user.lastLogin = new Date(ms);
  }

  /** Users in id (creation) order. */
  async listUsers(options: { limit?: number; offset?: number } = {}): Promise<UserRecord[]> {
    this.assertOpen();
    const { limit, offset } = checkPage(options);
    // Imported users may arrive out of id order.
    const all = [...this.users.values()].sort((a, b) => Number(a.id) - Number(b.id));
    return all.slice(offset, limit === undefined ? undefined : offset + limit).map(copyUser);
  }

  /** Inserts a user with its own id, dates and token version unless the id or username is taken (see {@link UserImportStore}). */
  async importUser(user: UserRecord): Promise<ImportUserResult> {
    this.assertOpen();
    const record = copyUser(user);
    toMillis(record.dateJoined, 'dateJoined');
    if (record.lastLogin !== null) toMillis(record.lastLogin, 'lastLogin');
    const existing = this.users.get(record.id);
    if (existing) return existing.username === record.username ? 'exists' : 'conflict';
    if (this.userIdsByUsername.has(record.username)) return 'conflict';
    this.users.set(record.id, record);
    this.userIdsByUsername.set(record.username, record.id);
    // Later users get ids after the imported ones.
    const numeric = Number(record.id);
    if (Number.isSafeInteger(numeric) && numeric >= this.nextUserId) this.nextUserId = numeric + 1;
    return 'imported';
  }

  // --- tokens ----------------------------------------------------------------------------------------------------

  async recordOutstanding(token: OutstandingToken): Promise<void> {
    this.assertOpen();
    this.insertIfMissing(token);
  }

  async isBlacklisted(jti: string): Promise<boolean> {
    this.assertOpen();
    return this.tokens.get(jti)?.blacklistedAt !== undefined;
  }

  async blacklist(token: OutstandingToken): Promise<BlacklistResult> {
    this.assertOpen();
    return this.blacklistRow(token) ? 'blacklisted' : 'already_blacklisted';
  }

  async rotate(presented: OutstandingToken, successor: OutstandingToken): Promise<RotateResult> {
    this.assertOpen();
    // Validate both before writing anything, so a bad successor cannot leave the presented token half-rotated.
    copyToken(successor);
    if (!this.blacklistRow(presented)) return 'already_blacklisted';
    this.insertIfMissing(successor);
    const row = this.tokens.get(presented.jti);
    if (row) row.replacedBy = successor.jti;
    return 'rotated';
  }

  async revokeAccess(jti: string, expiresAt: Date): Promise<void> {
    this.assertOpen();
    const ms = toMillis(expiresAt, 'expiresAt');
    if (!this.revokedAccess.has(jti)) this.revokedAccess.set(jti, ms);
  }

  async isAccessRevoked(jti: string): Promise<boolean> {
    this.assertOpen();
    return this.revokedAccess.has(jti);
  }

  async findOutstanding(jti: string): Promise<OutstandingState | null> {
    this.assertOpen();
    const row = this.tokens.get(jti);
    if (row === undefined) return null;
    return {
      ...copyToken(row.token),
      blacklistedAt: row.blacklistedAt === undefined ? null : new Date(row.blacklistedAt.getTime()),
      replacedBy: row.replacedBy ?? null,
    };
  }

  async revokeFamily(familyId: string): Promise<number> {
    this.assertOpen();
    return this.revokeWhere((t) => t.familyId === familyId);
  }

  async revokeUser(userId: string): Promise<number> {
    this.assertOpen();
    return this.revokeWhere((t) => t.userId === userId);
  }

  /** Deletes tokens that expired before `now`, `batchSize` per batch (default 1000), yielding between batches. */
  async flushExpired(now: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    this.assertOpen();
    const batchSize = checkBatchSize(options);
    const before = toMillis(now, 'now');
    for (const [jti, expires] of this.revokedAccess) if (expires < before) this.revokedAccess.delete(jti);
    return deleteInBatches(batchSize, options.onProgress, async () => {
      this.assertOpen();
      // Each batch is found and deleted without awaiting, like one SQL transaction.
      let deleted = 0;
      for (const [jti, row] of this.tokens) {
        if (deleted === batchSize) break;
        if (row.token.expiresAt.getTime() >= before) continue;
        this.tokens.delete(jti);
        if (row.blacklistedAt !== undefined) this.blacklistedCount--;
        deleted++;
      }
      return deleted;
    });
  }

  async countTokens(): Promise<{ outstanding: number; blacklisted: number }> {
    this.assertOpen();
    return { outstanding: this.tokens.size, blacklisted: this.blacklistedCount };
  }

  /** Blacklisted tokens in insertion order (see `BlacklistSource`). */
  async listBlacklisted(
    options: { expiresAfter?: Date; expiresBefore?: Date; cursor?: string | null; limit?: number } = {},
  ): Promise<BlacklistPage> {
    this.assertOpen();
    const limit = options.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${String(options.limit)}`);
    const after = options.cursor === undefined || options.cursor === null ? 0 : Number(options.cursor);
    if (!Number.isSafeInteger(after) || after < 0) throw new RangeError('cursor must be the `next` of a previous page');
    const from = options.expiresAfter === undefined ? -Infinity : toMillis(options.expiresAfter, 'expiresAfter');
    const to = options.expiresBefore === undefined ? Infinity : toMillis(options.expiresBefore, 'expiresBefore');
    const entries: BlacklistPage['entries'] = [];
    let last = 0;
    for (const row of this.tokens.values()) {
      if (row.seq <= after || row.blacklistedAt === undefined) continue;
      const expires = row.token.expiresAt.getTime();
      if (expires <= from || expires >= to) continue;
      entries.push({ jti: row.token.jti, expiresAt: new Date(expires) });
      last = row.seq;
      if (entries.length === limit) break;
    }
    return { entries, next: entries.length === limit ? String(last) : null };
  }

  // --- internals -------------------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('The memory store is closed. Create a new one with createMemoryStore().');
  }

  private insertIfMissing(token: OutstandingToken): TokenRow {
    const stored = copyToken(token);
    const existing = this.tokens.get(token.jti);
    if (existing) return existing;
    // An unknown user is recorded as null, as the SQL stores (and simplejwt) do.
    if (stored.userId !== null && !this.users.has(stored.userId)) stored.userId = null;
    const row: TokenRow = { token: stored, seq: this.nextSeq++ };
    this.tokens.set(token.jti, row);
    return row;
  }

  /** Blacklists every live token matching `match`, without awaiting (one "transaction"). */
  private revokeWhere(match: (token: OutstandingToken) => boolean): number {
    const now = new Date(Date.now());
    let count = 0;
    for (const row of this.tokens.values()) {
      if (row.blacklistedAt !== undefined || !match(row.token)) continue;
      row.blacklistedAt = now;
      this.blacklistedCount++;
      count++;
    }
    return count;
  }

  /** Records `token` unless present and blacklists it; true when this call did the blacklisting. */
  private blacklistRow(token: OutstandingToken): boolean {
    const row = this.insertIfMissing(token);
    if (row.blacklistedAt !== undefined) return false;
    row.blacklistedAt = new Date(Date.now());
    this.blacklistedCount++;
    return true;
  }
}

/** A new, empty {@link MemoryStore}. */
export function createMemoryStore(): MemoryStore {
  return new MemoryStore();
}

function copyUser(user: UserRecord): UserRecord {
  return {
    ...user,
    lastLogin: user.lastLogin === null ? null : new Date(user.lastLogin.getTime()),
    dateJoined: new Date(user.dateJoined.getTime()),
  };
}

/** A detached copy, validating the dates as the SQL stores do. */
function copyToken(token: OutstandingToken): OutstandingToken {
  return {
    jti: token.jti,
    userId: token.userId,
    tokenType: token.tokenType,
    familyId: token.familyId,
    createdAt: new Date(toMillis(token.createdAt, 'createdAt')),
    expiresAt: new Date(toMillis(token.expiresAt, 'expiresAt')),
  };
}

export { createMemoryRateCounter, MemoryRateCounter } from './rate-counter.js';
