/**
 * Passkeys and security keys (WebAuthn Level 3) through `@simplewebauthn/server`, which parses and verifies every
 * byte; what is decided here is the policy: user verification always required, `none` attestation, passkeys
 * (resident keys) preferred, each challenge single-use and bound to whom it was issued for, and the signature counter
 * accepted by the store atomically (`useFactor`), so that a cloned authenticator, whose counter lags, is refused.
 */
import { createHash } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type CredentialDeviceType,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { FactorRecord, FactorStore, OneTimeStore, Store, UserRecord } from '@restjwt/core';

/** How long a challenge may be answered: the mfa step's own lifetime. */
export const CHALLENGE_SECONDS = 300;
/** What browsers are told to wait for the user (ms); the challenge itself lives {@link CHALLENGE_SECONDS}. */
const TIMEOUT_MS = 120_000;

/** What passkeys need of the service. */
export interface PasskeyContext {
  readonly store: Store & FactorStore & OneTimeStore;
  readonly rpId: string;
  readonly rpName: string;
  readonly origins: readonly string[];
  now(): Date;
}

/** What a factor of kind `webauthn` keeps in `meta` besides its public key and credential id. */
export interface PasskeyMeta {
  transports: AuthenticatorTransportFuture[];
  /** `singleDevice` (a security key: `hwk`) or `multiDevice` (a synced passkey: `swk`). */
  deviceType: CredentialDeviceType;
  backedUp: boolean;
  aaguid: string;
}

/**
 * Who may answer a challenge: the user registering (`user:<id>`, with the label asked for), a pending login (its
 * `binding`), or a passkey sign-in (its token's hash).
 */
export interface ChallengeBinding {
  purpose: 'register' | 'authenticate';
  binding: string;
  label?: string;
}

/** A verified registration, for the store. */
export interface NewPasskey {
  credentialId: string;
  /** The label given with the options, if any. */
  label: string | undefined;
  /** The COSE public key, base64url. */
  publicKey: string;
  meta: PasskeyMeta;
}

/** A verified assertion, or why it was refused (`assertion_invalid`, `counter_replayed`: the clone signal). */
export type AssertionResult = { ok: true; factor: FactorRecord; amr: 'hwk' | 'swk' } | { ok: false; reason: 'assertion_invalid' | 'counter_replayed'; detail: string; factor?: FactorRecord };

const challengeKey = (challenge: string): string => `mfa:webauthn:${createHash('sha256').update(challenge).digest('base64url')}`;

/** The user handle passkeys carry: the user's id, so a discoverable credential names its account. */
const userHandle = (user: UserRecord): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(user.id, 'utf8'));

/** A factor's passkey metadata; defaults for a row written by hand. */
export function passkeyMeta(factor: FactorRecord): PasskeyMeta {
  try {
    const meta = JSON.parse(factor.meta) as Partial<PasskeyMeta>;
    return {
      transports: Array.isArray(meta.transports) ? meta.transports : [],
      deviceType: meta.deviceType === 'multiDevice' ? 'multiDevice' : 'singleDevice',
      backedUp: meta.backedUp === true,
      aaguid: typeof meta.aaguid === 'string' ? meta.aaguid : '',
    };
  } catch {
    return { transports: [], deviceType: 'singleDevice', backedUp: false, aaguid: '' };
  }
}

/** RFC 8176: a key bound to one device (`hwk`), or a software key synced across devices (`swk`). */
export const amrOf = (deviceType: CredentialDeviceType): 'hwk' | 'swk' => (deviceType === 'multiDevice' ? 'swk' : 'hwk');

/** What the challenge check saw: the label kept with a registration's challenge, or the store failing under it. */
interface Taken {
  label?: string;
  failure?: { error: unknown };
}

/** Rethrows a store failure met while taking the challenge: an outage is no verdict on the authenticator's answer. */
function unlessStoreFailed(taken: Taken): void {
  if (taken.failure !== undefined) throw taken.failure.error;
}

/** Stores a challenge for one answer within {@link CHALLENGE_SECONDS}, keyed by its hash. */
async function keepChallenge(ctx: PasskeyContext, challenge: string, bound: ChallengeBinding): Promise<void> {
  await ctx.store.putOneTime(challengeKey(challenge), JSON.stringify(bound), new Date(ctx.now().getTime() + CHALLENGE_SECONDS * 1000));
}

/**
 * The check the library calls with the challenge the authenticator signed: taken from the store (so it is spent
 * whatever happens next, and a second answer finds nothing), and accepted only for whom it was issued.
 */
function takesChallenge(ctx: PasskeyContext, bound: ChallengeBinding, taken: Taken): (challenge: string) => Promise<boolean> {
  return async (challenge) => {
    if (typeof challenge !== 'string' || challenge.length === 0 || challenge.length > 1024) return false;
    let raw: string | null;
    try {
      raw = await ctx.store.takeOneTime(challengeKey(challenge), ctx.now());
    } catch (error) {
      // The library would report it as a wrong challenge; kept, and thrown after it (see `unlessStoreFailed`).
      taken.failure = { error };
      return false;
    }
    if (raw === null) return false;
    const kept = JSON.parse(raw) as Partial<ChallengeBinding>;
    if (kept.purpose !== bound.purpose || kept.binding !== bound.binding) return false;
    if (typeof kept.label === 'string') taken.label = kept.label;
    return true;
  };
}

/** The descriptors of `factors`' passkeys (for `excludeCredentials` and `allowCredentials`). */
function descriptors(factors: readonly FactorRecord[]): { id: string; transports: AuthenticatorTransportFuture[] }[] {
  return factors.filter((f) => f.kind === 'webauthn' && f.credentialId !== null).map((f) => ({ id: f.credentialId as string, transports: passkeyMeta(f).transports }));
}

