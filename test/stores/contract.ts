/**
 * The storage contract suite. Every backend runs it from its own test file:
 *
 *     runStoreContract('sqlite', () => openSqliteStore({ filename: freshFile() }));
 *
 * `open` must return a fresh, empty, migrated store for each test; the suite closes it afterwards.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { StoreUnavailableError, UserExistsError } from '../../packages/core/src/store/errors.js';
import { hasAudit, hasFactors, hasIdentities, hasSessions, immediateUserLookup } from '../../packages/core/src/store/capabilities.js';
import type { AuditEvent, AuditEventType, AuditPage, AuditStore, BlacklistPage, FactorKind, FactorStore, NewFactor, BlacklistSource, IdentityStore, OneTimeStore, OutstandingToken, SessionStore, SessionUse, Store } from '../../packages/core/src/store/types.js';

/** Knobs for backends whose limits differ; the defaults are what every backend should meet. */
export interface StoreContractOptions {
  /** Number of simultaneous `rotate`/`blacklist` calls in the race tests. Default 20. */
  concurrency?: number;
  /** Called after each test's store is closed (drop a schema, delete a file). */
  cleanup?: () => Promise<void> | void;
  /**
   * Whether the store must have the optional session, identity and one-time capabilities (`hasSessions`,
   * `hasIdentities`). Default true; their tests are skipped on a store without them.
   */
  capabilities?: boolean;
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

