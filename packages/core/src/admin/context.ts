import type { Authentication } from '../auth/authenticate.js';
import { checkPermissions, isStaff } from '../auth/permissions.js';
import type { PasswordHasher } from '../passwords/index.js';
import type { Settings } from '../settings/types.js';
import { hasAudit, hasIdentities, hasSessions } from '../store/capabilities.js';
import type { IdentityStore, SessionStore, Store, UserRecord } from '../store/types.js';
import { AuditUnsupported, IdentitiesUnsupported, SessionsUnsupported } from './errors.js';
import { audited, type AuditFields, type AuditOrigin } from '../audit/events.js';
import type { Audited, AuditEventType, AuditStore } from '../store/types.js';

/** What the admin operations run with: a `RestJwt` fits (`store`, `hasher`, `settings`, `tokens.nowSeconds`). */
export interface AdminService {
  readonly store: Store;
  readonly hasher: PasswordHasher;
  readonly settings: Settings;
  readonly tokens: { nowSeconds(): number };
}

/** One staff user's admin session: every admin operation takes it, so none runs for anyone else. */
export interface AdminContext {
  readonly store: Store;
  readonly hasher: PasswordHasher;
  readonly settings: Settings;
  /** The staff user acting (for the "not yourself" rules and audit logs). */
  readonly actor: UserRecord;
  /** Where the staff user's request came from. */
  readonly origin: AuditOrigin;
  /** Now, on the service's clock (the injected one in tests). */
  now(): Date;
  /** The audit option of an admin change of `type`: the actor, the origin and now filled in (`{}` when not auditing). */
  audit(type: AuditEventType, fields: AuditFields): Audited;
}

/**
 * The admin context for an authenticated request, enforcing the admin rule here as well as in the route's guard: 401
 * `not_authenticated` when anonymous, 403 `permission_denied` for a non-staff user, exactly as `guard(restjwt,
 * isStaff)` answers. Takes the store's user (not a stateless `TokenUser`): staff status is read fresh from the store,
 * so a demoted user loses the admin at once.
 */
export function adminContext(service: AdminService, auth: Authentication<UserRecord> | null, origin: AuditOrigin = { clientAddress: null, userAgent: null }): AdminContext {
  checkPermissions(auth, [isStaff]);
  const actor = (auth as Authentication<UserRecord>).user;
  const now = (): Date => new Date(Math.floor(service.tokens.nowSeconds() * 1000));
  return {
    store: service.store,
    hasher: service.hasher,
    settings: service.settings,
    actor,
    origin,
    now,
    audit: (type, fields) => audited(service, type, now(), origin, { ...fields, actorId: actor.id }),
  };
}

/** The store as a `SessionStore`, or 501 `sessions_unsupported`. */
export function sessionStore(ctx: AdminContext): Store & SessionStore {
  if (!hasSessions(ctx.store)) throw new SessionsUnsupported();
  return ctx.store;
}

/** The store as an `IdentityStore` (linked social-login identities), or 501 `identities_unsupported`. */
export function identityStore(ctx: AdminContext): Store & IdentityStore {
  if (!hasIdentities(ctx.store)) throw new IdentitiesUnsupported();
  return ctx.store;
}

/** The store as an `AuditStore` (the audit log), or 501 `audit_unsupported`. */
export function auditStore(ctx: AdminContext): Store & AuditStore {
  if (!hasAudit(ctx.store)) throw new AuditUnsupported();
  return ctx.store;
}
