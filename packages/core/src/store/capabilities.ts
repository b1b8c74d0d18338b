/**
 * The optional capabilities of a store, declared explicitly. A store lists the ones it implements in `capabilities`
 * and, through {@link WithCapabilities}, the compiler holds it to implementing each one's interface. Detection
 * ({@link hasCapability}, and `hasSessions`, `hasIdentities`, `canImportUsers`, `isBlacklistSource` on top of it)
 * reads that list: a method that merely has a capability's name (the Django store's paging of its own rows, say)
 * never counts as the capability.
 */
import type { AuditStore, BlacklistSource, FactorStore, IdentityStore, ImmediateUserLookup, OneTimeStore, SessionStore, UserImportStore } from './types.js';

/** Each optional capability, by the name a store declares it with. */
export interface StoreCapabilityInterfaces {
  /** {@link BlacklistSource}: pages of the blacklist, for a revocation cache to load. */
  blacklistSource: BlacklistSource;
  /** {@link UserImportStore}: users taken with their own ids (`restjwt importdjango`). */
  importUsers: UserImportStore;
  /** {@link SessionStore}: sessions and token listings (the admin page). */
  sessions: SessionStore;
  /** {@link IdentityStore}: linked social-login identities. */
  identities: IdentityStore;
  /** {@link OneTimeStore}: single-use expiring values (OAuth state, one-time login codes). */
  oneTime: OneTimeStore;
  /** {@link ImmediateUserLookup}: user lookups answered synchronously (memory, SQLite). */
  immediateUsers: ImmediateUserLookup;
  /** {@link AuditStore}: the audit log of security events. */
  audit: AuditStore;
  /** {@link FactorStore}: second factors and recovery codes. */
  factors: FactorStore;
}

/** The name of an optional capability. */
export type StoreCapability = keyof StoreCapabilityInterfaces;

/**
 * The methods of each capability. A declared capability counts only while all of them are there, so that a wrapper
 * or proxy that hides them (a store seen without the capability) withdraws it too.
 */
export const CAPABILITY_METHODS = {
  blacklistSource: ['listBlacklisted'],
  importUsers: ['importUser'],
  sessions: ['recordSession', 'touchSession', 'listSessions', 'sessionOwner', 'countLiveSessions', 'listTokens', 'countUsers'],
  identities: ['findIdentity', 'linkIdentity', 'touchIdentity', 'unlinkIdentity', 'listIdentities'],
  oneTime: ['putOneTime', 'takeOneTime'],
  immediateUsers: ['findUserNow'],
  audit: ['appendAudit', 'listAudit', 'countAudit', 'flushAudit'],
  factors: ['addFactor', 'listFactors', 'findFactorByCredential', 'confirmFactor', 'useFactor', 'removeFactor', 'removeFactors', 'setRecoveryCodes', 'useRecoveryCode', 'countRecoveryCodes'],
} as const satisfies { readonly [C in StoreCapability]: readonly (keyof StoreCapabilityInterfaces[C])[] };

/** The optional capabilities every store of ours that keeps its own tables has (memory, SQLite, SQL). */
export const ALL_CAPABILITIES = ['blacklistSource', 'importUsers', 'sessions', 'identities', 'oneTime', 'audit', 'factors'] as const satisfies readonly StoreCapability[];

/** {@link ALL_CAPABILITIES} and `immediateUsers`: the capabilities of a store whose every call is answered at once (memory, SQLite). */
export const IN_PROCESS_CAPABILITIES = [...ALL_CAPABILITIES, 'immediateUsers'] as const satisfies readonly StoreCapability[];

type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/**
 * What a store declaring the capabilities `C` is: it lists them in `capabilities` and implements each one's
 * interface. `class S implements Store, WithCapabilities<'sessions' | 'oneTime'>` fails to compile when a declared
 * capability is not implemented.
 */
export type WithCapabilities<C extends StoreCapability> = { readonly capabilities: readonly C[] } & Intersection<StoreCapabilityInterfaces[C]>;

/** True when `store` declares the capability `name` (in `capabilities`) and has its methods. */
export function hasCapability<S extends object, C extends StoreCapability>(store: S, name: C): store is S & StoreCapabilityInterfaces[C] {
  const declared: unknown = (store as { capabilities?: unknown }).capabilities;
  if (!Array.isArray(declared) || !declared.includes(name)) return false;
  for (const method of CAPABILITY_METHODS[name]) if (typeof (store as Record<string, unknown>)[method] !== 'function') return false;
  return true;
}

/** True when `store` implements {@link SessionStore}. */
export function hasSessions<S extends object>(store: S): store is S & SessionStore {
  return hasCapability(store, 'sessions');
}

/** True when `store` implements {@link IdentityStore} and {@link OneTimeStore} (what social login needs). */
export function hasIdentities<S extends object>(store: S): store is S & IdentityStore & OneTimeStore {
  return hasCapability(store, 'identities') && hasCapability(store, 'oneTime');
}

/** True when `store` implements {@link AuditStore}. */
export function hasAudit<S extends object>(store: S): store is S & AuditStore {
  return hasCapability(store, 'audit');
}

/** True when `store` implements {@link FactorStore} (second factors). */
export function hasFactors<S extends object>(store: S): store is S & FactorStore {
  return hasCapability(store, 'factors');
}

/** True when `store` implements {@link UserImportStore}. */
export function canImportUsers<S extends object>(store: S): store is S & UserImportStore {
  return hasCapability(store, 'importUsers');
}

/** True when `store` implements {@link BlacklistSource} (what a revocation cache in front of it needs). */
export function isBlacklistSource<S extends object>(store: S): store is S & BlacklistSource {
  return hasCapability(store, 'blacklistSource');
}

/** The store's `findUserNow`, bound to it, when it declares `immediateUsers`; else undefined (lookups are awaited). */
export function immediateUserLookup(store: object): ImmediateUserLookup['findUserNow'] | undefined {
  return hasCapability(store, 'immediateUsers') ? store.findUserNow.bind(store) : undefined;
}
