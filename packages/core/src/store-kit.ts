/**
 * `@restjwt/core/store-kit`: what a store package is built from and an application does not call — the store
 * contract's types and typed errors, the capability checks, and the validation, row mapping and verdict helpers every
 * store shares, so that the SQLite, SQL, Redis and Django stores keep one rule per idea and the core stays the only
 * place that defines them.
 *
 * @packageDocumentation
 */
export {
  ALL_CAPABILITIES,
  IN_PROCESS_CAPABILITIES,
  CAPABILITY_METHODS,
  canImportUsers,
  hasAudit,
  hasCapability,
  hasFactors,
  hasIdentities,
  hasSessions,
  isBlacklistSource,
  type StoreCapability,
  type WithCapabilities,
} from './store/capabilities.js';
export { checkRateArguments, checkRateKey, checkRateSlots, windowMs } from './store/rate-arguments.js';
export { type AuditCount, type AuditEvent, type AuditEventType, type AuditPage, type AuditQuery, type AuditRecord, type AuditStore, type Audited, type BlacklistPage, type BlacklistResult, type BlacklistSource, type FactorKind, type FactorRecord, type FactorStore, type FlushProgress, type NewFactor, type IdentityStore, type ImmediateUserLookup, type ImportUserResult, type LinkResult, type LinkedIdentity, type NewUser, type OneTimeStore, type OutstandingState, type OutstandingToken, type RateCounter, type RateReservation, type RateSlot, type RotateOptions, type RotateResult, type SessionRecord, type SessionStore, type SessionUse, type Store, type TokenListing, type UnlinkOptions, type UnlinkResult, type UserLookupField, type UserRecord } from './store/types.js';
export { auditCountFromRow, auditFromRow, auditPage, auditValues, checkAuditQuery, checkAuditRange, isAuditEventType, withRevoked, type AuditFilter, type AuditRow, type AuditValues } from './stores/shared/audit.js';
export { CredentialExistsError, OneTimeKeyExistsError, closedStoreError } from './stores/shared/errors.js';
export { MAX_CREDENTIAL_ID, MAX_RECOVERY_HASH, acceptsCounter, checkCounter, checkRecoveryHashes, factorFromRow, newFactorValues, type FactorRow, type NewFactorValues } from './stores/shared/factors.js';
export { DEFAULT_FLUSH_BATCH_SIZE, checkBatchSize, deleteInBatches } from './stores/shared/flush.js';
export { blacklistPage, copyUser, identityFromRow, outstandingStateFromRow, sessionFromRow, tokenListingFromRow, userFromRow, type IdentityRow, type OutstandingStateRow, type SessionRow, type TokenListingRow, type UserRow } from './stores/shared/rows.js';
export { bigintId, checkBlacklistListing, checkLength, checkPage, checkTokenListing, integerIdParser, requestUseValues, sessionUseValues, toMillis, type SessionUseValues } from './stores/shared/validate.js';
export { isOneTimeLive, linkResult, newTokenVersion, successorFamily, unlinkVerdict, userChanges, type UserChange } from './stores/shared/verdicts.js';
export { hasUsablePassword } from './users/sign-in-methods.js';
