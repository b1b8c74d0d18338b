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
 * when present; `exp <= now - leeway` is expired; `nbf > now + leeway` is not yet valid; `aud` must match when an
 * audience is configured and must be absent when none is; `iss` must match when configured.
 * @param checkExp false only for sliding refresh, where `refresh_exp` rules instead.
 */
export function validateRegisteredClaims(payload: Readonly<Record<string, unknown>>, settings: Settings, now: number, checkExp = true): void {
  const invalid = (): never => {
    throw new TokenError(invalidMessage(settings));
  };
  const { exp, nbf, iat, aud, iss } = payload;
  if (exp !== undefined) {
    if (!isNumericDate(exp)) invalid();
    if (checkExp && (exp as number) <= now - settings.leeway) throw new TokenError(expiredMessage(settings));
  }
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > now + settings.leeway)) invalid();
  if (iat !== undefined && !isNumericDate(iat)) invalid();
  const audience = settings.audience;
  if (audience === undefined) {
    // PyJWT refuses a token that names an audience when the service has none: it was meant for someone else.
    if (aud !== undefined && aud !== null && aud !== '' && !(Array.isArray(aud) && aud.length === 0)) invalid();
  } else {
    const wanted = typeof audience === 'string' ? [audience] : audience;
    const got = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : null;
    if (got === null || !got.some((a) => wanted.includes(a))) invalid();
  }
  if (settings.issuer !== undefined && iss !== settings.issuer) invalid();
}
