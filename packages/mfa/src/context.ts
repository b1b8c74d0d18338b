/**
 * What every part of `@restjwt/mfa` shares: the checked options, the keys, and the restjwt service it works for. The
 * service is bound after it is built (`Mfa.routes(restjwt)`), because the service is built with the second factor in
 * hand (`createRestJwt({ secondFactor })`): the time, the audit setting and the log are the service's from then on, so
 * that a code's time step and an event's time follow the same (injectable) clock as the tokens.
 */
import { appendAudit, audited, auditOrigin, ConfigurationError, type AuditEventType, type AuditFields, type Audited, type FactorStore, type LogEvent, type OneTimeStore, type RestJwt, type Store } from '@restjwt/core';
import type { RequestMeta } from '@restjwt/core/adapter-kit';
import type { ResolvedMfaOptions } from './options.js';
import { hashRecoveryCode } from './recovery.js';
import { MfaKeyring } from './secrets.js';
import type { PasskeyContext } from './webauthn.js';

export class MfaContext implements PasskeyContext {
  readonly store: Store & FactorStore & OneTimeStore;
  readonly rpId: string;
  readonly rpName: string;
  readonly origins: readonly string[];
  readonly issuer: string;
  readonly keyring: MfaKeyring;
  private readonly recoveryKey: Buffer;
  private service: RestJwt | undefined;

  constructor(options: ResolvedMfaOptions, encryptionKey: string | undefined) {
    this.store = options.store;
    this.rpId = options.rpId;
    this.rpName = options.rpName;
    this.origins = options.origins;
    this.issuer = options.issuer;
    this.keyring = new MfaKeyring(encryptionKey);
    this.recoveryKey = this.keyring.subkey('recovery-code');
  }

  /**
   * Binds the restjwt service (once; the same one again is a no-op).
   *
   * @throws ConfigurationError for a service over another store, one built without this second factor, or a second service.
   */
  bind(restjwt: RestJwt): void {
    if (this.service === restjwt) return;
    if (this.service !== undefined) throw new ConfigurationError('These MFA routes are already mounted for another restjwt service: call createMfa once per service.');
    if (restjwt.store !== this.store) {
      throw new ConfigurationError('createMfa and createRestJwt were given different stores: give both the same store object (wrapped stores included).');
    }
    if (!restjwt.endpoints.some((e) => e.name === 'mfa')) {
      throw new ConfigurationError('This restjwt service has no second factor: build it with createRestJwt({ store, secondFactor: mfa.secondFactor, … }).');
    }
    this.service = restjwt;
  }

  /** The bound service. */
  get restjwt(): RestJwt {
    if (this.service === undefined) {
      throw new ConfigurationError(
        '@restjwt/mfa is not mounted: call mfa.routes(restjwt) with the service built from mfa.secondFactor (the enrolment routes need it, and so do sign-ins).',
      );
    }
    return this.service;
  }

  /** The service's clock, whole milliseconds. */
  now(): Date {
    return new Date(Math.floor(this.restjwt.tokens.nowSeconds() * 1000));
  }

  /** The `{ audit }` option of a change made for this request, or `{}` when the service does not audit. */
  audited(type: AuditEventType, meta: RequestMeta, fields: AuditFields): Audited {
    return audited(this.restjwt, type, this.now(), auditOrigin(meta.address, meta.headers), fields);
  }

  /** Writes an event that records no change (a refused step): a failed write is logged and changes no answer. */
  async appendAudit(type: AuditEventType, meta: RequestMeta, fields: AuditFields): Promise<void> {
    const event = this.audited(type, meta, fields).audit;
    if (event !== undefined) await appendAudit(this.restjwt, event, (e) => this.log(e));
  }

  log(event: LogEvent): void {
    this.restjwt.log(event);
  }

  /** The stored form of a recovery code (normalized first). */
  recoveryHash(normalized: string): string {
    return hashRecoveryCode(this.recoveryKey, normalized);
  }
}
