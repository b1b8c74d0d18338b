/**
 * Random bytes, hex and standard base64, and constant-time equality, on web-standard APIs only (WebCrypto's
 * `getRandomValues`, `btoa`/`atob`): the same code on every runtime. Base64url lives with the JWS code
 * (`jws/base64url.ts`), which needs its strict decoder.
 */

/** `length` bytes from the platform's CSPRNG (`crypto.getRandomValues`, at most 65 536 bytes a call). */
export function randomBytes(length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex, two characters a byte. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX[byte] as string;
  return out;
}

/** Standard base64 with padding (RFC 4648 §4), as Python's `base64.b64encode` writes it. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Decodes standard base64, canonical form only: the text must be exactly what {@link toBase64} writes for its bytes
 * (padding present, unused bits zero, no whitespace), so one value has one spelling. Returns null otherwise.
 */
export function fromBase64(text: string): Uint8Array | null {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return null;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return toBase64(bytes) === text ? bytes : null;
}

/**
 * Whether `a` and `b` hold the same bytes, in time that depends on their length only (every byte is compared,
 * whatever the first difference), so a comparison against a secret leaks nothing about how much of it was guessed.
 * Different lengths answer false at once: lengths are not the secret here.
 */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** {@link timingSafeEqualBytes} over the UTF-16 code units of two strings. */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
