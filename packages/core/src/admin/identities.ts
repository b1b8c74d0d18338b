/**
 * Linked identities: the accounts at social-login providers (GitHub, Google, an OpenID provider, …) a user signs in
 * with. Needs the store's optional `IdentityStore` capability. Unlinking follows the rule social login's own unlink
 * applies, judged by the store atomically with the removal: never the user's last way to sign in.
 */
import { NotFound } from '../errors.js';
import { publicIdentity, type PublicIdentity } from '../users/public-user.js';
import { hasUsablePassword } from '../users/sign-in-methods.js';
import { identityStore, type AdminContext } from './context.js';
import { LastLoginMethod } from './errors.js';
import { requireUser } from './users.js';

/** @see publicIdentity */
export type IdentityView = PublicIdentity;
/** @see publicIdentity */
export const identityView = publicIdentity;

/** A user's linked identities, by provider then subject. */
export interface IdentityList {
  count: number;
  /** False when the user has no usable password (signs in through the identities only): the last one cannot be unlinked. */
  has_usable_password: boolean;
  results: IdentityView[];
}

/** `GET users/{id}/identities/`: the user's linked identities. 404 for an unknown user, 501 when the store has none. */
export async function listIdentities(ctx: AdminContext, userId: string): Promise<IdentityList> {
  const store = identityStore(ctx);
  const user = await requireUser(ctx, userId);
  const identities = await store.listIdentities(userId);
  return { count: identities.length, has_usable_password: hasUsablePassword(user), results: identities.map(identityView) };
}

/**
 * `POST users/{id}/identities/{provider}/{subject}/unlink/`: removes the link, so the user can no longer sign in with
 * that provider account (a later sign-in with it is a first sign-in again). The identity must belong to the user in
 * the URL, else 404. Refused with 400 `last_login_method` when it is the user's last way to sign in (no usable
 * password, no other identity): reset the password first. Sessions already started through it are not ended (revoke
 * them too when the provider account is compromised). Answers the identity that was unlinked.
 */
export async function unlinkIdentity(ctx: AdminContext, userId: string, provider: string, subject: string): Promise<IdentityView> {
  const store = identityStore(ctx);
  const user = await requireUser(ctx, userId);
  const identities = await store.listIdentities(userId);
  const identity = identities.find((i) => i.provider === provider && i.subject === subject);
  if (identity === undefined) throw new NotFound();
  // The store judges the rule in the same atomic step as the removal: two concurrent unlinks cannot both pass it.
  // Unlinked meanwhile (another staff user, or the user themselves): the same 404 as if it had not been there.
  const audit = ctx.audit('identity_unlinked', { userId, username: user.username, detail: { provider } });
  const result = await store.unlinkIdentity(userId, provider, subject, { keepLastWayToSignIn: true, ...audit });
  if (result === 'not_found') throw new NotFound();
  if (result === 'last_login_method') throw new LastLoginMethod();
  return identityView(identity);
}
