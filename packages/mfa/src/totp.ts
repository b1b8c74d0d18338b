/**
 * Time-based one-time passwords (RFC 6238) as authenticator apps compute them: 6 digits, 30-second steps, HMAC-SHA-1,
 * a 160-bit secret in base32. The arithmetic is otplib's; what is decided here is the window (one step either side,
 * for clocks that drift) and that a check answers the time step it matched, so that the store can accept each step
 * once (`FactorStore.useFactor`): a code seen over someone's shoulder is spent once its owner has used it.
 */
import { generateSecret, generateURI, verify } from 'otplib';

/** The parameters every authenticator app assumes when the URI names none. */
const DIGITS = 6;
const PERIOD_SECONDS = 30;
/** One step either side of now. */
const DRIFT_SECONDS = PERIOD_SECONDS;
/** RFC 4226 §4 recommends 160 bits, SHA-1's output size. */
const SECRET_BYTES = 20;

/** A new shared secret: 20 random bytes, base32 (what the user types or the QR code carries). */
export function newTotpSecret(): string {
  return generateSecret({ length: SECRET_BYTES });
}

/**
 * The `otpauth://totp/…` URI an authenticator app scans (as a QR code): `issuer` and `account` name the entry in the
 * app; the parameters are the defaults, spelled out for apps that do not assume them.
 */
export function otpauthUri(secret: string, issuer: string, account: string): string {
  return generateURI({ issuer, label: account, secret, algorithm: 'sha1', digits: DIGITS, period: PERIOD_SECONDS });
}

/** A code as typed: digits, with spaces (as apps show `123 456`) removed; null when it cannot be a code at all. */
export function normalizeTotpCode(code: string): string | null {
  const digits = code.replace(/\s+/g, '');
  return new RegExp(`^[0-9]{${DIGITS}}$`).test(digits) ? digits : null;
}

/**
 * The RFC 6238 time step `code` belongs to, when it is the code of `secret` for the step of `nowSeconds` or one step
 * either side; null otherwise. Whether that step was already used is the store's to say.
 */
export async function matchTotp(secret: string, code: string, nowSeconds: number): Promise<number | null> {
  const result = await verify({ secret, token: code, epoch: Math.floor(nowSeconds), epochTolerance: DRIFT_SECONDS, digits: DIGITS, period: PERIOD_SECONDS, algorithm: 'sha1' });
  // otplib's result type covers HOTP too, whose answer has no time step.
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}
