/**
 * An in-process store for tests and single-process demos. Everything is lost when the process exits.
 *
 * It keeps the SQL backends' semantics (the shared contract suite checks both). Atomicity comes from JavaScript
 * being single-threaded: each method does its check and its write with no `await` in between.
 *
 * One idea, one file (about 600 lines): the whole contract over `Map`s, each method its own check-and-write.
 */
import { UserExistsError } from '../../store/errors.js';
import { IN_PROCESS_CAPABILITIES, type WithCapabilities } from '../../store/capabilities.js';
import type { Audited, AuditCount, FactorRecord, NewFactor, AuditEvent, AuditPage, AuditQuery, AuditRecord, BlacklistPage, BlacklistResult, BlacklistSource, FlushProgress, ImportUserResult, LinkedIdentity, LinkResult, NewUser, OutstandingState, OutstandingToken, RotateOptions, RotateResult, SessionRecord, SessionUse, Store, TokenListing, UnlinkOptions, UnlinkResult, UserLookupField, UserRecord } from '../../store/types.js';
import { auditFromRow, auditPage, auditValues, checkAuditQuery, checkAuditRange, withRevoked, type AuditValues } from '../shared/audit.js';
import { closedStoreError, CredentialExistsError, OneTimeKeyExistsError } from '../shared/errors.js';
import { acceptsCounter, checkCounter, checkRecoveryHashes, newFactorValues } from '../shared/factors.js';
import { checkBatchSize, deleteInBatches } from '../shared/flush.js';
import { blacklistPage, copyUser, sessionFromRow, type BlacklistedRow } from '../shared/rows.js';
import { checkBlacklistListing, checkPage, checkTokenListing, requestUseValues, sessionUseValues, toMillis, type SessionUseValues } from '../shared/validate.js';
import { isOneTimeLive, linkResult, newTokenVersion, successorFamily, unlinkVerdict, userChanges, type UserChange } from '../shared/verdicts.js';

interface TokenRow {
  token: OutstandingToken;
  /** Insertion order, the cursor of `listBlacklisted`. */
  seq: number;
  /** When the token was blacklisted; absent while it is not. */
  blacklistedAt?: Date;
  /** The successor `rotate` recorded. */
  replacedBy?: string;
}

/** Whether the token of `row` keeps its session live at `now` (ms): neither blacklisted nor expired. */
const liveAt = (row: TokenRow, now: number): boolean => row.blacklistedAt === undefined && row.token.expiresAt.getTime() > now;

/** A login session (family); times in ms. */
interface SessionRow {
  userId: string;
  createdAt: number;
  lastUsedAt: number;
  clientAddress: string | null;
  userAgent: string | null;
}

interface OneTimeRow {
  value: string;
  /** ms */
  expiresAt: number;
}

/**
 * A {@link Store} held in `Map`s, with every optional capability (sessions, linked identities, one-time values).
 * Records are copied in and out, so callers cannot change stored state by mutation.
 */
export class MemoryStore implements Store, WithCapabilities<(typeof IN_PROCESS_CAPABILITIES)[number]> {
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
  /** By family id, in login order. */
  private readonly sessions = new Map<string, SessionRow>();
  /** By {@link identityKey}. */
  private readonly identities = new Map<string, LinkedIdentity>();
  private readonly oneTime = new Map<string, OneTimeRow>();
  /** The audit log in id order (ids increase: the array is sorted by them). */
  private auditLog: { id: number; values: AuditValues }[] = [];
  private nextAuditId = 1;
  /** Second factors by id (ids increase: insertion order is id order). */
  private readonly factors = new Map<string, FactorRecord>();
  private nextFactorId = 1;
  /** Recovery-code hashes by user id. */
  private readonly recoveryCodes = new Map<string, Set<string>>();
  private closed = false;

