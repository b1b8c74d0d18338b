/**
 * What the core asks of a second factor, and what it keeps of a login waiting for one. The core owns the protocol
 * (`POST token/` answering `mfa_required`, the single-use `mfa_token`, `POST token/mfa/`, the `amr` claim); the
 * factors themselves — TOTP, WebAuthn, recovery codes, their enrolment — are `@restjwt/mfa`'s, given to
 * `createRestJwt({ secondFactor })`.
 */
import type { RequestMeta } from '../http/types.js';
import type { UserRecord } from '../store/types.js';

/** A way to pass the second step: an authenticator app's code, a passkey or security key, a recovery code. */
export type MfaMethod = 'totp' | 'webauthn' | 'recovery';

/** A login that passed its first step (the password) and waits for its second. */
export interface PendingLogin {
  /** A stable id of this pending login (not the `mfa_token` itself): binds a WebAuthn challenge to it. */
  readonly binding: string;
  readonly userId: string;
  /** `refresh` (`token/`) or `sliding` (`token/sliding/`): what the completed login issues. */
  readonly kind: 'refresh' | 'sliding';
  /** RFC 8176 methods of the steps passed so far (`pwd`; none for a social sign-in). */
  readonly amr: readonly string[];
  /** How the first step signed in: `password`, or the social provider's name (the completed login's audit `method`). */
  readonly method: string;
  readonly methods: readonly MfaMethod[];
}

/** Implemented by `@restjwt/mfa`; see the module comment. */
export interface SecondFactor {
  /** The methods `user` may finish a login with; none (the user has no confirmed factor): the pair at once. */
  methodsFor(user: UserRecord): Promise<MfaMethod[]>;
  /**
   * The challenge of `method` for this pending login (WebAuthn: the assertion options, its challenge stored for one
   * use), answered by `token/mfa/` when asked `{"mfa_token", "method"}` without a proof.
   */
  challenge(user: UserRecord, method: MfaMethod, login: PendingLogin): Promise<Readonly<Record<string, unknown>>>;
  /**
   * Checks the proof in the request body (`code`, `recovery_code`, or `webauthn`: an assertion) and resolves with the
   * RFC 8176 methods it adds (`otp`, `hwk`, `swk`); rejects with `MfaCodeInvalid` (its `reason` is audited).
   */
  verify(user: UserRecord, proof: Readonly<Record<string, unknown>>, login: PendingLogin, meta: RequestMeta): Promise<string[]>;
}

/** How long a login waits for its second step. */
export const MFA_TOKEN_LIFETIME_SECONDS = 300;
/** Wrong proofs one `mfa_token` takes before it is spent (the login throttle counts them too). */
export const MFA_MAX_ATTEMPTS = 5;
