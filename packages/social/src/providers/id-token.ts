import { timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { SocialError } from '../errors.js';
import type { SocialProfile } from './types.js';

/** Asymmetric algorithms only: an HMAC-signed ID token would be checked with the client secret, and `none` never. */
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** How to validate one provider's ID tokens. */
export interface IdTokenRules {
  /** The provider's JWKS endpoint. */
  jwksUri: string;
  /** The expected `iss` (one of), or a check on the payload (providers whose issuer depends on the tenant). */
  issuer: readonly string[] | ((payload: JWTPayload) => boolean);
  /** Our client id: the audience the token must name, and the `azp` it may name. */
  clientId: string;
  /** More accepted audiences (native apps' own client ids). */
  audiences?: readonly string[];
  /** Algorithms the provider signs with (discovery's `id_token_signing_alg_values_supported`); asymmetric ones only. */
  algorithms?: readonly string[];
  /** Refuse tokens issued longer ago than this (seconds), so that an old token cannot be replayed forever. */
  maxAgeSeconds?: number;
}

/**
 * Validates ID tokens with `jose` against a provider's published keys (fetched once, cached, refetched for an
 * unknown `kid`): signature, issuer, audience (and `azp`), expiry, age and nonce.
 */
export class IdTokenVerifier {
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly rules: IdTokenRules) {
    this.keys = createRemoteJWKSet(new URL(rules.jwksUri), { timeoutDuration: 10_000 });
  }

  /**
   * The validated claims. The nonce must equal `nonce` exactly; with `nonce` undefined the token must carry none
   * (a token bound to some other request's nonce is refused).
   */
  async verify(token: string, nonce: string | undefined): Promise<JWTPayload> {
    const r = this.rules;
    const audiences = [r.clientId, ...(r.audiences ?? [])];
    const algorithms = (r.algorithms ?? ASYMMETRIC).filter((a) => ASYMMETRIC.includes(a));
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        audience: audiences,
        algorithms,
        ...(Array.isArray(r.issuer) ? { issuer: r.issuer as string[] } : {}),
        ...(r.maxAgeSeconds === undefined ? {} : { maxTokenAge: r.maxAgeSeconds }),
        requiredClaims: ['sub', 'iat', 'exp'],
        clockTolerance: 30,
      }));
    } catch (err) {
      throw mapJoseError(err);
    }
    if (typeof r.issuer === 'function' && !r.issuer(payload)) throw new SocialError('social_id_token_invalid', 'unexpected issuer');
    // Several audiences: the party it was issued to (azp) must be ours (OpenID Connect Core §3.1.3.7).
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp === undefined) throw new SocialError('social_id_token_invalid', 'azp missing');
    if (payload.azp !== undefined && !audiences.includes(String(payload.azp))) throw new SocialError('social_id_token_invalid', 'unexpected azp');
    if (!sameNonce(payload.nonce, nonce)) throw new SocialError('social_nonce_mismatch');
    return payload;
  }
}

function sameNonce(claim: unknown, expected: string | undefined): boolean {
  if (expected === undefined) return claim === undefined;
  if (typeof claim !== 'string') return false;
  const a = Buffer.from(claim);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function mapJoseError(err: unknown): SocialError {
  if (err instanceof joseErrors.JWKSTimeout) return new SocialError('social_provider_unavailable', 'JWKS timeout');
  if (err instanceof joseErrors.JOSEError) return new SocialError('social_id_token_invalid', err.code);
  // fetch failures (the JWKS endpoint is down) surface as TypeError.
  if (err instanceof TypeError) return new SocialError('social_provider_unavailable', `JWKS: ${err.message}`);
  return new SocialError('social_id_token_invalid', err instanceof Error ? err.name : 'unknown');
}

/** Providers differ: OpenID says boolean `true`, some (AWS Cognito) send the string. Anything else is unverified. */
export function isVerifiedFlag(value: unknown): boolean {
  return value === true || value === 'true';
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** The normalized profile of standard OpenID Connect claims. */
export function profileFromClaims(claims: Readonly<Record<string, unknown>>, emailVerified = isVerifiedFlag(claims.email_verified)): SocialProfile {
  const subject = str(claims.sub);
  if (subject === null) throw new SocialError('social_profile_invalid', 'no sub');
  const email = str(claims.email);
  return {
    subject,
    email,
    emailVerified: email !== null && emailVerified,
    name: str(claims.name),
    username: str(claims.preferred_username) ?? str(claims.nickname),
  };
}