      it('findUserNow (the immediateUsers capability) answers what findUser answers, without a promise, through changes and after close', async (ctx) => {
        const now = immediateUserLookup(store);
        if (now === undefined) return ctx.skip('the store answers user lookups through promises only');
        const nina = await newUser('nina', 'nina@example.com');
        const lookups = [['id', nina.id], ['username', 'nina'], ['email', 'nina@example.com'], ['id', 'not-an-id'], ['id', `${nina.id}0`], ['username', 'nobody']] as const;
        for (const [field, value] of lookups) {
          const answer = now(field, value);
          expect(answer).not.toBeInstanceOf(Promise);
          expect(answer).toEqual(await store.findUser(field, value));
        }
        now('id', nina.id); // cached now, where the store caches
        await store.setActive(nina.id, false);
        expect(now('id', nina.id)?.isActive).toBe(false);
        await store.setPassword(nina.id, 'changed');
        expect(now('id', nina.id)).toEqual(await store.findUser('id', nina.id));
        expect(now('id', nina.id)?.passwordHash).toBe('changed');
        // Each answer is the caller's own: changing it changes nothing in the store.
        const mine = now('id', nina.id)!;
        mine.username = 'mallory';
        mine.dateJoined.setTime(0);
        expect(now('id', nina.id)).toMatchObject({ username: 'nina', dateJoined: nina.dateJoined });
        await store.close();
        expect(() => now('id', nina.id)).toThrow(StoreUnavailableError);
        await expect(store.findUser('id', nina.id)).rejects.toThrow(StoreUnavailableError);
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

      it('rotate with inheritFamily puts the successor in the family recorded for the presented token', async () => {
        const family = fam();
        const presented = makeToken({ familyId: family });
        await store.recordOutstanding(presented);
        // The caller's guesses (the presented token's own jti, another family for the successor) lose to the record.
        const successor = makeToken({ familyId: 'ignored' });
        expect(await store.rotate({ ...presented, familyId: presented.jti }, successor, { inheritFamily: true })).toBe('rotated');
        expect(await store.findOutstanding(successor.jti)).toMatchObject({ familyId: family, blacklistedAt: null });
        expect((await store.findOutstanding(presented.jti))?.replacedBy).toBe(successor.jti);
        // The next rotation inherits it again, so revoking the family reaches the whole chain.
        const third = makeToken();
        expect(await store.rotate({ ...successor, familyId: null }, third, { inheritFamily: true })).toBe('rotated');
        expect(await store.findOutstanding(third.jti)).toMatchObject({ familyId: family });
        expect(await store.revokeFamily(family)).toBe(1);
        expect(await store.isBlacklisted(third.jti)).toBe(true);
      });

      it('rotate with inheritFamily of an unrecorded token uses its familyId, else its jti; a loser records nothing', async () => {
        const withFamily = makeToken({ familyId: fam() });
        const first = makeToken({ familyId: 'ignored' });
        expect(await store.rotate(withFamily, first, { inheritFamily: true })).toBe('rotated');
        expect(await store.findOutstanding(withFamily.jti)).toMatchObject({ familyId: withFamily.familyId, replacedBy: first.jti });
        expect(await store.findOutstanding(first.jti)).toMatchObject({ familyId: withFamily.familyId });

        const bare = makeToken();
        const second = makeToken();
        expect(await store.rotate(bare, second, { inheritFamily: true })).toBe('rotated');
        expect(await store.findOutstanding(second.jti)).toMatchObject({ familyId: bare.jti });
        expect((await store.findOutstanding(bare.jti))?.replacedBy).toBe(second.jti);

        const late = makeToken();
        expect(await store.rotate(bare, late, { inheritFamily: true })).toBe('already_blacklisted');
        expect(await store.findOutstanding(late.jti)).toBeNull();
        expect((await store.findOutstanding(bare.jti))?.replacedBy).toBe(second.jti);
      });

      it(`of ${concurrency} concurrent rotations with inheritFamily one wins, and only its successor joins the family`, async () => {
        const family = fam();
        const presented = makeToken({ familyId: family });
        await store.recordOutstanding(presented);
        const successors = Array.from({ length: concurrency }, () => makeToken());
        const results = await Promise.all(successors.map((s) => store.rotate({ ...presented, familyId: null }, s, { inheritFamily: true })));
        expect(results.filter((r) => r === 'rotated')).toHaveLength(1);
        const winner = successors[results.indexOf('rotated')] as OutstandingToken;
        expect(await store.findOutstanding(winner.jti)).toMatchObject({ familyId: family, blacklistedAt: null });
        for (const s of successors) if (s !== winner) expect(await store.findOutstanding(s.jti)).toBeNull();
        expect((await store.findOutstanding(presented.jti))?.replacedBy).toBe(winner.jti);
        expect(await store.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });
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

    describe('optional capabilities: sessions, token listings, identities, one-time values', () => {
      const expected = options.capabilities ?? true;
      const at = (offsetMs: number, base = Date.now()) => new Date(base + offsetMs);
      const use = (familyId: string, when: Date, clientAddress: string | null = '203.0.113.5', userAgent: string | null = 'Agent/1.0'): SessionUse => ({
        familyId,
        at: when,
        clientAddress,
        userAgent,
      });
      /** The store as a session store, or the test is skipped. */
      const sessions = (ctx: TestContext): Store & SessionStore => {
        if (!hasSessions(store)) ctx.skip();
        return store as Store & SessionStore;
      };
      const identities = (ctx: TestContext): Store & IdentityStore & OneTimeStore => {
        if (!hasIdentities(store)) ctx.skip();
        return store as Store & IdentityStore & OneTimeStore;
      };
      /**
       * A login as the core records it: the first token (its jti is the family id), then the session. The token lives
       * until an hour from now unless told otherwise.
       */
      const login = async (s: Store & SessionStore, userId: string, when: Date, token: Partial<OutstandingToken> = {}) => {
        const first = makeToken({ userId, createdAt: when, expiresAt: at(HOUR), ...token });
        first.familyId = first.jti;
        await s.recordOutstanding(first);
        await s.recordSession(userId, use(first.jti, when));
        return first;
      };

      /** A session logged in at `t0` by {@link login}, refreshed at `t1` from 198.51.100.7 without a user agent (so the login's stays). */
      const refreshedSession = (familyId: string, t0: Date, t1: Date, expiresAt: Date) => ({
        familyId,
        createdAt: t0,
        lastUsedAt: t1,
        clientAddress: '198.51.100.7',
        userAgent: 'Agent/1.0',
        expiresAt,
        active: true,
      });

      it(`the store ${expected ? 'has' : 'does not have'} them`, () => {
        expect(hasSessions(store)).toBe(expected);
        expect(hasIdentities(store)).toBe(expected);
      });

      describe('sessions', () => {
        it('records a session at login (once), touches it at each refresh, and knows its owner', async (ctx) => {
          const s = sessions(ctx);
          const user = await newUser();
          const t0 = at(-10 * 60_000);
          const first = await login(s, user.id, t0);
          const family = first.jti;
          // A second record of the family changes nothing.
          await s.recordSession(user.id, use(family, at(60_000, t0.getTime()), '192.0.2.1', 'Other/2'));
          expect(await s.listSessions(user.id)).toEqual([
            {
              familyId: family,
              userId: user.id,
              createdAt: t0,
              lastUsedAt: t0,
              clientAddress: '203.0.113.5',
              userAgent: 'Agent/1.0',
              expiresAt: first.expiresAt,
              active: true,
            },
          ]);
          expect(await s.sessionOwner(family)).toBe(user.id);
          expect(await s.sessionOwner('no-such-family')).toBeNull();

          // A refresh: rotation, then the touch. The family now expires with its newest token.
          const t1 = at(5 * 60_000, t0.getTime());
          const second = makeToken({ userId: user.id, familyId: family, createdAt: t1, expiresAt: at(2 * HOUR) });
          expect(await s.rotate(first, second)).toBe('rotated');
          await s.touchSession(use(family, t1, '198.51.100.7', null));
          const [touched] = await s.listSessions(user.id);
          expect(touched).toMatchObject(refreshedSession(family, t0, t1, second.expiresAt));

          // A touch older than the recorded use (refreshes arriving out of order) and one of an unknown family: no-ops.
          await s.touchSession(use(family, at(-1, t1.getTime()), '192.0.2.99', 'Stale/0'));
          await s.touchSession(use('no-such-family', t1));
          expect(await s.listSessions(user.id)).toEqual([touched]);
          expect(await s.listSessions(user.id, { includeEnded: true })).toEqual([touched]);
        });

        it('countLiveSessions counts every user\'s sessions with a live token: not the logged-out, the expired or a token without a session', async (ctx) => {
          const s = sessions(ctx);
          const [ann, ben] = [await newUser(), await newUser()];
          const base = await s.countLiveSessions();
          const t0 = at(-10 * 60_000);
          const a1 = await login(s, ann.id, t0);
          await login(s, ann.id, t0);
          const b1 = await login(s, ben.id, t0, { expiresAt: at(30 * 60_000) });
          await s.recordOutstanding(makeToken({ userId: ben.id, familyId: 'no-session-recorded' }));
          expect(await s.countLiveSessions()).toBe(base + 3);
          // A rotation keeps its session live (the successor is); a logout of the family ends it.
          expect(await s.rotate(a1, makeToken({ userId: ann.id, familyId: a1.jti }))).toBe('rotated');
          expect(await s.countLiveSessions()).toBe(base + 3);
          await s.revokeFamily(a1.jti);
          expect(await s.countLiveSessions()).toBe(base + 2);
          // Ben's token expires in 30 minutes: live now, not in 45.
          expect(await s.countLiveSessions({ now: at(45 * 60_000) })).toBe(base + 1);
          expect(b1.familyId).not.toBeNull();
        });

        it('rotate with requestUse touches the session in the same step; a losing rotation touches nothing', async (ctx) => {
          const s = sessions(ctx);
          const user = await newUser();
          const t0 = at(-10 * 60_000);
          const first = await login(s, user.id, t0);
          const t1 = at(5 * 60_000, t0.getTime());
          const second = makeToken({ userId: user.id, createdAt: t1, expiresAt: at(2 * HOUR) });
          const seen = { at: t1, clientAddress: '198.51.100.7', userAgent: null };
          expect(await s.rotate({ ...first, familyId: null }, second, { inheritFamily: true, requestUse: seen })).toBe('rotated');
          const [touched] = await s.listSessions(user.id);
          expect(touched).toMatchObject(refreshedSession(first.jti, t0, t1, second.expiresAt));

          // A replay of the first token loses: no successor, and the session keeps the winner's use.
          const replay = makeToken({ userId: user.id });
          const later = { at: at(60_000, t1.getTime()), clientAddress: '192.0.2.66', userAgent: 'Thief/1' };
          expect(await s.rotate(first, replay, { inheritFamily: true, requestUse: later })).toBe('already_blacklisted');
          expect(await s.listSessions(user.id)).toEqual([touched]);

          // A use older than the recorded one (refreshes finishing out of order) moves nothing back.
          const third = makeToken({ userId: user.id });
          const stale = { at: at(-1, t1.getTime()), clientAddress: '192.0.2.99', userAgent: 'Stale/0' };
          expect(await s.rotate(second, third, { inheritFamily: true, requestUse: stale })).toBe('rotated');
          expect((await s.listSessions(user.id))[0]).toMatchObject({ lastUsedAt: t1, clientAddress: '198.51.100.7', userAgent: 'Agent/1.0' });
        });

        it('a session of an unknown user is not recorded; an overlong user agent is clipped', async (ctx) => {
          const s = sessions(ctx);
          const token = makeToken();
          token.familyId = token.jti;
          await s.recordOutstanding(token);
          await s.recordSession('999999', use(token.jti, new Date()));
          expect(await s.sessionOwner(token.jti)).toBeNull();
          expect(await s.listSessions('999999', { includeEnded: true })).toEqual([]);

          const user = await newUser();
          const first = makeToken({ userId: user.id });
          first.familyId = first.jti;
          await s.recordOutstanding(first);
          await s.recordSession(user.id, use(first.jti, new Date(), null, 'x'.repeat(600)));
          const [session] = await s.listSessions(user.id);
          expect(session?.userAgent).toBe('x'.repeat(512));
          expect(session?.clientAddress).toBeNull();
        });

        it('lists only the user\'s sessions, newest login first; revoked or expired ones only with includeEnded', async (ctx) => {
          const s = sessions(ctx);
          const alice = await newUser();
          const bob = await newUser();
          const now = Date.now();
          // Rotated: the first token is blacklisted but its successor lives, so the session is active.
          const rotated = await login(s, alice.id, at(-4 * HOUR, now), { expiresAt: at(HOUR, now) });
          expect(await s.rotate(rotated, makeToken({ userId: alice.id, familyId: rotated.jti, createdAt: at(-HOUR, now), expiresAt: at(2 * HOUR, now) }))).toBe('rotated');
          const revoked = await login(s, alice.id, at(-3 * HOUR, now), { expiresAt: at(HOUR, now) });
          const expired = await login(s, alice.id, at(-2 * HOUR, now), { expiresAt: at(-HOUR, now) });
          const live = await login(s, alice.id, at(-HOUR, now), { expiresAt: at(HOUR, now) });
          await login(s, bob.id, at(-30 * 60_000, now), { expiresAt: at(HOUR, now) });
          expect(await s.revokeFamily(revoked.jti)).toBe(1);

          const active = await s.listSessions(alice.id, { now: new Date(now) });
          expect(active.map((x) => x.familyId)).toEqual([live.jti, rotated.jti]);
          expect(active.every((x) => x.active && x.userId === alice.id)).toBe(true);
          expect(active[1]?.expiresAt).toEqual(at(2 * HOUR, now));

          const all = await s.listSessions(alice.id, { includeEnded: true, now: new Date(now) });
          expect(all.map((x) => [x.familyId, x.active])).toEqual([
            [live.jti, true],
            [expired.jti, false],
            [revoked.jti, false],
            [rotated.jti, true],
          ]);
          expect(all.find((x) => x.familyId === expired.jti)?.expiresAt).toEqual(expired.expiresAt);
          expect(all.find((x) => x.familyId === revoked.jti)?.expiresAt).toEqual(revoked.expiresAt);

          // `now` decides expiry: an hour and a half later only the rotated family's successor still lives.
          const later = await s.listSessions(alice.id, { now: at(90 * 60_000, now) });
          expect(later.map((x) => x.familyId)).toEqual([rotated.jti]);
          // A token that expires exactly now has expired.
          expect(await s.listSessions(alice.id, { now: at(2 * HOUR, now) })).toEqual([]);
          expect(await s.listSessions('999999')).toEqual([]);
        });

        it('revokeUser ends every session of the user', async (ctx) => {
          const s = sessions(ctx);
          const user = await newUser();
          await login(s, user.id, at(-2000));
          await login(s, user.id, at(-1000));
          expect(await s.listSessions(user.id)).toHaveLength(2);
          expect(await s.revokeUser(user.id)).toBe(2);
          expect(await s.listSessions(user.id)).toEqual([]);
          expect((await s.listSessions(user.id, { includeEnded: true })).map((x) => x.active)).toEqual([false, false]);
        });

        it('flushExpired removes the sessions whose family has no token left, and only those', async (ctx) => {
          const s = sessions(ctx);
          const user = await newUser();
          const now = Date.now();
          const dead = await login(s, user.id, at(-3 * HOUR, now), { expiresAt: at(-2 * HOUR, now) });
          const live = await login(s, user.id, at(-2 * HOUR, now), { expiresAt: at(HOUR, now) });
          // Half flushed: its first token expired, its successor lives on.
          const mixed = await login(s, user.id, at(-HOUR, now), { expiresAt: at(-1, now) });
          expect(
            await s.rotate(mixed, makeToken({ userId: user.id, familyId: mixed.jti, createdAt: at(-30 * 60_000, now), expiresAt: at(HOUR, now) })),
          ).toBe('rotated');
          // Revoked but not yet expired: ended, yet its tokens remain, so the session stays listed until they expire.
          const revoked = await login(s, user.id, at(-30 * 60_000, now), { expiresAt: at(HOUR, now) });
          await s.revokeFamily(revoked.jti);

          expect(await s.flushExpired(new Date(now))).toBe(2);
          const left = await s.listSessions(user.id, { includeEnded: true, now: new Date(now) });
          expect(left.map((x) => [x.familyId, x.active])).toEqual([
            [revoked.jti, false],
            [mixed.jti, true],
            [live.jti, true],
          ]);
          expect(await s.sessionOwner(dead.jti)).toBeNull();
          expect(await s.sessionOwner(mixed.jti)).toBe(user.id);
        });
      });

      describe('token listings and user counts', () => {
        it('listTokens: newest first, with usernames, filtered by user and blacklist state, paged', async (ctx) => {
          const s = sessions(ctx);
          const alice = await newUser('alice-listing');
          const bob = await newUser('bob-listing');
          const now = Date.now();
          const a1 = makeToken({ userId: alice.id, familyId: 'fam-a', createdAt: at(-5 * 60_000, now) });
          const a2 = makeToken({ userId: alice.id, familyId: 'fam-a', createdAt: at(-4 * 60_000, now), tokenType: 'sliding' });
          const b1 = makeToken({ userId: bob.id, createdAt: at(-3 * 60_000, now) });
          const ghost = makeToken({ userId: null, createdAt: at(-2 * 60_000, now) });
          const a3 = makeToken({ userId: alice.id, createdAt: at(-60_000, now) });
          for (const token of [a3, b1, a1, ghost]) await s.recordOutstanding(token);
          expect(await s.rotate(a1, a2)).toBe('rotated');
          await s.blacklist(b1);

          const all = await s.listTokens();
          expect(all.map((t) => t.jti)).toEqual([a3.jti, ghost.jti, b1.jti, a2.jti, a1.jti]);
          expect(all.map((t) => t.username)).toEqual(['alice-listing', null, 'bob-listing', 'alice-listing', 'alice-listing']);
          const first = all[4];
          expect(first).toEqual({ ...a1, blacklistedAt: first?.blacklistedAt, replacedBy: a2.jti, username: 'alice-listing' });
          expect(first?.blacklistedAt).toBeInstanceOf(Date);
          expect(all[3]).toEqual({ ...a2, blacklistedAt: null, replacedBy: null, username: 'alice-listing' });

          expect((await s.listTokens({ userId: alice.id })).map((t) => t.jti)).toEqual([a3.jti, a2.jti, a1.jti]);
          expect((await s.listTokens({ blacklisted: true })).map((t) => t.jti)).toEqual([b1.jti, a1.jti]);
          expect((await s.listTokens({ blacklisted: false })).map((t) => t.jti)).toEqual([a3.jti, ghost.jti, a2.jti]);
          expect((await s.listTokens({ userId: alice.id, blacklisted: false })).map((t) => t.jti)).toEqual([a3.jti, a2.jti]);
          expect((await s.listTokens({ userId: bob.id, blacklisted: false }))).toEqual([]);
          expect((await s.listTokens({ limit: 2, offset: 1 })).map((t) => t.jti)).toEqual([ghost.jti, b1.jti]);
          expect((await s.listTokens({ offset: 4 })).map((t) => t.jti)).toEqual([a1.jti]);
          expect(await s.listTokens({ limit: 0 })).toEqual([]);
          expect(await s.listTokens({ userId: '999999' })).toEqual([]);
          expect(await s.listTokens({ userId: 'not-an-id' })).toEqual([]);
          // Above the maximum (1000) the limit is lowered, not refused.
          expect(await s.listTokens({ limit: 5000 })).toHaveLength(5);
          await expect(s.listTokens({ limit: -1 })).rejects.toThrow(RangeError);
          await expect(s.listTokens({ offset: 1.5 })).rejects.toThrow(RangeError);
        });

        it('listTokens returns 100 tokens unless told otherwise; ties in time keep the later record first', async (ctx) => {
          const s = sessions(ctx);
          const createdAt = new Date();
          const tokens = Array.from({ length: 101 }, () => makeToken({ createdAt }));
          for (const token of tokens) await s.recordOutstanding(token);
          const listed = await s.listTokens();
          expect(listed).toHaveLength(100);
          expect(listed.map((t) => t.jti)).toEqual(tokens.slice(1).reverse().map((t) => t.jti));
          expect(await s.listTokens({ limit: 200 })).toHaveLength(101);
        });

        it('countUsers counts every user', async (ctx) => {
          const s = sessions(ctx);
          expect(await s.countUsers()).toBe(0);
          await newUser();
          await newUser();
          await s.createUser({ username: 'inactive', passwordHash: '', isActive: false });
          expect(await s.countUsers()).toBe(3);
        });
      });

      describe('linked identities', () => {
        it('links, finds, touches, lists and unlinks, always for the owner only', async (ctx) => {
          const s = identities(ctx);
          const alice = await newUser();
          const bob = await newUser();
          const t0 = new Date('2030-01-01T00:00:00.123Z');
          const link = (userId: string, provider = 'github', subject = '12345', email: string | null = 'alice@example.com', when = t0) =>
            s.linkIdentity({ provider, subject, userId, email, at: when });

          expect(await s.findIdentity('github', '12345')).toBeNull();
          expect(await link(alice.id)).toBe('linked');
          const linked = { provider: 'github', subject: '12345', userId: alice.id, email: 'alice@example.com', createdAt: t0, lastUsedAt: t0 };
          expect(await s.findIdentity('github', '12345')).toEqual(linked);
          expect(await link(alice.id, 'github', '12345', 'other@example.com', at(1000, t0.getTime()))).toBe('already_linked');
          expect(await link(bob.id, 'github', '12345', 'bob@example.com')).toBe('linked_to_other_user');
          // Neither changed the row.
          expect(await s.findIdentity('github', '12345')).toEqual(linked);
          // The subject is per provider; providers and subjects compare exactly.
          expect(await link(bob.id, 'google', '12345', null)).toBe('linked');
          expect(await s.findIdentity('GitHub', '12345')).toBeNull();
          expect(await s.findIdentity('github', '12345 ')).toBeNull();
          expect(await link(alice.id, 'gitlab', 'a-subject', null)).toBe('linked');

          const t1 = new Date('2030-01-02T00:00:00.456Z');
          await s.touchIdentity('github', '12345', 'new@example.com', t1);
          expect(await s.findIdentity('github', '12345')).toEqual({ ...linked, email: 'new@example.com', lastUsedAt: t1 });
          await s.touchIdentity('gitlab', 'a-subject', null, t1);
          expect((await s.findIdentity('gitlab', 'a-subject'))?.email).toBeNull();
          await s.touchIdentity('github', 'unknown', 'x@example.com', t1);
          expect(await s.findIdentity('github', 'unknown')).toBeNull();

          expect((await s.listIdentities(alice.id)).map((i) => [i.provider, i.subject])).toEqual([
            ['github', '12345'],
            ['gitlab', 'a-subject'],
          ]);
          expect(await s.listIdentities(bob.id)).toEqual([{ provider: 'google', subject: '12345', userId: bob.id, email: null, createdAt: t0, lastUsedAt: t0 }]);
          expect(await s.listIdentities('999999')).toEqual([]);

          // Only the owner unlinks.
          expect(await s.unlinkIdentity(bob.id, 'github', '12345')).toBe('not_found');
          expect(await s.findIdentity('github', '12345')).not.toBeNull();
          expect(await s.unlinkIdentity(alice.id, 'github', '12345')).toBe('unlinked');
          expect(await s.unlinkIdentity(alice.id, 'github', '12345')).toBe('not_found');
          expect(await s.unlinkIdentity('999999', 'github', '12345')).toBe('not_found');
          expect(await s.unlinkIdentity('not-a-number', 'github', '12345')).toBe('not_found');
          expect(await s.findIdentity('github', '12345')).toBeNull();
          expect(await s.listIdentities(alice.id)).toHaveLength(1);
          // Free again: another user may link it now.
          expect(await link(bob.id)).toBe('linked');
          expect((await s.findIdentity('github', '12345'))?.userId).toBe(bob.id);
        });

        it('with keepLastWayToSignIn, never removes the last way to sign in: a usable password, or another identity', async (ctx) => {
          const s = identities(ctx);
          const link = (userId: string, subject: string) => s.linkIdentity({ provider: 'github', subject, userId, email: null, at: new Date() });
          const keep = { keepLastWayToSignIn: true };
          // A user with a usable password may unlink every identity.
          const alice = await newUser();
          await link(alice.id, 'a-1');
          expect(await s.unlinkIdentity(alice.id, 'github', 'a-1', keep)).toBe('unlinked');
          // Without one (empty, or Django's unusable "!…" marker), the last identity stays.
          for (const passwordHash of ['', '!unusable']) {
            const carol = await s.createUser({ username: `carol-${randomUUID().slice(0, 8)}`, passwordHash });
            await link(carol.id, `${carol.id}-1`);
            await link(carol.id, `${carol.id}-2`);
            expect(await s.unlinkIdentity(carol.id, 'github', `${carol.id}-1`, keep)).toBe('unlinked');
            expect(await s.unlinkIdentity(carol.id, 'github', `${carol.id}-2`, keep)).toBe('last_login_method');
            expect(await s.listIdentities(carol.id)).toHaveLength(1);
            // Someone else's identity is still not found, whatever the rule would say.
            expect(await s.unlinkIdentity(carol.id, 'github', 'a-1', keep)).toBe('not_found');
            // The caller that does not ask for the rule (an operator's cleanup) may remove it.
            expect(await s.unlinkIdentity(carol.id, 'github', `${carol.id}-2`)).toBe('unlinked');
          }
        });

        it(`of ${concurrency} concurrent unlinks of a passwordless user's identities, all but one succeed: one always stays`, async (ctx) => {
          const s = identities(ctx);
          const dave = await s.createUser({ username: `dave-${randomUUID().slice(0, 8)}`, passwordHash: '' });
          const subjects = Array.from({ length: concurrency }, (_, i) => `d-${i}`);
          for (const subject of subjects) await s.linkIdentity({ provider: 'github', subject, userId: dave.id, email: null, at: new Date() });
          const results = await Promise.all(subjects.map((subject) => s.unlinkIdentity(dave.id, 'github', subject, { keepLastWayToSignIn: true })));
          expect(results.filter((r) => r === 'unlinked')).toHaveLength(concurrency - 1);
          expect(results.filter((r) => r === 'last_login_method')).toHaveLength(1);
          const left = await s.listIdentities(dave.id);
          expect(left.map((i) => i.subject)).toEqual([subjects[results.indexOf('last_login_method')]]);
        });

        it('refuses to link to a user that does not exist, and links nothing', async (ctx) => {
          const s = identities(ctx);
          await expect(s.linkIdentity({ provider: 'github', subject: '1', userId: '999999', email: null, at: new Date() })).rejects.toThrow(RangeError);
          expect(await s.findIdentity('github', '1')).toBeNull();
        });

        it(`of ${concurrency} concurrent links of one pair exactly one links; the others see the winner`, async (ctx) => {
          const s = identities(ctx);
          const alice = await newUser();
          const bob = await newUser();
          const same = await Promise.all(
            Array.from({ length: concurrency }, () => s.linkIdentity({ provider: 'google', subject: 'same', userId: alice.id, email: null, at: new Date() })),
          );
          expect(same.filter((r) => r === 'linked')).toHaveLength(1);
          expect(same.filter((r) => r === 'already_linked')).toHaveLength(concurrency - 1);

          const users = [alice, bob];
          const mixed = await Promise.all(
            Array.from({ length: concurrency }, (_, i) =>
              s.linkIdentity({ provider: 'google', subject: 'contested', userId: users[i % 2]!.id, email: null, at: new Date() }),
            ),
          );
          expect(mixed.filter((r) => r === 'linked')).toHaveLength(1);
          const owner = (await s.findIdentity('google', 'contested'))?.userId;
          expect(owner === alice.id || owner === bob.id).toBe(true);
          mixed.forEach((result, i) => {
            const caller = users[i % 2]!.id;
            if (caller === owner) expect(['linked', 'already_linked']).toContain(result);
            else expect(result).toBe('linked_to_other_user');
          });
        });
      });

      describe('one-time values', () => {
        const key = () => randomUUID().replaceAll('-', '');

        it('putOneTime then takeOneTime returns the value once', async (ctx) => {
          const s = identities(ctx);
          const k = key();
          const value = JSON.stringify({ state: 's', nonce: 'n', verifier: 'v'.repeat(128), next: '/ünïcode' });
          await s.putOneTime(k, value, at(60_000));
          expect(await s.takeOneTime(k)).toBe(value);
          expect(await s.takeOneTime(k)).toBeNull();
          expect(await s.takeOneTime(key())).toBeNull();
        });

        it(`of ${concurrency} concurrent takes of one key exactly one gets the value`, async (ctx) => {
          const s = identities(ctx);
          const k = key();
          await s.putOneTime(k, 'the-value', at(60_000));
          const results = await Promise.all(Array.from({ length: concurrency }, () => s.takeOneTime(k)));
          expect(results.filter((r) => r !== null)).toEqual(['the-value']);
        });

        it('an expired value is not returned, and is removed', async (ctx) => {
          const s = identities(ctx);
          const now = Date.now();
          const k = key();
          await s.putOneTime(k, 'late', at(1000, now));
          expect(await s.takeOneTime(k, at(2000, now))).toBeNull();
          // Removed: not even a take "before" its expiry finds it now.
          expect(await s.takeOneTime(k, new Date(now))).toBeNull();
          // Expiring exactly now is expired.
          const boundary = key();
          await s.putOneTime(boundary, 'boundary', at(1000, now));
          expect(await s.takeOneTime(boundary, at(1000, now))).toBeNull();
          // A value already expired when put is never returned.
          const past = key();
          await s.putOneTime(past, 'past', at(-1000));
          expect(await s.takeOneTime(past)).toBeNull();
        });

        it('putOneTime on an existing key throws and keeps the first value', async (ctx) => {
          const s = identities(ctx);
          const k = key();
          await s.putOneTime(k, 'first', at(60_000));
          const error = await s.putOneTime(k, 'second', at(120_000)).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(Error);
          expect(error).toMatchObject({ code: 'one_time_key_exists' });
          expect((error as Error).message).not.toContain(k);
          expect(await s.takeOneTime(k)).toBe('first');
          // Once taken, the key is free again.
          await s.putOneTime(k, 'third', at(60_000));
          expect(await s.takeOneTime(k)).toBe('third');
        });

        it('flushExpired removes expired one-time values only', async (ctx) => {
          const s = identities(ctx);
          const now = Date.now();
          const old = key();
          const live = key();
          await s.putOneTime(old, 'old', at(-1, now));
          await s.putOneTime(live, 'live', at(HOUR, now));
          expect(await s.flushExpired(new Date(now))).toBe(0);
          // Gone: a take as of before its expiry would otherwise have returned it.
          expect(await s.takeOneTime(old, at(-HOUR, now))).toBeNull();
          expect(await s.takeOneTime(live, new Date(now))).toBe('live');
        });
      });
    });

    describe('audit log (optional: AuditStore)', () => {
      const expected = options.capabilities ?? true;
      /** The store as an audit store, or the test is skipped. */
      const audited = (ctx: TestContext): Store & AuditStore & IdentityStore => {
        if (!hasAudit(store)) ctx.skip();
        return store as Store & AuditStore & IdentityStore;
      };
      const event = (type: AuditEventType, overrides: Partial<AuditEvent> = {}): AuditEvent => ({
        type,
        at: new Date(),
        userId: null,
        username: null,
        actorId: null,
        familyId: null,
        clientAddress: '203.0.113.9',
        userAgent: 'Agent/2.0',
        detail: {},
        ...overrides,
      });
      const all = async (s: AuditStore) => (await s.listAudit({ limit: 500 })).events;

      it(`the store ${expected ? 'has' : 'does not have'} it`, () => {
        expect(hasAudit(store)).toBe(expected);
      });

      it('appendAudit writes an event exactly as given, and listAudit returns it with an id', async (ctx) => {
        const s = audited(ctx);
        const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 123);
        await s.appendAudit(event('login_failed', { at, username: 'mallory', detail: { reason: 'bad_password', attempt: 3, locked: false, note: null } }));
        const [row, ...rest] = await all(s);
        expect(rest).toEqual([]);
        expect(row).toEqual({
          id: expect.stringMatching(/^[1-9][0-9]*$/),
          type: 'login_failed',
          at,
          userId: null,
          username: 'mallory',
          actorId: null,
          familyId: null,
          clientAddress: '203.0.113.9',
          userAgent: 'Agent/2.0',
          detail: { reason: 'bad_password', attempt: 3, locked: false, note: null },
        });
      });

      it('clips what only informs instead of refusing it, and refuses a bad event before writing anything', async (ctx) => {
        const s = audited(ctx);
        await s.appendAudit(event('login_failed', { username: 'u'.repeat(300), userAgent: 'a'.repeat(2000), clientAddress: 'c'.repeat(400), detail: { reason: 'r'.repeat(500) } }));
        const [row] = await all(s);
        expect(row?.username).toHaveLength(150);
        expect(row?.userAgent).toHaveLength(512);
        expect(row?.clientAddress).toHaveLength(255);
        expect(String(row?.detail.reason)).toHaveLength(200);
        await expect(s.appendAudit(event('nope' as AuditEventType))).rejects.toBeInstanceOf(RangeError);
        await expect(s.appendAudit(event('login', { at: new Date(Number.NaN) }))).rejects.toBeInstanceOf(RangeError);
        await expect(s.appendAudit(event('login', { detail: { bad: {} as unknown as string } }))).rejects.toBeInstanceOf(RangeError);
        const user = await newUser();
        await expect(s.setPassword(user.id, 'x', { audit: event('nope' as AuditEventType) })).rejects.toBeInstanceOf(RangeError);
        // Refused before the change: the password is unchanged.
        expect((await s.findUser('id', user.id))?.passwordHash).toBe(user.passwordHash);
        expect(await all(s)).toHaveLength(1);
      });

      it('each audited change writes its event with the change, and only when the change happens', async (ctx) => {
        const s = audited(ctx);
        const created = await s.createUser({ username: 'audited', passwordHash: 'h' }, { audit: event('user_created', { actorId: '99' }) });
        const token = makeToken({ userId: created.id });
        token.familyId = token.jti;
        await s.recordOutstanding(token, { audit: event('login', { userId: created.id, familyId: token.jti }) });
        // Recorded already: no second login event.
        await s.recordOutstanding(token, { audit: event('login', { userId: created.id, familyId: token.jti }) });
        await s.setPassword(created.id, 'h2', { audit: event('password_changed', { userId: created.id }) });
        await s.setActive(created.id, false, { audit: event('user_deactivated', { userId: created.id, actorId: '99' }) });
        // No such user: nothing changed, nothing recorded.
        await s.setPassword('424242', 'h3', { audit: event('password_changed', { userId: '424242' }) });
        await s.setActive('424242', true, { audit: event('user_activated', { userId: '424242' }) });
        expect(await s.blacklist(token, { audit: event('logout', { userId: created.id }) })).toBe('blacklisted');
        expect(await s.blacklist(token, { audit: event('logout', { userId: created.id }) })).toBe('already_blacklisted');
        const second = makeToken({ userId: created.id, familyId: 'fam-2' });
        await s.recordOutstanding(second);
        const third = makeToken({ userId: created.id, familyId: 'fam-3' });
        await s.recordOutstanding(third);
        expect(await s.revokeFamily('fam-2', { audit: event('refresh_reuse', { userId: created.id, familyId: 'fam-2' }) })).toBe(1);
        expect(await s.revokeUser(created.id, { audit: event('logout_all', { userId: created.id }) })).toBe(1);
        expect(await s.revokeUser(created.id, { audit: event('sessions_revoked', { userId: created.id, actorId: '99' }) })).toBe(0);
        const events = (await all(s)).reverse();
        expect(events.map((e) => e.type)).toEqual(['user_created', 'login', 'password_changed', 'user_deactivated', 'logout', 'refresh_reuse', 'logout_all', 'sessions_revoked']);
        expect(events[0]).toMatchObject({ userId: created.id, username: 'audited', actorId: '99' });
        expect(events.slice(5).map((e) => e.detail)).toEqual([{ revoked: 1 }, { revoked: 1 }, { revoked: 0 }]);
        // Ids increase with every event.
        const ids = events.map((e) => BigInt(e.id));
        expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
      });

      it('an unlink writes its event only when it unlinks', async (ctx) => {
        const s = audited(ctx);
        if (!hasIdentities(s)) ctx.skip();
        const user = await newUser();
        await s.linkIdentity({ provider: 'github', subject: '1', userId: user.id, email: null, at: new Date() });
        const audit = event('identity_unlinked', { userId: user.id, detail: { provider: 'github' } });
        expect(await s.unlinkIdentity(user.id, 'github', '2', { audit })).toBe('not_found');
        expect(await s.unlinkIdentity(user.id, 'github', '1', { audit })).toBe('unlinked');
        expect((await all(s)).map((e) => e.type)).toEqual(['identity_unlinked']);
      });

      it('a failed change leaves no event: a username taken, an unknown user to link', async (ctx) => {
        const s = audited(ctx);
        await newUser('taken');
        await expect(s.createUser({ username: 'taken', passwordHash: 'h' }, { audit: event('user_created') })).rejects.toBeInstanceOf(UserExistsError);
        expect(await all(s)).toEqual([]);
      });

      it(`of ${concurrency} concurrent logouts of one token, one blacklists it and writes the one event`, async (ctx) => {
        const s = audited(ctx);
        const token = makeToken();
        const results = await Promise.all(Array.from({ length: concurrency }, () => s.blacklist(token, { audit: event('logout') })));
        expect(results.filter((r) => r === 'blacklisted')).toHaveLength(1);
        expect(await all(s)).toHaveLength(1);
      });

      it('listAudit filters by user (id or username), type and time, newest first, in pages', async (ctx) => {
        const s = audited(ctx);
        const base = Date.now() - 10 * 60_000;
        const at = (minutes: number) => new Date(base + minutes * 60_000);
        await s.appendAudit(event('login_failed', { at: at(0), username: 'alice', detail: { reason: 'bad_password' } }));
        await s.appendAudit(event('login', { at: at(1), userId: '7', username: 'alice' }));
        await s.appendAudit(event('login_failed', { at: at(2), username: 'bob' }));
        await s.appendAudit(event('logout', { at: at(3), userId: '7' }));
        await s.appendAudit(event('login', { at: at(4), userId: '8', username: 'bob' }));
        const types = (page: AuditPage) => page.events.map((e) => `${e.type}@${(e.at.getTime() - base) / 60_000}`);
        expect(types(await s.listAudit())).toEqual(['login@4', 'logout@3', 'login_failed@2', 'login@1', 'login_failed@0']);
        expect(types(await s.listAudit({ user: 'alice' }))).toEqual(['login@1', 'login_failed@0']);
        expect(types(await s.listAudit({ user: '7' }))).toEqual(['logout@3', 'login@1']);
        expect(types(await s.listAudit({ type: 'login_failed' }))).toEqual(['login_failed@2', 'login_failed@0']);
        expect(types(await s.listAudit({ since: at(1), until: at(3) }))).toEqual(['login_failed@2', 'login@1']);
        expect(types(await s.listAudit({ user: 'bob', type: 'login', since: at(4) }))).toEqual(['login@4']);
        // Pages of two follow the cursor to the end.
        const first = await s.listAudit({ limit: 2 });
        expect(types(first)).toEqual(['login@4', 'logout@3']);
        const second = await s.listAudit({ limit: 2, cursor: first.next });
        expect(types(second)).toEqual(['login_failed@2', 'login@1']);
        const last = await s.listAudit({ limit: 2, cursor: second.next });
        expect(types(last)).toEqual(['login_failed@0']);
        expect(last.next).toBeNull();
        await expect(s.listAudit({ limit: 0 })).rejects.toBeInstanceOf(RangeError);
        await expect(s.listAudit({ limit: 501 })).rejects.toBeInstanceOf(RangeError);
        await expect(s.listAudit({ cursor: 'x' })).rejects.toBeInstanceOf(RangeError);
        await expect(s.listAudit({ type: 'nope' as AuditEventType })).rejects.toBeInstanceOf(RangeError);
      });

      it('countAudit counts events per type per bucket in [since, until)', async (ctx) => {
        const s = audited(ctx);
        const since = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60 * 60_000);
        const at = (ms: number) => new Date(since.getTime() + ms);
        await s.appendAudit(event('login', { at: at(-1) }));
        await s.appendAudit(event('login', { at: at(0) }));
        await s.appendAudit(event('login', { at: at(59_999) }));
        await s.appendAudit(event('login_failed', { at: at(30_000) }));
        await s.appendAudit(event('login', { at: at(60_000) }));
        await s.appendAudit(event('refresh_reuse', { at: at(59 * 60_000 + 59_999) }));
        await s.appendAudit(event('login', { at: at(60 * 60_000) }));
        const counts = await s.countAudit({ since, until: at(60 * 60_000), bucketSeconds: 60 });
        expect(counts).toEqual([
          { type: 'login', bucket: 0, count: 2 },
          { type: 'login_failed', bucket: 0, count: 1 },
          { type: 'login', bucket: 1, count: 1 },
          { type: 'refresh_reuse', bucket: 59, count: 1 },
        ]);
        await expect(s.countAudit({ since, until: since, bucketSeconds: 60 })).rejects.toBeInstanceOf(RangeError);
        await expect(s.countAudit({ since, until: at(1000), bucketSeconds: 0.5 })).rejects.toBeInstanceOf(RangeError);
      });

      it('flushAudit deletes the events before the cutoff in batches, with progress, and keeps the rest', async (ctx) => {
        const s = audited(ctx);
        const now = Date.now();
        for (let i = 0; i < 7; i++) await s.appendAudit(event('login_failed', { at: new Date(now - (10 - i) * 60_000) }));
        await s.appendAudit(event('login', { at: new Date(now) }));
        const progress: number[] = [];
        expect(await s.flushAudit(new Date(now - 60_000), { batchSize: 3, onProgress: (p) => progress.push(p.deleted) })).toBe(7);
        expect(progress).toEqual([3, 6, 7]);
        expect((await all(s)).map((e) => e.type)).toEqual(['login']);
        expect(await s.flushAudit(new Date(now - 60_000))).toBe(0);
        await expect(s.flushAudit(new Date(now), { batchSize: 0 })).rejects.toBeInstanceOf(RangeError);
        // Ids are not reused after a flush: a new event sorts first.
        await s.flushAudit(new Date(now + 1));
        await s.appendAudit(event('logout'));
        const [latest] = await all(s);
        expect(BigInt(latest?.id ?? '0')).toBeGreaterThan(8n);
      });
    });

    describe('second factors (optional: FactorStore)', () => {
      const expected = options.capabilities ?? true;
      const factorStore = (ctx: TestContext): Store & FactorStore & AuditStore => {
        if (!hasFactors(store)) ctx.skip();
        return store as Store & FactorStore & AuditStore;
      };
      const totp = (userId: string, overrides: Partial<NewFactor> = {}): NewFactor => ({
        userId,
        kind: 'totp',
        label: 'Phone',
        confirmed: false,
        secret: 'v1.encrypted-secret',
        credentialId: null,
        meta: '{}',
        createdAt: new Date(Math.floor(Date.now() / 1000) * 1000),
        ...overrides,
      });
      const passkey = (userId: string, credentialId: string, overrides: Partial<NewFactor> = {}): NewFactor =>
        totp(userId, { kind: 'webauthn', label: 'YubiKey', confirmed: true, secret: 'pQECAyYgASFYI', credentialId, meta: '{"transports":["usb"]}', ...overrides });
      const auditEvent = (type: AuditEventType, userId: string): AuditEvent => ({
        type,
        at: new Date(),
        userId,
        username: null,
        actorId: null,
        familyId: null,
        clientAddress: null,
        userAgent: null,
        detail: {},
      });
      const auditTypes = async (s: AuditStore) => (await s.listAudit({ limit: 500 })).events.map((e) => e.type).reverse();

      it(`the store ${expected ? 'has' : 'does not have'} it`, () => {
        expect(hasFactors(store)).toBe(expected);
      });

      it('adds factors as given, lists them oldest first, and finds a passkey by its credential id', async (ctx) => {
        const s = factorStore(ctx);
        const alice = await newUser();
        const bob = await newUser();
        const app = await s.addFactor(totp(alice.id));
        expect(app).toEqual({ ...totp(alice.id), id: expect.stringMatching(/^[0-9]+$/), lastUsedAt: null, counter: 0 });
        const key = await s.addFactor(passkey(alice.id, 'cred-A'));
        await s.addFactor(passkey(bob.id, 'cred-B'));
        expect((await s.listFactors(alice.id)).map((f) => [f.kind, f.label, f.credentialId])).toEqual([
          ['totp', 'Phone', null],
          ['webauthn', 'YubiKey', 'cred-A'],
        ]);
        expect(await s.findFactorByCredential('cred-A')).toEqual(key);
        expect(await s.findFactorByCredential('cred-a')).toBeNull();
        expect(await s.listFactors('424242')).toEqual([]);
      });

      it('refuses a duplicate credential id (even for another user), an unknown user and bad values, adding nothing', async (ctx) => {
        const s = factorStore(ctx);
        const alice = await newUser();
        const bob = await newUser();
        await s.addFactor(passkey(alice.id, 'cred-1'));
        await expect(s.addFactor(passkey(bob.id, 'cred-1'), { audit: auditEvent('factor_added', bob.id) })).rejects.toMatchObject({ code: 'credential_exists' });
        await expect(s.addFactor(totp('424242'))).rejects.toBeInstanceOf(RangeError);
        await expect(s.addFactor(totp(alice.id, { label: 'x'.repeat(101) }))).rejects.toBeInstanceOf(RangeError);
        await expect(s.addFactor(totp(alice.id, { kind: 'sms' as FactorKind }))).rejects.toBeInstanceOf(RangeError);
        await expect(s.addFactor(totp(alice.id, { credentialId: 'c' }))).rejects.toBeInstanceOf(RangeError);
        expect(await s.listFactors(bob.id)).toEqual([]);
        expect(await s.listFactors(alice.id)).toHaveLength(1);
        if (hasAudit(s)) expect(await auditTypes(s)).toEqual([]);
      });

      it('confirms a factor once, for its own user only', async (ctx) => {
        const s = factorStore(ctx);
        const alice = await newUser();
        const bob = await newUser();
        const f = await s.addFactor(totp(alice.id));
        expect(await s.confirmFactor(bob.id, f.id)).toBe(false);
        expect(await s.confirmFactor(alice.id, f.id, { audit: auditEvent('factor_added', alice.id) })).toBe(true);
        expect(await s.confirmFactor(alice.id, f.id, { audit: auditEvent('factor_added', alice.id) })).toBe(false);
        expect((await s.listFactors(alice.id))[0]?.confirmed).toBe(true);
        if (hasAudit(s)) expect(await auditTypes(s)).toEqual(['factor_added']);
      });

      it('useFactor accepts only a greater counter (or 0 after 0), and records when', async (ctx) => {
        const s = factorStore(ctx);
        const alice = await newUser();
        const f = await s.addFactor(totp(alice.id, { confirmed: true }));
        const at = new Date(Math.floor(Date.now() / 1000) * 1000);
        expect(await s.useFactor(f.id, 58_000_000, at)).toBe(true);
        // The same TOTP step again: a replayed code.
        expect(await s.useFactor(f.id, 58_000_000, at)).toBe(false);
        expect(await s.useFactor(f.id, 57_999_999, at)).toBe(false);
        expect(await s.useFactor(f.id, 58_000_001, at)).toBe(true);
        expect((await s.listFactors(alice.id))[0]).toMatchObject({ counter: 58_000_001, lastUsedAt: at });
        // A passkey without a counter: 0 after 0 every time; once it counted, 0 is a clone.
        const k = await s.addFactor(passkey(alice.id, 'cred-0'));
        expect(await s.useFactor(k.id, 0, at)).toBe(true);
        expect(await s.useFactor(k.id, 0, at)).toBe(true);
        expect(await s.useFactor(k.id, 5, at)).toBe(true);
        expect(await s.useFactor(k.id, 0, at)).toBe(false);
        expect(await s.useFactor('424242', 1, at)).toBe(false);
        await expect(s.useFactor(k.id, -1, at)).rejects.toBeInstanceOf(RangeError);
      });

      it(`of ${concurrency} concurrent uses of one TOTP step exactly one is accepted`, async (ctx) => {
        const s = factorStore(ctx);
        const alice = await newUser();
        const f = await s.addFactor(totp(alice.id, { confirmed: true }));
        const results = await Promise.all(Array.from({ length: concurrency }, () => s.useFactor(f.id, 60_000_000, new Date())));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('removes one factor of its own user, or all of them with the recovery codes', async (ctx) => {
        const s = factorStore(ctx);
        const alice = await newUser();
        const bob = await newUser();
        const a1 = await s.addFactor(totp(alice.id, { confirmed: true }));
        await s.addFactor(passkey(alice.id, 'cred-r'));
        const b1 = await s.addFactor(totp(bob.id, { confirmed: true }));
        await s.setRecoveryCodes(alice.id, ['h1', 'h2']);
        await s.setRecoveryCodes(bob.id, ['h1']);
        expect(await s.removeFactor(bob.id, a1.id)).toBe(false);
        expect(await s.removeFactor(alice.id, a1.id, { audit: auditEvent('factor_removed', alice.id) })).toBe(true);
        expect(await s.removeFactor(alice.id, a1.id, { audit: auditEvent('factor_removed', alice.id) })).toBe(false);
        expect(await s.removeFactors(alice.id, { audit: auditEvent('factors_reset', alice.id) })).toBe(1);
        expect(await s.listFactors(alice.id)).toEqual([]);
        expect(await s.countRecoveryCodes(alice.id)).toBe(0);
        // The credential id is free again.
        await s.addFactor(passkey(alice.id, 'cred-r'));
        expect((await s.listFactors(bob.id)).map((f) => f.id)).toEqual([b1.id]);
        expect(await s.countRecoveryCodes(bob.id)).toBe(1);
        if (hasAudit(s)) expect(await auditTypes(s)).toEqual(['factor_removed', 'factors_reset']);
      });

      it('recovery codes: replaced as a set, each spent once, per user', async (ctx) => {
        const s = factorStore(ctx);
        const alice = await newUser();
        const bob = await newUser();
        await s.setRecoveryCodes(alice.id, ['a', 'b', 'c']);
        await s.setRecoveryCodes(bob.id, ['a']);
        expect(await s.countRecoveryCodes(alice.id)).toBe(3);
        expect(await s.useRecoveryCode(alice.id, 'b', { audit: auditEvent('recovery_code_used', alice.id) })).toBe(true);
        expect(await s.useRecoveryCode(alice.id, 'b', { audit: auditEvent('recovery_code_used', alice.id) })).toBe(false);
        expect(await s.useRecoveryCode(alice.id, 'zzz')).toBe(false);
        expect(await s.countRecoveryCodes(alice.id)).toBe(2);
        expect(await s.countRecoveryCodes(bob.id)).toBe(1);
        await s.setRecoveryCodes(alice.id, ['x', 'y'], { audit: auditEvent('recovery_codes_generated', alice.id) });
        expect(await s.useRecoveryCode(alice.id, 'a')).toBe(false);
        expect(await s.useRecoveryCode(alice.id, 'x')).toBe(true);
        await expect(s.setRecoveryCodes(alice.id, ['d', 'd'])).rejects.toBeInstanceOf(RangeError);
        await expect(s.setRecoveryCodes('424242', ['d'])).rejects.toBeInstanceOf(RangeError);
        // Refused: the codes before stay.
        expect(await s.countRecoveryCodes(alice.id)).toBe(1);
        if (hasAudit(s)) expect(await auditTypes(s)).toEqual(['recovery_code_used', 'recovery_codes_generated']);
      });

      it(`of ${concurrency} concurrent spends of one recovery code exactly one succeeds`, async (ctx) => {
        const s = factorStore(ctx);
        const alice = await newUser();
        await s.setRecoveryCodes(alice.id, ['only']);
        const results = await Promise.all(Array.from({ length: concurrency }, () => s.useRecoveryCode(alice.id, 'only')));
        expect(results.filter(Boolean)).toHaveLength(1);
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
