/**
 * The storage contract suite. Every backend runs it from its own test file:
 *
 *     runStoreContract('sqlite', () => openSqliteStore({ filename: freshFile() }));
 *
 * `open` must return a fresh, empty, migrated store for each test; the suite closes it afterwards.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError, UserExistsError } from '../../src/core/store/errors.js';
import type { BlacklistPage, BlacklistSource, OutstandingToken, Store } from '../../src/core/store/types.js';

/** Knobs for backends whose limits differ; the defaults are what every backend should meet. */
export interface StoreContractOptions {
  /** Number of simultaneous `rotate`/`blacklist` calls in the race tests. Default 20. */
  concurrency?: number;
  /** Called after each test's store is closed (drop a schema, delete a file). */
  cleanup?: () => Promise<void> | void;
}

const HOUR = 3_600_000;

/** A token for tests: unique jti, expiring in an hour unless told otherwise. */
export function makeToken(overrides: Partial<OutstandingToken> = {}): OutstandingToken {
  const createdAt = overrides.createdAt ?? new Date();
  return {
    jti: randomUUID().replaceAll('-', ''),
    userId: null,
    tokenType: 'refresh',
    familyId: null,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + HOUR),
    ...overrides,
  };
}

function isBlacklistSource(store: Store): store is Store & BlacklistSource {
  return typeof (store as Partial<BlacklistSource>).listBlacklisted === 'function';
}

