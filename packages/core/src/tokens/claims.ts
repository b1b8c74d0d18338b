import { TokenError } from '../errors.js';
import type { Message } from '../i18n/translate.js';
import type { Settings } from '../settings/types.js';

/** The message for "the signature or a registered claim is wrong", in the configured simplejwt version's words. */
export function invalidMessage(settings: Settings): Message {
  return { key: settings.messageVersion === '5.2' ? 'token_invalid_or_expired' : 'token_invalid' };
}

export function expiredMessage(settings: Settings): Message {
  return { key: settings.messageVersion === '5.2' ? 'token_invalid_or_expired' : 'token_expired' };
}

const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * PyJWT's registered-claim checks, as simplejwt runs them (and jose agrees on): `exp`/`nbf`/`iat` must be numbers
 * when present; `exp <= now - leeway` is expired; `nbf > now + leeway` and `iat > now + leeway` are not yet valid
 * (PyJWT's ImmatureSignatureError, which simplejwt answers as an invalid token); `aud` must match when an audience is
 * configured and must be absent when none is; `iss` must match when configured.
 * @param checkExp false only for sliding refresh, where `refresh_exp` rules instead.
 */
export function validateRegisteredClaims(payload: Readonly<Record<string, unknown>>, settings: Settings, now: number, checkExp = true): void {
  // No closure or arrays here: this runs on every uncached verification, and each would be an allocation.
  const { exp, nbf, iat, aud, iss } = payload;
  if (exp !== undefined) {
    if (!isNumericDate(exp)) invalid(settings);
    if (checkExp && (exp as number) <= now - settings.leeway) throw new TokenError(expiredMessage(settings));
  }
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > now + settings.leeway)) invalid(settings);
  if (iat !== undefined && (!isNumericDate(iat) || iat > now + settings.leeway)) invalid(settings);
  const audience = settings.audience;
  if (audience === undefined) {
    // PyJWT refuses a token that names an audience when the service has none: it was meant for someone else.
    if (aud !== undefined && aud !== null && aud !== '' && !(Array.isArray(aud) && aud.length === 0)) invalid(settings);
  } else if (!audienceMatches(aud, audience)) {
    invalid(settings);
  }
  if (settings.issuer !== undefined && iss !== settings.issuer) invalid(settings);
}

function invalid(settings: Settings): never {
  throw new TokenError(invalidMessage(settings));
}

/** `aud` (a string, or an array of strings only) names at least one of the configured audiences. */
function audienceMatches(aud: unknown, audience: string | readonly string[]): boolean {
  if (typeof aud === 'string') return wanted(aud, audience);
  if (!Array.isArray(aud)) return false;
  const list = aud as unknown[];
  // `i in list` skips holes, as every() and some() did.
  for (let i = 0; i < list.length; i++) if (i in list && typeof list[i] !== 'string') return false;
  for (let i = 0; i < list.length; i++) if (i in list && wanted(list[i] as string, audience)) return true;
  return false;
}

function wanted(aud: string, audience: string | readonly string[]): boolean {
  return typeof audience === 'string' ? aud === audience : audience.includes(aud);
}
