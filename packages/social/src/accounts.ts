import { randomBytes } from 'node:crypto';
import { createUserNormalized, normalizeUsername, UserExistsError, type Audited, type IdentityStore, type Store, type UserRecord } from '@restjwt/core';
import { SocialError } from './errors.js';
import type { SocialProfile } from './providers/types.js';

/**
 * Who a provider's identity signs in as: the linked user, a user found by verified email (when allowed), or a new
 * user. Also the link and unlink rules for an authenticated user.
 */

/** The account rules from the settings. */
export interface AccountRules {
  /** Create a user on a first sign-in with an identity nobody linked. */
  createUsers: boolean;
  /** Link a first sign-in to the existing user with the same email, only when the provider asserts it verified it. */
  linkByVerifiedEmail: boolean;
}

/** What {@link resolveAccount} did. */
export interface ResolvedAccount {
  user: UserRecord;
  /** `existing` (already linked), `linked` (by verified email), `created` (new user). */
  outcome: 'existing' | 'linked' | 'created';
}

type IdentityBackend = Store & IdentityStore;

// The sign-in rule lives in the core, where the admin's unlink uses it too.
export { hasUsablePassword } from '@restjwt/core/store-kit';

/** The user a provider's identity signs in as, creating or linking per the rules. Refusals create nothing. */
export async function resolveAccount(
  store: IdentityBackend,
  provider: string,
  profile: SocialProfile,
  rules: AccountRules,
  now: Date,
): Promise<ResolvedAccount> {
  const verifiedEmail = profile.emailVerified ? profile.email : null;
  const linked = await store.findIdentity(provider, profile.subject);
  if (linked !== null) {
    const user = await activeUser(store, linked.userId);
    await store.touchIdentity(provider, profile.subject, verifiedEmail, now);
    return { user, outcome: 'existing' };
  }

  // An unverified email proves nothing: it never links, and it is never stored on a new user (otherwise a later
  // verified sign-in with that address could be linked to an account an attacker prepared: pre-account hijacking).
  const owner = profile.email === null ? null : await userWithEmail(store, profile.email);
  if (owner !== null) {
    if (!rules.linkByVerifiedEmail || verifiedEmail === null) {
      throw new SocialError('social_email_in_use', `${provider} sign-in matches user ${owner.id} by ${verifiedEmail === null ? 'unverified ' : ''}email`);
    }
    if (!owner.isActive) throw new SocialError('social_user_inactive');
    const result = await store.linkIdentity({ provider, subject: profile.subject, userId: owner.id, email: verifiedEmail, at: now });
    if (result === 'linked_to_other_user') return concurrentWinner(store, provider, profile.subject);
    return { user: owner, outcome: 'linked' };
  }

  if (!rules.createUsers) throw new SocialError('social_account_not_found', `no user for ${provider} identity`);
  const user = await createUser(store, provider, profile, verifiedEmail);
  const result = await store.linkIdentity({ provider, subject: profile.subject, userId: user.id, email: verifiedEmail, at: now });
  if (result === 'linked_to_other_user') {
    // A concurrent first sign-in of the same identity linked its own new user first: this one is an orphan nobody can
    // sign in to (no password, no identity). Deactivate it and sign in as the winner.
    await store.setActive(user.id, false);
    return concurrentWinner(store, provider, profile.subject);
  }
  return { user, outcome: 'created' };
}

/** Links an identity to a signed-in user (the link flow). */
export async function linkToUser(store: IdentityBackend, provider: string, profile: SocialProfile, userId: string, now: Date): Promise<UserRecord> {
  const user = await activeUser(store, userId);
  const result = await store.linkIdentity({ provider, subject: profile.subject, userId, email: profile.emailVerified ? profile.email : null, at: now });
  if (result === 'linked_to_other_user') throw new SocialError('social_identity_in_use', `${provider} identity belongs to another user`);
  return user;
}

/**
 * Unlinks one identity of `user`, unless it is the last way to sign in (no usable password and no other identity);
 * `audit` is written with the removal.
 */
export async function unlinkFromUser(store: IdentityBackend, user: UserRecord, provider: string, subject: string, audit: Audited = {}): Promise<void> {
  // The store judges the rule in the same atomic step as the removal: two concurrent unlinks cannot both pass it.
  const result = await store.unlinkIdentity(user.id, provider, subject, { keepLastWayToSignIn: true, ...audit });
  if (result === 'not_found') throw new SocialError('social_identity_not_found');
  if (result === 'last_login_method') throw new SocialError('social_last_login_method');
}

export { publicIdentity } from '@restjwt/core';

async function activeUser(store: IdentityBackend, id: string): Promise<UserRecord> {
  const user = await store.findUser('id', id);
  if (user === null) throw new SocialError('social_account_not_found', `linked user ${id} no longer exists`);
  if (!user.isActive) throw new SocialError('social_user_inactive');
  return user;
}

async function concurrentWinner(store: IdentityBackend, provider: string, subject: string): Promise<ResolvedAccount> {
  const winner = await store.findIdentity(provider, subject);
  if (winner === null) throw new SocialError('social_identity_in_use', 'identity relinked concurrently');
  return { user: await activeUser(store, winner.userId), outcome: 'existing' };
}

/** Emails are compared as given and lower-cased (providers differ in case; the store compares exactly). */
async function userWithEmail(store: IdentityBackend, email: string): Promise<UserRecord | null> {
  return (await store.findUser('email', email)) ?? (email.toLowerCase() === email ? null : await store.findUser('email', email.toLowerCase()));
}

/** Django's username rule: letters, digits and @.+-_, at most 150 characters, in NFKC form (the core's rule). */
function cleanUsername(raw: string): string {
  return normalizeUsername(raw).replace(/[^\w.@+-]/g, '').slice(0, 120);
}

/**
 * A new user with no usable password, named after the profile; a taken name (the core's rule: a look-alike of an
 * existing name is taken too) gets a random suffix, so a provider's `ａｌｉｃｅ` never becomes a second `alice`.
 */
async function createUser(store: IdentityBackend, provider: string, profile: SocialProfile, verifiedEmail: string | null): Promise<UserRecord> {
  const base = cleanUsername(profile.username ?? verifiedEmail?.split('@')[0] ?? '') || cleanUsername(`${provider}-${profile.subject}`) || provider;
  for (let attempt = 0; attempt < 5; attempt++) {
    const username = attempt === 0 ? base : `${base}-${randomBytes(3).toString('hex')}`;
    try {
      return await createUserNormalized(store, { username, email: verifiedEmail ?? '', passwordHash: '' });
    } catch (err) {
      if (!(err instanceof UserExistsError)) throw err;
    }
  }
  throw new SocialError('social_profile_invalid', 'no free username');
}
