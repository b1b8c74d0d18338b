/**
 * Second factors for restjwt (`@restjwt/mfa`): authenticator apps (TOTP, RFC 6238), passkeys and security keys
 * (WebAuthn), and recovery codes, for the core's second login step (`mfa_required` → `POST /api/token/mfa/`), with
 * the routes that enrol and remove them and a passkey-only sign-in.
 *
 * The service needs the second factor when it is built, and the routes need the service, so there are two steps:
 *
 * ```ts
 * const mfa = createMfa({ store, rpId: 'example.com', rpName: 'Example', origins: ['https://example.com'], encryptionKey });
 * const restjwt = createRestJwt({ store, secondFactor: mfa.secondFactor });
 * for (const route of mfa.routes(restjwt)) mount(route); // binds mfa to the service: its clock, log and audit log
 * ```
 */
import type { RestJwt, SecondFactor } from '@restjwt/core';
import { MfaContext } from './context.js';
import { resolveMfaOptions, type MfaOptions } from './options.js';
import { MfaRoutes, type MfaRoute } from './routes.js';
import { MfaSecondFactor } from './second-factor.js';

export type { MfaOptions, ResolvedMfaOptions } from './options.js';
export { MfaError, mfaErrorResponse, type MfaErrorCode } from './errors.js';
export { type MfaRoute, type MfaRouteName } from './routes.js';
export { keyMaterial } from './secrets.js';
export { RECOVERY_CODE_COUNT } from './recovery.js';

/** Second factors on one restjwt service: see the module comment. */
export class Mfa {
  /** For `createRestJwt({ secondFactor })`: the core's second login step asks it for methods, challenges and checks. */
  readonly secondFactor: SecondFactor;
  private readonly ctx: MfaContext;
  private readonly factor: MfaSecondFactor;

  /** @throws ConfigurationError for bad options (see {@link createMfa}). */
  constructor(options: MfaOptions) {
    this.ctx = new MfaContext(resolveMfaOptions(options), options.encryptionKey);
    this.factor = new MfaSecondFactor(this.ctx);
    this.secondFactor = this.factor;
  }

  /**
   * The route table for an adapter to mount (under the service's prefix: `mfa/…` and `token/passkey/…`), and the
   * binding of this MFA to `restjwt`, which must be the service built with {@link Mfa.secondFactor} over the same store.
   * Call it before serving: the second login step uses the service's clock and audit log too.
   *
   * @throws ConfigurationError for a service over another store, built without this second factor, or a second service.
   */
  routes(restjwt: RestJwt): MfaRoute[] {
    this.ctx.bind(restjwt);
    return new MfaRoutes(this.ctx, this.factor).routes();
  }
}

/**
 * Builds second factors over `options.store`.
 *
 * @throws ConfigurationError when the store keeps no second factors (the Django shared-database store) or no one-time
 *   values, the encryption key is missing or shorter than 32 bytes, or the RP id, name or origins are not usable.
 */
export function createMfa(options: MfaOptions): Mfa {
  return new Mfa(options);
}
