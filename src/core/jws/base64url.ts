/** Exactly the base64url alphabet, no padding (RFC 7515 §2). */
const STRICT = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes base64url strictly: foreign characters, padding, and lengths that cannot be base64 (4n+1) are refused,
 * and so are non-canonical encodings (unused trailing bits set), which lenient decoders accept and map to the same
 * bytes — refusing them keeps one token string per signature. Returns null when the input is not canonical.
 */
export function decodeBase64url(input: string): Buffer | null {
  if (input.length % 4 === 1 || !STRICT.test(input)) return null;
  const bytes = Buffer.from(input, 'base64url');
  // Round-trip check rejects non-canonical trailing bits.
  if (bytes.length !== ((input.length * 3) >> 2) || bytes.toString('base64url') !== input) return null;
  return bytes;
}

export function encodeBase64url(input: Buffer | Uint8Array | string): string {
  return (typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input)).toString('base64url');
}
