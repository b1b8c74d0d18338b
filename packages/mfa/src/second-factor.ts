/**
 * The core's `SecondFactor` over the store's factors: which methods a user may finish a login with, the WebAuthn
 * challenge of a pending login, and the check of a proof (`code`, `recovery_code`, `webauthn`). The core owns the
 * protocol around it (the `mfa_token`, its attempts, the throttle, the `mfa_failed` audit, issuing the pair); this
 * file decides what is a valid proof and why one is not (`MfaCodeInvalid`'s reason).
 */
import { MfaCodeInvalid, ValidationError, type FactorRecord, type MfaMethod, type PendingLogin, type SecondFactor, type UserRecord } from '@restjwt/core';
import type { RequestMeta } from '@restjwt/core/adapter-kit';
import type { MfaContext } from './context.js';
import { normalizeRecoveryCode } from './recovery.js';
import { matchTotp, normalizeTotpCode } from './totp.js';
import { authenticationOptions, isCredentialJson, verifyAssertion } from './webauthn.js';

/** What a TOTP code did against a user's authenticator apps. */
export type TotpVerdict = 'ok' | 'invalid' | 'reused';

/** Implements the core's {@link SecondFactor}; built by `createMfa`, given to `createRestJwt({ secondFactor })`. */
export class MfaSecondFactor implements SecondFactor {
  constructor(private readonly ctx: MfaContext) {}

  /**
   * `totp` with a confirmed authenticator app, `webauthn` with a passkey, and then `recovery` while codes are left;
   * none without a confirmed factor (recovery codes alone never make a login ask for a second step).
   */
  async methodsFor(user: UserRecord): Promise<MfaMethod[]> {
    const factors = await this.ctx.store.listFactors(user.id);
    const methods: MfaMethod[] = [];
    if (factors.some((f) => f.kind === 'totp' && f.confirmed)) methods.push('totp');
    if (factors.some((f) => f.kind === 'webauthn' && f.confirmed)) methods.push('webauthn');
    if (methods.length > 0 && (await this.ctx.store.countRecoveryCodes(user.id)) > 0) methods.push('recovery');
    return methods;
  }

  /** WebAuthn: assertion options for the user's passkeys, the challenge bound to this pending login. Others have none. */
  async challenge(user: UserRecord, method: MfaMethod, login: PendingLogin): Promise<Readonly<Record<string, unknown>>> {
    if (method !== 'webauthn') return {};
    const factors = (await this.ctx.store.listFactors(user.id)).filter((f) => f.kind === 'webauthn' && f.confirmed);
    return { ...(await authenticationOptions(this.ctx, login.binding, factors)) };
  }

  /**
   * Checks the proof: `code` (a current authenticator code, each time step accepted once), `recovery_code` (spent),
   * or `webauthn` (an assertion of one of the user's passkeys, for a challenge of this login). Resolves with the RFC
   * 8176 methods it adds: `otp`, or `hwk`/`swk`.
   *
   * @throws MfaCodeInvalid with reason `code_invalid`, `code_reused`, `recovery_code_invalid`, `assertion_invalid` or
   *   `counter_replayed`; ValidationError for a proof of the wrong type (not counted as an attempt).
   */
  async verify(user: UserRecord, proof: Readonly<Record<string, unknown>>, login: PendingLogin, meta: RequestMeta): Promise<string[]> {
    if (Object.hasOwn(proof, 'code')) {
      const code = normalizeTotpCode(stringProof(proof, 'code'));
      const verdict = code === null || !login.methods.includes('totp') ? 'invalid' : await this.checkTotp(user, code);
      if (verdict === 'reused') throw new MfaCodeInvalid('code_reused');
      if (verdict === 'invalid') throw new MfaCodeInvalid('code_invalid');
      return ['otp'];
    }
    if (Object.hasOwn(proof, 'recovery_code')) {
      const code = normalizeRecoveryCode(stringProof(proof, 'recovery_code'));
      if (code === null || !(await this.spendRecoveryCode(user, code, meta))) throw new MfaCodeInvalid('recovery_code_invalid');
      return ['otp'];
    }
    const assertion = proof.webauthn;
    if (!isCredentialJson(assertion)) {
      throw new ValidationError({ webauthn: [{ key: 'invalid_data', params: { type: assertion === null ? 'null' : Array.isArray(assertion) ? 'list' : typeof assertion } }] });
    }
    if (!login.methods.includes('webauthn')) throw new MfaCodeInvalid('assertion_invalid');
    const result = await verifyAssertion(this.ctx, assertion, login.binding, user.id);
    if (!result.ok) {
      this.ctx.log({ event: 'mfa_webauthn_refused', level: 'info', userId: user.id, reason: `${result.reason}: ${result.detail}` });
      throw new MfaCodeInvalid(result.reason);
    }
    return [result.amr];
  }

  /**
   * A code against the user's confirmed authenticator apps (or only `factor`): `ok` when it matches one within a step
   * of now and the store accepts that step as new, `reused` when it matches a step already used (or older than one
   * used), `invalid` otherwise.
   */
  async checkTotp(user: UserRecord, code: string, factor?: FactorRecord): Promise<TotpVerdict> {
    const factors = factor !== undefined ? [factor] : (await this.ctx.store.listFactors(user.id)).filter((f) => f.kind === 'totp' && f.confirmed);
    const nowSeconds = this.ctx.now().getTime() / 1000;
    let reused = false;
    for (const f of factors) {
      const step = await matchTotp(this.ctx.keyring.open(f.secret, user.id), code, nowSeconds);
      if (step === null) continue;
      if (await this.ctx.store.useFactor(f.id, step, this.ctx.now())) return 'ok';
      reused = true;
    }
    return reused ? 'reused' : 'invalid';
  }

  /** Spends one of the user's recovery codes (normalized), audited `recovery_code_used`; false when it is not one. */
  async spendRecoveryCode(user: UserRecord, normalized: string, meta: RequestMeta): Promise<boolean> {
    const left = Math.max(0, (await this.ctx.store.countRecoveryCodes(user.id)) - 1);
    const audit = this.ctx.audited('recovery_code_used', meta, { userId: user.id, username: user.username, detail: { left } });
    const spent = await this.ctx.store.useRecoveryCode(user.id, this.ctx.recoveryHash(normalized), audit);
    if (spent) this.ctx.log({ event: 'recovery_code_used', level: 'info', userId: user.id, left });
    return spent;
  }
}

/** A proof field that must be text; anything else is a malformed request (400), not a wrong code. */
function stringProof(proof: Readonly<Record<string, unknown>>, name: string): string {
  const value = proof[name];
  if (typeof value !== 'string') throw new ValidationError({ [name]: [{ key: value === null ? 'field_null' : 'field_not_string' }] });
  if (value.length > 64) throw new ValidationError({ [name]: [{ key: 'field_too_long', params: { max: 64 } }] });
  return value;
}