/** Registers the contract's `describe` blocks for one backend. */
export function runStoreContract(name: string, open: () => Promise<Store>, options: StoreContractOptions = {}): void {
  const concurrency = options.concurrency ?? 20;

  describe(`${name} store contract`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await store.close();
      await options.cleanup?.();
    });

    const newUser = (username = `user-${randomUUID().slice(0, 8)}`, email = '') =>
      store.createUser({ username, email, passwordHash: 'pbkdf2_sha256$1$salt$hash' });

    describe('users', () => {
      it('creates a user with defaults filled in', async () => {
        const before = Date.now();
        const user = await store.createUser({ username: 'alice', passwordHash: '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA' });
        const after = Date.now();

        expect(typeof user.id).toBe('string');
        expect(user.id).not.toBe('');
        expect(user).toMatchObject({
          username: 'alice',
          email: '',
          passwordHash: '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA',
          isActive: true,
          isStaff: false,
          lastLogin: null,
        });
        expect(user.dateJoined).toBeInstanceOf(Date);
        expect(user.dateJoined.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(user.dateJoined.getTime()).toBeLessThanOrEqual(after + 1000);
        expect(user.tokenVersion).toMatch(/^[0-9a-f]{32}$/);
        expect(await store.findUser('id', user.id)).toEqual(user);
      });

      it('keeps the given email, isActive and isStaff', async () => {
        const user = await store.createUser({
          username: 'staff',
          email: 'staff@example.com',
          passwordHash: '',
          isActive: false,
          isStaff: true,
        });
        expect(user).toMatchObject({ email: 'staff@example.com', passwordHash: '', isActive: false, isStaff: true });
        expect(await store.findUser('id', user.id)).toEqual(user);
      });

      it('gives each user its own id and tokenVersion', async () => {
        const a = await newUser('a');
        const b = await newUser('b');
        expect(a.id).not.toBe(b.id);
        expect(a.tokenVersion).not.toBe(b.tokenVersion);
      });

      it('rejects a duplicate username with UserExistsError and stays usable', async () => {
        await newUser('bob');
        const error = await store.createUser({ username: 'bob', passwordHash: 'x' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UserExistsError);
        expect(error).toMatchObject({ code: 'user_exists', username: 'bob' });
        expect(await store.listUsers()).toHaveLength(1);
        await expect(newUser('bobby')).resolves.toMatchObject({ username: 'bobby' });
      });

      it('lets exactly one of several concurrent creations of one username succeed', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: concurrency }, () => store.createUser({ username: 'racer', passwordHash: 'x' })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(UserExistsError);
        }
        expect(await store.listUsers()).toHaveLength(1);
      });

      it('finds users by id, username and email', async () => {
        const carol = await newUser('carol', 'carol@example.com');
        await newUser('dave', 'dave@example.com');

        expect(await store.findUser('id', carol.id)).toEqual(carol);
        expect(await store.findUser('username', 'carol')).toEqual(carol);
        expect(await store.findUser('email', 'carol@example.com')).toEqual(carol);
      });

      it('returns null for unknown values', async () => {
        const erin = await newUser('erin', 'erin@example.com');
        expect(await store.findUser('id', `${erin.id}0`)).toBeNull();
        expect(await store.findUser('id', 'not-an-id')).toBeNull();
        expect(await store.findUser('id', '')).toBeNull();
        expect(await store.findUser('username', 'nobody')).toBeNull();
        expect(await store.findUser('email', 'nobody@example.com')).toBeNull();
        // An empty email is "no email", not a key to the first user without one.
        expect(await store.findUser('email', 'other@example.com')).toBeNull();
      });

      it('returns the oldest user when several share an email', async () => {
        const first = await newUser('first', 'shared@example.com');
        await newUser('second', 'shared@example.com');
        expect(await store.findUser('email', 'shared@example.com')).toEqual(first);
      });

      it('compares usernames case-sensitively', async () => {
        const upper = await newUser('Frank');
        expect(await store.findUser('username', 'frank')).toBeNull();
        expect(await store.findUser('username', 'FRANK')).toBeNull();
        const lower = await newUser('frank');
        expect(lower.id).not.toBe(upper.id);
        expect(await store.findUser('username', 'Frank')).toEqual(upper);
        expect(await store.findUser('username', 'frank')).toEqual(lower);
      });

      it('setPassword changes the hash and the tokenVersion', async () => {
        const user = await newUser('grace');
        await store.setPassword(user.id, 'new-hash');
        const after = await store.findUser('id', user.id);
        expect(after?.passwordHash).toBe('new-hash');
        expect(after?.tokenVersion).toMatch(/^[0-9a-f]{32}$/);
        expect(after?.tokenVersion).not.toBe(user.tokenVersion);
      });

      it('updatePasswordHash changes the hash but keeps the tokenVersion', async () => {
        const user = await newUser('heidi');
        await store.updatePasswordHash(user.id, 'rehashed');
        const after = await store.findUser('id', user.id);
        expect(after?.passwordHash).toBe('rehashed');
        expect(after?.tokenVersion).toBe(user.tokenVersion);
      });

      it('setActive(false) deactivates and renews the tokenVersion; setActive(true) reactivates', async () => {
        const user = await newUser('ivan');
        await store.setActive(user.id, false);
        const inactive = await store.findUser('id', user.id);
        expect(inactive?.isActive).toBe(false);
        expect(inactive?.tokenVersion).not.toBe(user.tokenVersion);

        await store.setActive(user.id, true);
        const active = await store.findUser('id', user.id);
        expect(active?.isActive).toBe(true);
        expect(active?.tokenVersion).toBe(inactive?.tokenVersion);
      });

      it('changes only the user it is given', async () => {
        const judy = await newUser('judy');
        const ken = await newUser('ken');
        await store.setPassword(judy.id, 'changed');
        await store.setActive(judy.id, false);
        await store.updateLastLogin(judy.id, new Date());
        expect(await store.findUser('id', ken.id)).toEqual(ken);
      });

      it('ignores updates for unknown ids', async () => {
        const user = await newUser('leo');
        for (const id of ['999999', 'nope']) {
          await store.setPassword(id, 'x');
          await store.updatePasswordHash(id, 'x');
          await store.setActive(id, false);
          await store.updateLastLogin(id, new Date());
        }
        expect(await store.listUsers()).toEqual([user]);
      });

      it('records the last login to the millisecond', async () => {
        const user = await newUser('mallory');
        const at = new Date('2024-05-06T07:08:09.123Z');
        await store.updateLastLogin(user.id, at);
        expect((await store.findUser('id', user.id))?.lastLogin).toEqual(at);
        const later = new Date('2024-05-07T00:00:00.001Z');
        await store.updateLastLogin(user.id, later);
        expect((await store.findUser('username', 'mallory'))?.lastLogin).toEqual(later);
      });

      it('lists users in creation order, with limit and offset', async () => {
        const created = [];
        for (const n of ['u1', 'u2', 'u3', 'u4', 'u5']) created.push(await newUser(n));

        expect(await store.listUsers()).toEqual(created);
        expect(await store.listUsers({})).toEqual(created);
        expect(await store.listUsers({ limit: 2 })).toEqual(created.slice(0, 2));
        expect(await store.listUsers({ limit: 2, offset: 1 })).toEqual(created.slice(1, 3));
        expect(await store.listUsers({ offset: 3 })).toEqual(created.slice(3));
        expect(await store.listUsers({ offset: 10 })).toEqual([]);
        expect(await store.listUsers({ limit: 0 })).toEqual([]);
      });

      it('returns copies: mutating a result does not change the store', async () => {
        const user = await newUser('niaj');
        const copy = structuredClone(user);
        user.username = 'changed';
        user.dateJoined.setTime(0);
        const found = await store.findUser('id', user.id);
        expect(found).toEqual(copy);
        if (found) found.isActive = false;
        expect((await store.findUser('id', user.id))?.isActive).toBe(true);
      });
    });

    describe('tokens', () => {
      it('starts empty', async () => {
        expect(await store.countTokens()).toEqual({ outstanding: 0, blacklisted: 0 });
      });

      it('records an outstanding token once; recording it again is a no-op', async () => {
        const user = await newUser();
        const token = makeToken({ userId: user.id, familyId: 'family-1' });
        await store.recordOutstanding(token);
        await store.recordOutstanding(token);
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });

        // The second record does not overwrite the first: its past expiry would make the row flushable.
        await store.recordOutstanding({ ...token, expiresAt: new Date(Date.now() - HOUR) });
        expect(await store.flushExpired(new Date())).toBe(0);
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
      });

      it('records tokens of both kinds, with and without a user', async () => {
        const user = await newUser();
        await store.recordOutstanding(makeToken({ userId: user.id, tokenType: 'refresh' }));
        await store.recordOutstanding(makeToken({ userId: user.id, tokenType: 'sliding' }));
        await store.recordOutstanding(makeToken({ userId: null }));
        expect(await store.countTokens()).toEqual({ outstanding: 3, blacklisted: 0 });
      });

      it('accepts a token whose user does not exist (recorded without a user, as simplejwt does)', async () => {
        const ghost = makeToken({ userId: '424242' });
        await store.recordOutstanding(ghost);
        expect(await store.blacklist(makeToken({ userId: '424243' }))).toBe('blacklisted');
        expect(await store.rotate(makeToken({ userId: '424244' }), makeToken({ userId: '424244' }))).toBe('rotated');
        expect(await store.countTokens()).toEqual({ outstanding: 4, blacklisted: 2 });
      });

      it('isBlacklisted is false for unknown and for recorded tokens, true once blacklisted', async () => {
        const token = makeToken();
        expect(await store.isBlacklisted(token.jti)).toBe(false);
        await store.recordOutstanding(token);
        expect(await store.isBlacklisted(token.jti)).toBe(false);
        expect(await store.blacklist(token)).toBe('blacklisted');
        expect(await store.isBlacklisted(token.jti)).toBe(true);
        expect(await store.isBlacklisted(makeToken().jti)).toBe(false);
      });

      it('blacklisting twice reports already_blacklisted the second time', async () => {
        const token = makeToken();
        await store.recordOutstanding(token);
        expect(await store.blacklist(token)).toBe('blacklisted');
        expect(await store.blacklist(token)).toBe('already_blacklisted');
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
      });

      it('blacklisting an unrecorded token records it', async () => {
        const user = await newUser();
        const token = makeToken({ userId: user.id });
        expect(await store.blacklist(token)).toBe('blacklisted');
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
        expect(await store.isBlacklisted(token.jti)).toBe(true);
      });

      it('rotate blacklists the presented token and records the successor', async () => {
        const user = await newUser();
        const presented = makeToken({ userId: user.id, familyId: 'fam' });
        const successor = makeToken({ userId: user.id, familyId: 'fam' });
        await store.recordOutstanding(presented);

        expect(await store.rotate(presented, successor)).toBe('rotated');
        expect(await store.isBlacklisted(presented.jti)).toBe(true);
        expect(await store.isBlacklisted(successor.jti)).toBe(false);
        expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });

        // The successor is a live outstanding token: it can be rotated in turn.
        const third = makeToken({ userId: user.id, familyId: 'fam' });
        expect(await store.rotate(successor, third)).toBe('rotated');
        expect(await store.countTokens()).toEqual({ outstanding: 3, blacklisted: 2 });
      });

      it('rotate records the presented token when it was not recorded', async () => {
        const presented = makeToken();
        const successor = makeToken();
        expect(await store.rotate(presented, successor)).toBe('rotated');
        expect(await store.isBlacklisted(presented.jti)).toBe(true);
        expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
      });

      it('rotate of an already blacklisted token reports already_blacklisted and records no successor', async () => {
        const presented = makeToken();
        expect(await store.blacklist(presented)).toBe('blacklisted');
        const successor = makeToken();

        expect(await store.rotate(presented, successor)).toBe('already_blacklisted');
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
        expect(await store.isBlacklisted(successor.jti)).toBe(false);
        // Reusing the same presented token again still fails (refresh token reuse).
        expect(await store.rotate(presented, makeToken())).toBe('already_blacklisted');
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
      });

      it(`of ${concurrency} concurrent rotations of one token exactly one wins and one successor is recorded`, async () => {
        const user = await newUser();
        const presented = makeToken({ userId: user.id, familyId: 'fam' });
        await store.recordOutstanding(presented);
        const successors = Array.from({ length: concurrency }, () => makeToken({ userId: user.id, familyId: 'fam' }));

        const results = await Promise.all(successors.map((s) => store.rotate(presented, s)));

        expect(results.filter((r) => r === 'rotated')).toHaveLength(1);
        expect(results.filter((r) => r === 'already_blacklisted')).toHaveLength(concurrency - 1);
        expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
        // The recorded successor is the winner's: rotating it works, the losers' were never recorded.
        const winner = successors[results.indexOf('rotated')];
        expect(winner).toBeDefined();
        if (winner) expect(await store.rotate(winner, makeToken())).toBe('rotated');
      });

      it(`of ${concurrency} concurrent rotations of an unrecorded token exactly one wins`, async () => {
        const presented = makeToken();
        const results = await Promise.all(Array.from({ length: concurrency }, () => store.rotate(presented, makeToken())));
        expect(results.filter((r) => r === 'rotated')).toHaveLength(1);
        expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
      });

      it(`of ${concurrency} concurrent blacklists of one token exactly one reports blacklisted`, async () => {
        const token = makeToken();
        const results = await Promise.all(Array.from({ length: concurrency }, () => store.blacklist(token)));
        expect(results.filter((r) => r === 'blacklisted')).toHaveLength(1);
        expect(results.filter((r) => r === 'already_blacklisted')).toHaveLength(concurrency - 1);
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
      });

      it('concurrent blacklist and rotate of one token: exactly one succeeds', async () => {
        const presented = makeToken();
        const results = await Promise.all([
          store.blacklist(presented),
          store.rotate(presented, makeToken()),
          store.blacklist(presented),
          store.rotate(presented, makeToken()),
        ]);
        expect(results.filter((r) => r === 'blacklisted' || r === 'rotated')).toHaveLength(1);
        const { blacklisted, outstanding } = await store.countTokens();
        expect(blacklisted).toBe(1);
        expect(outstanding).toBe(results.includes('rotated') ? 2 : 1);
      });
    });

    describe('families and bulk revocation', () => {
      const fam = () => `fam-${randomUUID().slice(0, 8)}`;

      it('findOutstanding returns null for unknown jtis and the row with its state otherwise', async () => {
        expect(await store.findOutstanding('nope')).toBeNull();
        const user = await newUser();
        const family = fam();
        const token = makeToken({ userId: user.id, familyId: family, createdAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 123)) });
        await store.recordOutstanding(token);
        const found = await store.findOutstanding(token.jti);
        expect(found).toEqual({ ...token, blacklistedAt: null, replacedBy: null });
        await store.blacklist(token);
        const after = await store.findOutstanding(token.jti);
        expect(after?.blacklistedAt).toBeInstanceOf(Date);
        expect(after?.replacedBy).toBeNull();
      });

      it('rotate records replacedBy on the presented row; a losing rotate leaves it unchanged', async () => {
        const family = fam();
        const presented = makeToken({ familyId: family });
        const successor = makeToken({ familyId: family });
        await store.recordOutstanding(presented);
        expect(await store.rotate(presented, successor)).toBe('rotated');
        expect((await store.findOutstanding(presented.jti))?.replacedBy).toBe(successor.jti);
        expect((await store.findOutstanding(successor.jti))).toMatchObject({ familyId: family, blacklistedAt: null, replacedBy: null });
        expect(await store.rotate(presented, makeToken({ familyId: family }))).toBe('already_blacklisted');
        expect((await store.findOutstanding(presented.jti))?.replacedBy).toBe(successor.jti);
      });

      it('revokeFamily blacklists every live token of the family (the current successor too) and nothing else', async () => {
        const family = fam();
        const other = makeToken({ familyId: fam() });
        await store.recordOutstanding(other);
        const first = makeToken({ familyId: family });
        const second = makeToken({ familyId: family });
        const third = makeToken({ familyId: family });
        await store.recordOutstanding(first);
        expect(await store.rotate(first, second)).toBe('rotated');
        expect(await store.rotate(second, third)).toBe('rotated');

        expect(await store.revokeFamily(family)).toBe(1);
        expect(await store.isBlacklisted(third.jti)).toBe(true);
        expect(await store.isBlacklisted(other.jti)).toBe(false);
        expect(await store.revokeFamily(family)).toBe(0);
        expect(await store.revokeFamily('no-such-family')).toBe(0);
        expect(await store.countTokens()).toEqual({ outstanding: 4, blacklisted: 3 });
      });

      it('rotate after revokeFamily reports already_blacklisted and records no successor', async () => {
        const family = fam();
        const token = makeToken({ familyId: family });
        await store.recordOutstanding(token);
        expect(await store.revokeFamily(family)).toBe(1);
        const successor = makeToken({ familyId: family });
        expect(await store.rotate(token, successor)).toBe('already_blacklisted');
        expect(await store.findOutstanding(successor.jti)).toBeNull();
        expect(await store.countTokens()).toEqual({ outstanding: 1, blacklisted: 1 });
      });

      it(`revokeFamily racing ${concurrency} rotations of the current token leaves no live token in the family`, async () => {
        const family = fam();
        const token = makeToken({ familyId: family });
        await store.recordOutstanding(token);
        const successors = Array.from({ length: concurrency }, () => makeToken({ familyId: family }));
        const [revoked, ...results] = await Promise.all([store.revokeFamily(family), ...successors.map((s) => store.rotate(token, s))]);
        const won = results.filter((r) => r === 'rotated').length;
        expect(won).toBeLessThanOrEqual(1);
        for (const s of successors) {
          const row = await store.findOutstanding(s.jti);
          if (row !== null) expect(row.blacklistedAt).not.toBeNull();
        }
        expect(await store.isBlacklisted(token.jti)).toBe(true);
        expect(typeof revoked).toBe('number');
        expect(await store.countTokens()).toEqual({ outstanding: 1 + won, blacklisted: 1 + won });
      });

      it('revokeUser blacklists every live token of the user, across families, and no other user\'s', async () => {
        const alice = await newUser();
        const bob = await newUser();
        const a1 = makeToken({ userId: alice.id, familyId: fam() });
        const a2 = makeToken({ userId: alice.id, familyId: fam(), tokenType: 'sliding' });
        const a3 = makeToken({ userId: alice.id, familyId: fam() });
        const b1 = makeToken({ userId: bob.id, familyId: fam() });
        for (const t of [a1, a2, a3, b1]) await store.recordOutstanding(t);
        await store.blacklist(a3);

        expect(await store.revokeUser(alice.id)).toBe(2);
        expect(await store.isBlacklisted(a1.jti)).toBe(true);
        expect(await store.isBlacklisted(a2.jti)).toBe(true);
        expect(await store.isBlacklisted(b1.jti)).toBe(false);
        expect(await store.revokeUser(alice.id)).toBe(0);
        expect(await store.revokeUser('999999')).toBe(0);
        expect(await store.revokeUser('not-an-id')).toBe(0);
        expect(await store.countTokens()).toEqual({ outstanding: 4, blacklisted: 3 });
      });

      it('renewTokenVersion changes only the tokenVersion', async () => {
        const user = await newUser();
        await store.renewTokenVersion(user.id);
        const after = await store.findUser('id', user.id);
        expect(after?.tokenVersion).not.toBe(user.tokenVersion);
        expect(after?.passwordHash).toBe(user.passwordHash);
        expect(after?.isActive).toBe(true);
        await store.renewTokenVersion('999999');
      });
    });

    describe('revoked access tokens', () => {
      it('revokeAccess is idempotent; isAccessRevoked answers per jti; countTokens does not count them', async () => {
        expect(await store.isAccessRevoked('a1')).toBe(false);
        const exp = new Date(Date.now() + HOUR);
        await store.revokeAccess('a1', exp);
        await store.revokeAccess('a1', exp);
        expect(await store.isAccessRevoked('a1')).toBe(true);
        expect(await store.isAccessRevoked('a2')).toBe(false);
        // Not a refresh-token blacklist entry.
        expect(await store.isBlacklisted('a1')).toBe(false);
        expect(await store.countTokens()).toEqual({ outstanding: 0, blacklisted: 0 });
      });

      it('flushExpired removes expired revocations only', async () => {
        const now = new Date('2030-01-01T00:00:00.000Z');
        await store.revokeAccess('old', new Date(now.getTime() - 1000));
        await store.revokeAccess('live', new Date(now.getTime() + 1000));
        await store.flushExpired(now);
        expect(await store.isAccessRevoked('old')).toBe(false);
        expect(await store.isAccessRevoked('live')).toBe(true);
      });
    });

    describe('flushExpired', () => {
      it('removes only tokens that expired before now, with their blacklist rows, in batches', async () => {
        const now = new Date('2030-01-01T00:00:00.000Z');
        const t = now.getTime();
        const user = await newUser();

        const expired: OutstandingToken[] = [];
        for (let i = 0; i < 25; i++) {
          const token = makeToken({ userId: i % 2 ? user.id : null, createdAt: new Date(t - 2 * HOUR), expiresAt: new Date(t - 1 - i) });
          expired.push(token);
          if (i % 3 === 0) await store.blacklist(token);
          else await store.recordOutstanding(token);
        }
        const live = makeToken({ createdAt: new Date(t - HOUR), expiresAt: new Date(t + HOUR) });
        const liveBlacklisted = makeToken({ createdAt: new Date(t - HOUR), expiresAt: new Date(t + 1) });
        const boundary = makeToken({ createdAt: new Date(t - HOUR), expiresAt: now }); // not *before* now
        await store.recordOutstanding(live);
        await store.blacklist(liveBlacklisted);
        await store.recordOutstanding(boundary);
        expect(await store.countTokens()).toEqual({ outstanding: 28, blacklisted: 10 });

        const progress: number[] = [];
        const deleted = await store.flushExpired(now, { batchSize: 10, onProgress: (p) => progress.push(p.deleted) });

        expect(deleted).toBe(25);
        expect(await store.countTokens()).toEqual({ outstanding: 3, blacklisted: 1 });
        expect(progress.length).toBeGreaterThanOrEqual(3);
        expect(progress.at(-1)).toBe(25);
        progress.forEach((value, i) => {
          const step = value - (i === 0 ? 0 : (progress[i - 1] ?? 0));
          expect(step).toBeGreaterThan(0);
          expect(step).toBeLessThanOrEqual(10);
        });

        expect(await store.isBlacklisted(liveBlacklisted.jti)).toBe(true);
        for (const token of expired) expect(await store.isBlacklisted(token.jti)).toBe(false);
        // The survivors still behave: the live token rotates, the boundary one was kept.
        expect(await store.rotate(live, makeToken())).toBe('rotated');
        expect(await store.rotate(boundary, makeToken())).toBe('rotated');
      });

      it('returns 0 and deletes nothing when nothing has expired', async () => {
        await store.recordOutstanding(makeToken());
        await store.blacklist(makeToken());
        expect(await store.flushExpired(new Date())).toBe(0);
        expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
      });

      it('uses a default batch size and handles an exact multiple of the batch size', async () => {
        const now = new Date();
        for (let i = 0; i < 20; i++) {
          await store.recordOutstanding(makeToken({ createdAt: new Date(now.getTime() - HOUR), expiresAt: new Date(now.getTime() - 1) }));
        }
        const progress: number[] = [];
        expect(await store.flushExpired(now, { batchSize: 10, onProgress: (p) => progress.push(p.deleted) })).toBe(20);
        expect(progress.at(-1)).toBe(20);
        expect(await store.countTokens()).toEqual({ outstanding: 0, blacklisted: 0 });

        await store.recordOutstanding(makeToken({ createdAt: new Date(now.getTime() - HOUR), expiresAt: new Date(now.getTime() - 1) }));
        expect(await store.flushExpired(now)).toBe(1);
      });

      it('rejects a batch size that is not a positive integer', async () => {
        await expect(store.flushExpired(new Date(), { batchSize: 0 })).rejects.toThrow(RangeError);
        await expect(store.flushExpired(new Date(), { batchSize: 1.5 })).rejects.toThrow(RangeError);
      });
    });

    describe('listBlacklisted (optional: stores a revocation cache can load)', () => {
      it('pages through the blacklisted tokens only, filtered by expiry', async () => {
        if (!isBlacklistSource(store)) return;
        const t = Date.now();
        const revoked = [1, 2, 3, 4, 5].map((h) => makeToken({ expiresAt: new Date(t + h * HOUR) }));
        for (const token of revoked) await store.blacklist(token);
        await store.recordOutstanding(makeToken());
        await store.rotate(makeToken({ expiresAt: new Date(t - HOUR) }), makeToken());

        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: BlacklistPage = await store.listBlacklisted({ cursor, limit: 2, expiresAfter: new Date(t) });
          expect(page.entries.length).toBeLessThanOrEqual(2);
          for (const entry of page.entries) {
            seen.push(entry.jti);
            expect(entry.expiresAt).toEqual(revoked.find((r) => r.jti === entry.jti)?.expiresAt);
          }
          cursor = page.next;
          pages++;
        } while (cursor !== null && pages < 10);
        expect(seen).toEqual(revoked.map((r) => r.jti));

        const all = await store.listBlacklisted({ limit: 100 });
        expect(all.entries).toHaveLength(6);
        expect(all.next).toBeNull();
        const expired = await store.listBlacklisted({ expiresBefore: new Date(t) });
        expect(expired.entries).toHaveLength(1);
        const window = await store.listBlacklisted({ expiresAfter: new Date(t + 1.5 * HOUR), expiresBefore: new Date(t + 3.5 * HOUR) });
        expect(window.entries.map((e) => e.jti)).toEqual([revoked[1]?.jti, revoked[2]?.jti]);
      });
    });

    describe('lifecycle', () => {
      it('migrate is idempotent: a second run applies nothing', async () => {
        await store.migrate();
        expect(await store.migrate()).toEqual([]);
        // The store still works after migrating again.
        await store.recordOutstanding(makeToken());
        expect((await store.countTokens()).outstanding).toBe(1);
      });

      it('ping resolves while open', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('after close, calls reject with StoreUnavailableError; close is idempotent', async () => {
        await store.close();
        await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.isBlacklisted('x')).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}
