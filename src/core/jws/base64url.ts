const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Decodes base64url strictly: foreign characters, padding, and lengths that cannot be base64 (4n+1) are refused,
 * and so are non-canonical encodings (unused trailing bits set), which lenient decoders accept and map to the same
 * bytes — refusing them keeps one token string per signature. Returns null when the input is not canonical.
 *
 * How, without a regular expression over the input (2-4x slower: 0.57 µs for a 342-character RS256 signature):
 * the input must be ASCII (its UTF-8 length is its length: Node decodes a character above U+00FF by its low byte
 * only, so U+012B would pass for "+"); Node's decoder skips every ASCII character outside the base64 and base64url
 * alphabets (whitespace, `=`, `.`, controls…), so an input holding one decodes to fewer than ⌊3n/4⌋ bytes, which is
 * checked; and the two characters of standard base64 that Node decodes too (`+`, `/`) are searched for.
 * test/unit/base64url.test.ts and the JWS differential tests hold it to the strict alphabet.
 */
export function decodeBase64url(input: string): Buffer | null {
  const length = input.length;
  const rest = length % 4;
  if (rest === 1) return null;
  // The last character of a 2- or 3-character group carries 4 or 2 unused bits, which must be zero. A character
  // outside the alphabet gives -1 here, which has those bits set: refused too.
  if (rest !== 0 && (ALPHABET.indexOf(input[length - 1] as string) & (rest === 2 ? 0x0f : 0x03)) !== 0) return null;
  if (Buffer.byteLength(input, 'utf8') !== length || input.indexOf('+') !== -1 || input.indexOf('/') !== -1) return null;
  const bytes = Buffer.from(input, 'base64url');
  return bytes.length === ((length * 3) >>> 2) ? bytes : null;
}

export function encodeBase64url(input: Buffer | Uint8Array | string): string {
  return (typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input)).toString('base64url');
}