  /** The optional capabilities: all of them. */
  get capabilities(): typeof IN_PROCESS_CAPABILITIES {
    return IN_PROCESS_CAPABILITIES;
  }

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
    return this.findUserNow(field, value);
  }

  findUserNow(field: UserLookupField, value: string): UserRecord | null {
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

  async createUser(user: NewUser, options: Audited = {}): Promise<UserRecord> {
    this.assertOpen();
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
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
    if (audit !== undefined) this.writeAudit({ ...audit, userId: record.id, username: record.username });
    return copyUser(record);
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    this.assertOpen();
    this.updateUser(id, userChanges.rehash(passwordHash));
  }

  async setPassword(id: string, passwordHash: string, options: Audited = {}): Promise<void> {
    this.assertOpen();
    this.updateUser(id, userChanges.password(passwordHash), options.audit);
  }

  /** Deactivating also renews `tokenVersion`, so the user's outstanding tokens stop working where it is checked. */
  async setActive(id: string, isActive: boolean, options: Audited = {}): Promise<void> {
    this.assertOpen();
    this.updateUser(id, userChanges.active(isActive), options.audit);
  }

  async renewTokenVersion(id: string): Promise<void> {
    this.assertOpen();
    this.updateUser(id, userChanges.renewal());
  }

  async updateLastLogin(id: string, at: Date): Promise<void> {
    this.assertOpen();
    this.updateUser(id, userChanges.lastLogin(at));
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

  async recordOutstanding(token: OutstandingToken, options: Audited = {}): Promise<void> {
    this.assertOpen();
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
    const known = this.tokens.has(token.jti);
    this.insertIfMissing(token);
    if (!known && audit !== undefined) this.writeAudit(audit);
  }

  async isBlacklisted(jti: string): Promise<boolean> {
    this.assertOpen();
    return this.tokens.get(jti)?.blacklistedAt !== undefined;
  }

  async blacklist(token: OutstandingToken, options: Audited = {}): Promise<BlacklistResult> {
    this.assertOpen();
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
    if (!this.blacklistRow(token)) return 'already_blacklisted';
    if (audit !== undefined) this.writeAudit(audit);
    return 'blacklisted';
  }

  async rotate(presented: OutstandingToken, successor: OutstandingToken, options: RotateOptions = {}): Promise<RotateResult> {
    this.assertOpen();
    // Validate everything before writing anything, so bad input cannot leave the presented token half-rotated.
    copyToken(successor);
    const use = requestUseValues(options);
    if (!this.blacklistRow(presented)) return 'already_blacklisted';
    const row = this.tokens.get(presented.jti) as TokenRow;
    const familyId = successorFamily(presented, successor, options, row.token.familyId);
    this.insertIfMissing(familyId === successor.familyId ? successor : { ...successor, familyId });
    row.replacedBy = successor.jti;
    if (use !== null && familyId !== null) touch(this.sessions.get(familyId), { ...use, familyId });
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
    return row === undefined ? null : this.stateOf(row);
  }

  async revokeFamily(familyId: string, options: Audited = {}): Promise<number> {
    this.assertOpen();
    return this.revokeWhere((t) => t.familyId === familyId, options.audit);
  }

  async revokeUser(userId: string, options: Audited = {}): Promise<number> {
    this.assertOpen();
    return this.revokeWhere((t) => t.userId === userId, options.audit);
  }

  /**
   * Deletes tokens that expired before `now`, `batchSize` per batch (default 1000), yielding between batches; also
   * expired access revocations and one-time values, and the sessions whose family has no token left.
   */
  async flushExpired(now: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    this.assertOpen();
    const batchSize = checkBatchSize(options);
    const before = toMillis(now, 'now');
    for (const [jti, expires] of this.revokedAccess) if (expires < before) this.revokedAccess.delete(jti);
    for (const [key, row] of this.oneTime) if (row.expiresAt < before) this.oneTime.delete(key);
    const deleted = await deleteInBatches(batchSize, options.onProgress, async () => {
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
    this.assertOpen();
    // Sessions whose family has no token left: nothing of them can be used or listed as active any more.
    const families = new Set<string>();
    for (const row of this.tokens.values()) if (row.token.familyId !== null) families.add(row.token.familyId);
    for (const familyId of this.sessions.keys()) if (!families.has(familyId)) this.sessions.delete(familyId);
    return deleted;
  }

  async countTokens(): Promise<{ outstanding: number; blacklisted: number }> {
    this.assertOpen();
    return { outstanding: this.tokens.size, blacklisted: this.blacklistedCount };
  }

  /** Blacklisted tokens in insertion order (see `BlacklistSource`). */
  async listBlacklisted(options: Parameters<BlacklistSource['listBlacklisted']>[0] = {}): Promise<BlacklistPage> {
    this.assertOpen();
    const { limit, cursor, after = -Infinity, before = Infinity } = checkBlacklistListing(options, (c) => {
      const seq = Number(c);
      return Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
    });
    const rows: BlacklistedRow[] = [];
    for (const row of this.tokens.values()) {
      if (row.seq <= (cursor ?? 0) || row.blacklistedAt === undefined) continue;
      const expires = row.token.expiresAt.getTime();
      if (expires <= after || expires >= before) continue;
      rows.push({ id: row.seq, jti: row.token.jti, expires_at: expires });
      if (rows.length === limit) break;
    }
    return blacklistPage(rows, limit);
  }

  // --- sessions (SessionStore) -----------------------------------------------------------------------------------

  /** Records a login; a second record of the family, or one for an unknown user, is a no-op. */
  async recordSession(userId: string, use: SessionUse): Promise<void> {
    this.assertOpen();
    const values = sessionUseValues(use);
    if (this.sessions.has(values.familyId) || !this.users.has(userId)) return;
    this.sessions.set(values.familyId, {
      userId,
      createdAt: values.at,
      lastUsedAt: values.at,
      clientAddress: values.clientAddress,
      userAgent: values.userAgent,
    });
  }

  /**
   * Records a refresh: last used, and where from. An older use than the one recorded (concurrent refreshes arriving
   * out of order) changes nothing; an unknown address or user agent (null) keeps the known one.
   */
  async touchSession(use: SessionUse): Promise<void> {
    this.assertOpen();
    touch(this.sessions.get(use.familyId), sessionUseValues(use));
  }

  /** `userId`'s sessions, newest login first; ended ones only with `includeEnded`. */
  async listSessions(userId: string, options: { includeEnded?: boolean; now?: Date } = {}): Promise<SessionRecord[]> {
    this.assertOpen();
    const now = toMillis(options.now ?? new Date(Date.now()), 'now');
    const mine = new Map<string, { expiresAt: number | null; active: boolean }>();
    for (const [familyId, session] of this.sessions) if (session.userId === userId) mine.set(familyId, { expiresAt: null, active: false });
    for (const row of this.tokens.values()) {
      const family = row.token.familyId === null ? undefined : mine.get(row.token.familyId);
      if (family === undefined) continue;
      const expires = row.token.expiresAt.getTime();
      family.expiresAt = family.expiresAt === null ? expires : Math.max(family.expiresAt, expires);
      if (liveAt(row, now)) family.active = true;
    }
    const records: SessionRecord[] = [];
    for (const [familyId, family] of mine) {
      if (!family.active && options.includeEnded !== true) continue;
      const session = this.sessions.get(familyId);
      if (session === undefined) continue;
      records.push(
        sessionFromRow({
          family_id: familyId,
          user_id: session.userId,
          created_at: session.createdAt,
          last_used_at: session.lastUsedAt,
          client_address: session.clientAddress,
          user_agent: session.userAgent,
          expires_at: family.expiresAt,
          active: family.active ? 1 : 0,
        }),
      );
    }
    // Map order is login order; ties in time keep the later login first, as the SQL stores' id order does.
    return records.reverse().sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  async sessionOwner(familyId: string): Promise<string | null> {
    this.assertOpen();
    return this.sessions.get(familyId)?.userId ?? null;
  }

  async countLiveSessions(options: { now?: Date } = {}): Promise<number> {
    this.assertOpen();
    const now = toMillis(options.now ?? new Date(Date.now()), 'now');
    const live = new Set<string>();
    for (const row of this.tokens.values()) {
      const family = row.token.familyId;
      if (family !== null && liveAt(row, now) && this.sessions.has(family)) live.add(family);
    }
    return live.size;
  }

  /** Outstanding tokens, newest first (by `createdAt`, then latest recorded), at most 1000 per call (default 100). */
  async listTokens(options: { userId?: string; blacklisted?: boolean; limit?: number; offset?: number } = {}): Promise<TokenListing[]> {
    this.assertOpen();
    const { limit, offset } = checkTokenListing(options);
    const rows = [...this.tokens.values()].filter(
      (row) =>
        (options.userId === undefined || row.token.userId === options.userId) &&
        (options.blacklisted === undefined || (row.blacklistedAt !== undefined) === options.blacklisted),
    );
    rows.sort((a, b) => b.token.createdAt.getTime() - a.token.createdAt.getTime() || b.seq - a.seq);
    return rows.slice(offset, offset + limit).map((row) => ({
      ...this.stateOf(row),
      username: row.token.userId === null ? null : (this.users.get(row.token.userId)?.username ?? null),
    }));
  }

  async countUsers(): Promise<number> {
    this.assertOpen();
    return this.users.size;
  }

  // --- linked identities (IdentityStore) -------------------------------------------------------------------------

  async findIdentity(provider: string, subject: string): Promise<LinkedIdentity | null> {
    this.assertOpen();
    const found = this.identities.get(identityKey(provider, subject));
    return found === undefined ? null : copyIdentity(found);
  }

  /**
   * Links the identity unless it is linked already (checked and written without an `await` in between).
   *
   * @throws RangeError when `userId` names no user.
   */
  async linkIdentity(identity: { provider: string; subject: string; userId: string; email: string | null; at: Date }): Promise<LinkResult> {
    this.assertOpen();
    const at = toMillis(identity.at, 'at');
    const key = identityKey(identity.provider, identity.subject);
    const existing = this.identities.get(key);
    if (existing !== undefined) return linkResult(existing.userId, identity.userId, false);
    if (!this.users.has(identity.userId)) return linkResult(undefined, identity.userId, false);
    this.identities.set(key, {
      provider: identity.provider,
      subject: identity.subject,
      userId: identity.userId,
      email: identity.email,
      createdAt: new Date(at),
      lastUsedAt: new Date(at),
    });
    return linkResult(identity.userId, identity.userId, true);
  }

  async touchIdentity(provider: string, subject: string, email: string | null, at: Date): Promise<void> {
    this.assertOpen();
    const ms = toMillis(at, 'at');
    const found = this.identities.get(identityKey(provider, subject));
    if (found === undefined) return;
    found.lastUsedAt = new Date(ms);
    found.email = email;
  }

  async unlinkIdentity(userId: string, provider: string, subject: string, options?: UnlinkOptions): Promise<UnlinkResult> {
    this.assertOpen();
    const owned = [...this.identities.values()].filter((identity) => identity.userId === userId);
    const audit = options?.audit === undefined ? undefined : auditValues(options.audit);
    const verdict = unlinkVerdict(this.users.get(userId)?.passwordHash ?? null, owned, provider, subject, options);
    if (verdict !== 'remove') return verdict;
    this.identities.delete(identityKey(provider, subject));
    if (audit !== undefined) this.writeAudit(audit);
    return 'unlinked';
  }

  /** `userId`'s linked identities, by provider then subject. */
  async listIdentities(userId: string): Promise<LinkedIdentity[]> {
    this.assertOpen();
    return [...this.identities.values()]
      .filter((identity) => identity.userId === userId)
      .sort((a, b) => compareText(a.provider, b.provider) || compareText(a.subject, b.subject))
      .map(copyIdentity);
  }

  // --- one-time values (OneTimeStore) ----------------------------------------------------------------------------

  /** @throws OneTimeKeyExistsError when `key` is taken (even by an expired value not yet flushed). */
  async putOneTime(key: string, value: string, expiresAt: Date): Promise<void> {
    this.assertOpen();
    const expires = toMillis(expiresAt, 'expiresAt');
    if (this.oneTime.has(key)) throw new OneTimeKeyExistsError();
    this.oneTime.set(key, { value, expiresAt: expires });
  }

  /** Removes `key` and returns its value unless expired; found and removed without an `await` in between. */
  async takeOneTime(key: string, now?: Date): Promise<string | null> {
    this.assertOpen();
    const at = toMillis(now ?? new Date(Date.now()), 'now');
    const row = this.oneTime.get(key);
    if (row === undefined) return null;
    this.oneTime.delete(key);
    return isOneTimeLive(row.expiresAt, at) ? row.value : null;
  }

  // --- audit log (AuditStore) ------------------------------------------------------------------------------------

  async appendAudit(event: AuditEvent): Promise<void> {
    this.assertOpen();
    this.writeAudit(auditValues(event));
  }

  /** Events newest first (by id), filtered. */
  async listAudit(query: AuditQuery = {}): Promise<AuditPage> {
    this.assertOpen();
    const filter = checkAuditQuery(query);
    const rows: AuditRecord[] = [];
    for (let i = this.auditLog.length - 1; i >= 0 && rows.length <= filter.limit; i--) {
      const { id, values: v } = this.auditLog[i] as { id: number; values: AuditValues };
      if (filter.beforeId !== undefined && id >= filter.beforeId) continue;
      if (filter.user !== undefined && v.userId !== filter.user && v.username !== filter.user) continue;
      if (filter.type !== undefined && v.type !== filter.type) continue;
      if ((filter.since !== undefined && v.at < filter.since) || (filter.until !== undefined && v.at >= filter.until)) continue;
      rows.push(recordOf(id, v));
    }
    return auditPage(rows, filter.limit);
  }

  async countAudit(range: { since: Date; until: Date; bucketSeconds: number }): Promise<AuditCount[]> {
    this.assertOpen();
    const { since, until, bucketMs } = checkAuditRange(range);
    const counts = new Map<string, AuditCount>();
    for (const { values: v } of this.auditLog) {
      if (v.at < since || v.at >= until) continue;
      const bucket = Math.floor((v.at - since) / bucketMs);
      const key = `${v.type} ${bucket}`;
      const found = counts.get(key);
      if (found === undefined) counts.set(key, { type: v.type, bucket, count: 1 });
      else found.count++;
    }
    return [...counts.values()].sort((a, b) => a.bucket - b.bucket || (a.type < b.type ? -1 : 1));
  }

  /** Deletes the events before `before`, `batchSize` per batch (default 1000), yielding between batches. */
  async flushAudit(before: Date, options: { batchSize?: number; onProgress?: (p: FlushProgress) => void } = {}): Promise<number> {
    this.assertOpen();
    const batchSize = checkBatchSize(options);
    const cutoff = toMillis(before, 'before');
    return deleteInBatches(batchSize, options.onProgress, async () => {
      this.assertOpen();
      let deleted = 0;
      this.auditLog = this.auditLog.filter((row) => {
        if (deleted === batchSize || row.values.at >= cutoff) return true;
        deleted++;
        return false;
      });
      return deleted;
    });
  }

  // --- second factors (FactorStore) ------------------------------------------------------------------------------

  async addFactor(factor: NewFactor, options: Audited = {}): Promise<FactorRecord> {
    this.assertOpen();
    const values = newFactorValues(factor);
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
    if (!this.users.has(values.userId)) throw new RangeError(`no user with id ${values.userId}`);
    if (values.credentialId !== null && [...this.factors.values()].some((f) => f.credentialId === values.credentialId)) throw new CredentialExistsError();
    const record: FactorRecord = { ...values, id: String(this.nextFactorId++), createdAt: new Date(values.createdAt), lastUsedAt: null, counter: 0 };
    this.factors.set(record.id, record);
    if (audit !== undefined) this.writeAudit(audit);
    return copyFactor(record);
  }

  async listFactors(userId: string): Promise<FactorRecord[]> {
    this.assertOpen();
    return [...this.factors.values()].filter((f) => f.userId === userId).map(copyFactor);
  }

  async findFactorByCredential(credentialId: string): Promise<FactorRecord | null> {
    this.assertOpen();
    const found = [...this.factors.values()].find((f) => f.credentialId === credentialId);
    return found === undefined ? null : copyFactor(found);
  }

  async confirmFactor(userId: string, factorId: string, options: Audited = {}): Promise<boolean> {
    this.assertOpen();
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
    const factor = this.factors.get(factorId);
    if (factor === undefined || factor.userId !== userId || factor.confirmed) return false;
    factor.confirmed = true;
    if (audit !== undefined) this.writeAudit(audit);
    return true;
  }

  async useFactor(factorId: string, counter: number, at: Date): Promise<boolean> {
    this.assertOpen();
    checkCounter(counter);
    const ms = toMillis(at, 'at');
    const factor = this.factors.get(factorId);
    if (factor === undefined || !acceptsCounter(factor.counter, counter)) return false;
    factor.counter = counter;
    factor.lastUsedAt = new Date(ms);
    return true;
  }

  async removeFactor(userId: string, factorId: string, options: Audited = {}): Promise<boolean> {
    this.assertOpen();
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
    const factor = this.factors.get(factorId);
    if (factor === undefined || factor.userId !== userId) return false;
    this.factors.delete(factorId);
    if (audit !== undefined) this.writeAudit(audit);
    return true;
  }

  async removeFactors(userId: string, options: Audited = {}): Promise<number> {
    this.assertOpen();
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
    let removed = 0;
    for (const [id, factor] of this.factors) {
      if (factor.userId !== userId) continue;
      this.factors.delete(id);
      removed++;
    }
    this.recoveryCodes.delete(userId);
    if (audit !== undefined) this.writeAudit(audit);
    return removed;
  }

  async setRecoveryCodes(userId: string, hashes: readonly string[], options: Audited = {}): Promise<void> {
    this.assertOpen();
    checkRecoveryHashes(hashes);
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
    if (!this.users.has(userId)) throw new RangeError(`no user with id ${userId}`);
    this.recoveryCodes.set(userId, new Set(hashes));
    if (audit !== undefined) this.writeAudit(audit);
  }

  async useRecoveryCode(userId: string, hash: string, options: Audited = {}): Promise<boolean> {
    this.assertOpen();
    const audit = options.audit === undefined ? undefined : auditValues(options.audit);
    if (this.recoveryCodes.get(userId)?.delete(hash) !== true) return false;
    if (audit !== undefined) this.writeAudit(audit);
    return true;
  }

  async countRecoveryCodes(userId: string): Promise<number> {
    this.assertOpen();
    return this.recoveryCodes.get(userId)?.size ?? 0;
  }

  // --- internals -------------------------------------------------------------------------------------------------

  private writeAudit(values: AuditValues): void {
    this.auditLog.push({ id: this.nextAuditId++, values });
  }

  private assertOpen(): void {
    if (this.closed) throw closedStoreError('The memory store', 'Create a new one with createMemoryStore().');
  }

  /** Applies a user change (see `userChanges`) and writes its audit event; an unknown id changes nothing. */
  private updateUser(id: string, change: UserChange, event?: AuditEvent): void {
    const audit = event === undefined ? undefined : auditValues(event);
    const user = this.users.get(id);
    if (user === undefined) return;
    if (audit !== undefined) this.writeAudit(audit);
    if (change.passwordHash !== undefined) user.passwordHash = change.passwordHash;
    if (change.isActive !== undefined) user.isActive = change.isActive;
    if (change.lastLogin !== undefined) user.lastLogin = new Date(change.lastLogin);
    if (change.tokenVersion !== undefined) user.tokenVersion = change.tokenVersion;
  }

  /** A detached copy of a token row's state. */
  private stateOf(row: TokenRow): OutstandingState {
    return {
      ...copyToken(row.token),
      blacklistedAt: row.blacklistedAt === undefined ? null : new Date(row.blacklistedAt.getTime()),
      replacedBy: row.replacedBy ?? null,
    };
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

  /** Blacklists every live token matching `match` and writes its audit event, without awaiting (one "transaction"). */
  private revokeWhere(match: (token: OutstandingToken) => boolean, event: AuditEvent | undefined): number {
    const audit = event === undefined ? undefined : auditValues(event);
    const now = new Date(Date.now());
    let count = 0;
    for (const row of this.tokens.values()) {
      if (row.blacklistedAt !== undefined || !match(row.token)) continue;
      row.blacklistedAt = now;
      this.blacklistedCount++;
      count++;
    }
    if (audit !== undefined) this.writeAudit(withRevoked(audit, count));
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

/**
 * A new, empty {@link MemoryStore}, for tests and demos (everything is lost when the process ends). Every store
 * factory is an `open…Store` returning a promise (`openSqliteStore`, `openSqlStore`, `openDjangoStore`), so switching
 * stores changes one name, not the `await`.
 */
export async function openMemoryStore(): Promise<MemoryStore> {
  return new MemoryStore();
}

/**
 * A new, empty {@link MemoryStore}, synchronously.
 *
 * @deprecated Use `await openMemoryStore()`, named like every other store factory; `createMemoryStore` goes away in
 * the next minor version.
 */
export function createMemoryStore(): MemoryStore {
  return new MemoryStore();
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

function copyFactor(factor: FactorRecord): FactorRecord {
  return { ...factor, createdAt: new Date(factor.createdAt.getTime()), lastUsedAt: factor.lastUsedAt === null ? null : new Date(factor.lastUsedAt.getTime()) };
}

/** The record of an audit row (the same mapping the SQL stores use). */
function recordOf(id: number, v: AuditValues): AuditRecord {
  return auditFromRow({ id, type: v.type, at: v.at, user_id: v.userId, username: v.username, actor_id: v.actorId, family_id: v.familyId, client_address: v.clientAddress, user_agent: v.userAgent, detail: v.detail });
}

/** A use that is not older than the recorded one updates the session; null metadata keeps what is known. */
function touch(session: SessionRow | undefined, use: SessionUseValues): void {
  if (session === undefined || use.at < session.lastUsedAt) return;
  session.lastUsedAt = use.at;
  session.clientAddress = use.clientAddress ?? session.clientAddress;
  session.userAgent = use.userAgent ?? session.userAgent;
}

/** One map key per (provider, subject) pair, unambiguous whatever characters they hold. */
function identityKey(provider: string, subject: string): string {
  return JSON.stringify([provider, subject]);
}

function copyIdentity(identity: LinkedIdentity): LinkedIdentity {
  return { ...identity, createdAt: new Date(identity.createdAt.getTime()), lastUsedAt: new Date(identity.lastUsedAt.getTime()) };
}

/** Code-unit order, as the SQL stores' binary collations compare. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export { OneTimeKeyExistsError } from '../shared/errors.js';
export { createMemoryRateCounter, MemoryRateCounter } from './rate-counter.js';
