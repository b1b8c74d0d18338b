/**
 * The admin API (`@restjwt/core/admin`), framework-neutral: {@link adminRoutes} is its route table of plain request →
 * `CoreResponse` handlers, for any adapter to mount (the reference server mounts it under `/api/admin/`). Every
 * operation takes an {@link AdminContext}, which only a staff user gets ({@link adminContext}), and answers plain data
 * or throws an `ApiError` that the core renders ({@link adminErrorResponse}). See docs/admin.md.
 */
export { adminRoutes, ADMIN_API_PREFIX, type AdminRoute, type AdminRequest, type AdminAuditEntry } from './routes.js';
export { adminContext, identityStore, sessionStore, type AdminContext, type AdminService } from './context.js';
export { CannotDeactivateSelf, IdentitiesUnsupported, LastLoginMethod, SessionsUnsupported, type AdminErrorCode } from './errors.js';
export { FieldErrors, readBoolean, readString, readQueryBoolean, readQueryInteger, lastValue, type QueryValue } from './fields.js';
export {
  listUsers,
  getUser,
  requireUser,
  readNewUser,
  createUser,
  setUserActive,
  resetPassword,
  readPaging,
  userView,
  USERNAME_MAX_LENGTH,
  EMAIL_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PASSWORD_MAX_LENGTH,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  type AdminUserView,
  type AdminPage,
  type NewUserInput,
  type UserChange,
} from './users.js';
export { listSessions, revokeSession, revokeAllSessions, sessionView, type SessionView, type SessionList, type Revocation } from './sessions.js';
export { listTokens, flushExpired, tokenView, type TokenView } from './tokens.js';
export { listIdentities, unlinkIdentity, identityView, type IdentityView, type IdentityList } from './identities.js';
export { adminSettings, type AdminSettingsView } from './settings.js';
export { adminResponse, adminHeaders, adminErrorResponse, pageBody, type AdminErrorRenderer, type PageBody } from './http.js';
