/** A user's second factors in the admin: listed (never their secrets), and reset when the user lost them. */
import type { FactorStore, Store } from '../store/types.js';
import { publicFactor, type PublicFactor } from '../users/public-user.js';
import { hasFactors } from '../store/capabilities.js';
import { MfaUnsupported } from '../errors.js';
import { endSessions } from '../handlers/logout-all.js';
import type { AdminContext } from './context.js';
import { requireUser } from './users.js';

/** The store as a `FactorStore`, or 501 `mfa_unsupported` (the Django shared-database store). */
function factorStore(ctx: AdminContext): Store & FactorStore {
  if (!hasFactors(ctx.store)) throw new MfaUnsupported();
  return ctx.store;
}

/** `GET users/{id}/factors/`: the user's factors and how many recovery codes are left. */
export async function listFactors(ctx: AdminContext, userId: string): Promise<{ results: PublicFactor[]; recovery_codes_left: number }> {
  const store = factorStore(ctx);
  await requireUser(ctx, userId);
  const [factors, left] = await Promise.all([store.listFactors(userId), store.countRecoveryCodes(userId)]);
  return { results: factors.map(publicFactor), recovery_codes_left: left };
}

/**
 * `POST users/{id}/factors/reset/`: removes every factor and recovery code of the user (audited `factors_reset`, with
 * the staff user as actor), so that they sign in with the password alone and enrol again, and ends every session: a
 * lost phone or key may be in someone else's hands.
 */
export async function resetFactors(ctx: AdminContext, userId: string): Promise<{ removed: number; revoked: number }> {
  const store = factorStore(ctx);
  const user = await requireUser(ctx, userId);
  const removed = await store.removeFactors(userId, ctx.audit('factors_reset', { userId, username: user.username }));
  return { removed, revoked: await endSessions(ctx, userId) };
}