/**
 * Options for `navigator.credentials.create()`: a passkey preferred (a security key without resident keys allowed),
 * user verification required, no attestation asked for, the user's passkeys excluded (a second registration of the
 * same authenticator is refused by the browser already).
 */
export async function registrationOptions(ctx: PasskeyContext, user: UserRecord, existing: readonly FactorRecord[], label?: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const options = await generateRegistrationOptions({
    rpName: ctx.rpName,
    rpID: ctx.rpId,
    userName: user.username,
    userID: userHandle(user),
    userDisplayName: user.username,
    timeout: TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: descriptors(existing),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
  });
  await keepChallenge(ctx, options.challenge, { purpose: 'register', binding: `user:${user.id}`, ...(label === undefined ? {} : { label }) });
  return options;
}

/** A registration that did not verify; `message` is the library's reason, for the log. */
export class RegistrationRefused extends Error {
  override readonly name = 'RegistrationRefused';
}

/**
 * Verifies `navigator.credentials.create()`'s answer for `user`: the challenge (taken: single-use) was issued to this
 * user, origin and RP id are ours, the user was verified.
 *
 * @throws RegistrationRefused when it does not verify; the store's own errors (an outage) as they are.
 */
export async function verifyRegistration(ctx: PasskeyContext, user: UserRecord, response: RegistrationResponseJSON): Promise<NewPasskey> {
  const taken: Taken = {};
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: takesChallenge(ctx, { purpose: 'register', binding: `user:${user.id}` }, taken),
      expectedOrigin: [...ctx.origins],
      expectedRPID: ctx.rpId,
      requireUserPresence: true,
      requireUserVerification: true,
    });
  } catch (error) {
    unlessStoreFailed(taken);
    throw new RegistrationRefused(error instanceof Error ? error.message.slice(0, 200) : 'unverifiable');
  }
  if (!verified.verified) throw new RegistrationRefused('the attestation did not verify');
  const info = verified.registrationInfo;
  return {
    credentialId: info.credential.id,
    label: taken.label,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    meta: {
      transports: info.credential.transports ?? response.response.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
    },
  };
}

/**
 * Options for `navigator.credentials.get()`, user verification required. With `factors` (the mfa step): only the
 * user's own passkeys are allowed. Without (passkey sign-in): none are named, so the browser offers its discoverable
 * credentials for this site and the answer names the account.
 */
export async function authenticationOptions(ctx: PasskeyContext, binding: string, factors?: readonly FactorRecord[]): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await generateAuthenticationOptions({
    rpID: ctx.rpId,
    timeout: TIMEOUT_MS,
    userVerification: 'required',
    ...(factors === undefined ? {} : { allowCredentials: descriptors(factors) }),
  });
  await keepChallenge(ctx, options.challenge, { purpose: 'authenticate', binding });
  return options;
}

/**
 * Verifies `navigator.credentials.get()`'s answer: a registered credential (of `userId` when given), the challenge
 * issued for `binding` (taken: single-use), our origin and RP id, user presence and verification, the signature over
 * both; then the store accepts its signature counter only if it moved forward (or both are 0: authenticators that keep
 * none), atomically. Never throws for a bad assertion: it says why in the result; the store's errors (an outage) are
 * thrown as they are.
 */
export async function verifyAssertion(ctx: PasskeyContext, response: AuthenticationResponseJSON, binding: string, userId?: string): Promise<AssertionResult> {
  const id = typeof response.id === 'string' ? response.id : '';
  const factor = id === '' || id.length > 1023 ? null : await ctx.store.findFactorByCredential(id);
  if (factor === null || factor.kind !== 'webauthn' || !factor.confirmed || (userId !== undefined && factor.userId !== userId)) {
    return { ok: false, reason: 'assertion_invalid', detail: 'unknown credential' };
  }
  // A discoverable credential names its account; it must be the one the credential was registered to.
  const handle = response.response?.userHandle;
  if (typeof handle === 'string' && handle !== '' && handle !== Buffer.from(factor.userId, 'utf8').toString('base64url')) {
    return { ok: false, reason: 'assertion_invalid', detail: 'user handle of another account', factor };
  }
  const taken: Taken = {};
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: takesChallenge(ctx, { purpose: 'authenticate', binding }, taken),
      expectedOrigin: [...ctx.origins],
      expectedRPID: ctx.rpId,
      // The counter is left to the store (useFactor below), which compares and stores it in one atomic step: of two
      // assertions with the same counter (an authenticator and its clone) only one passes, even at the same moment.
      credential: { id, publicKey: new Uint8Array(Buffer.from(factor.secret, 'base64url')), counter: 0, transports: passkeyMeta(factor).transports },
      requireUserVerification: true,
    });
  } catch (error) {
    unlessStoreFailed(taken);
    return { ok: false, reason: 'assertion_invalid', detail: error instanceof Error ? error.message.slice(0, 200) : 'unverifiable', factor };
  }
  unlessStoreFailed(taken);
  if (!verified.verified) return { ok: false, reason: 'assertion_invalid', detail: 'bad signature', factor };
  const info = verified.authenticationInfo;
  if (!(await ctx.store.useFactor(factor.id, info.newCounter, ctx.now()))) {
    return { ok: false, reason: 'counter_replayed', detail: `signature counter ${info.newCounter} did not move past the stored one`, factor };
  }
  return { ok: true, factor, amr: amrOf(info.credentialDeviceType) };
}

/** True when `value` has the outer shape of a credential the browser returned (the library checks the rest). */
export function isCredentialJson(value: unknown): value is RegistrationResponseJSON & AuthenticationResponseJSON {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.response === 'object' && v.response !== null && !Array.isArray(v.response);
}
