import type { FactorKind, FactorRecord, LinkedIdentity, UserRecord } from '../store/types.js';

/** A user on the wire (`GET /api/me/`, the admin API): never the password hash or the token version. */
export interface PublicUser {
  id: string;
  username: string;
  email: string;
  is_active: boolean;
  is_staff: boolean;
  /** ISO 8601, or null before the first login. */
  last_login: string | null;
  date_joined: string;
}

/** The JSON view of `user`, in Django's field names. */
export function publicUser(user: UserRecord): PublicUser {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    is_active: user.isActive,
    is_staff: user.isStaff,
    last_login: user.lastLogin?.toISOString() ?? null,
    date_joined: user.dateJoined.toISOString(),
  };
}

/** A linked identity on the wire (the same fields as social login's `GET auth/identities/`). Times are ISO 8601. */
export interface PublicIdentity {
  /** The provider's configured name (`github`, `google`, …). */
  provider: string;
  /** The provider's stable id for the account. */
  subject: string;
  /** The email the provider asserted at the last sign-in, if any (provider-controlled text: render it as text). */
  email: string | null;
  /** When the identity was linked. */
  created_at: string;
  /** The last sign-in through it; equal to `created_at` until then. */
  last_used_at: string;
}

export function publicIdentity(identity: LinkedIdentity): PublicIdentity {
  return {
    provider: identity.provider,
    subject: identity.subject,
    email: identity.email,
    created_at: identity.createdAt.toISOString(),
    last_used_at: identity.lastUsedAt.toISOString(),
  };
}

/** A second factor on the wire (`GET /api/mfa/`, the admin API): what it is and when it was used, never its secret or key. */
export interface PublicFactor {
  id: string;
  kind: FactorKind;
  label: string;
  confirmed: boolean;
  created_at: string;
  last_used_at: string | null;
}

/** The JSON view of `factor`. */
export function publicFactor(f: FactorRecord): PublicFactor {
  return { id: f.id, kind: f.kind, label: f.label, confirmed: f.confirmed, created_at: f.createdAt.toISOString(), last_used_at: f.lastUsedAt?.toISOString() ?? null };
}
