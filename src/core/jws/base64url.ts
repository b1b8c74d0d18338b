/** Exactly the base64url alphabet, no padding (RFC 7515 §2). */
const STRICT = /^[A-Za-z0-9_-]*$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Decodes base64url strictly: foreign characters, padding, and lengths that cannot be base64 (4n+1) are refused,
 * and so are non-canonical encodings (unused trailing bits set), which lenient decoders accept and map to the same
 * bytes — refusing them keeps one token string per signature. Returns null when the input is not canonical.
 */
export function decodeBase64url(input: string): Buffer | null {
  const rest = input.length % 4;
  if (rest === 1 || !STRICT.test(input)) return null;
  // The last character of a 2- or 3-character group carries 4 or 2 unused bits, which must be zero.
  if (rest !== 0 && (ALPHABET.indexOf(input[input.length - 1] as string) & (rest === 2 ? 0x0f : 0x03)) !== 0) return null;
  return Buffer.from(input, 'base64url');
}

export function encodeBase64url(input: Buffer | Uint8Array | string): string {
  return (typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input)).toString('base64url');
}
