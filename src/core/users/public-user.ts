import type { UserRecord } from '../store/types.js';

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
