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
  if (!canonicalShape(input)) return null;
  const bytes = Buffer.from(input, 'base64url');
  return bytes.length === ((input.length * 3) >>> 2) ? bytes : null;
}

/**
 * decodeBase64url into `target` from its first byte, with the same checks: the number of bytes written, or -1 when
 * `input` is not canonical. `target` needs room for ⌊3n/4⌋ bytes (n = input.length). The per-token path decodes into
 * reused areas this way, sparing a Buffer object and its pool bytes per segment (Buffer.from goes through the same
 * decoder, writing at most that many bytes, so the count written is the length Buffer.from would have had).
 */
export function decodeBase64urlInto(input: string, target: Buffer): number {
  if (!canonicalShape(input)) return -1;
  const expected = (input.length * 3) >>> 2;
  if (target.length < expected) throw new RangeError('decodeBase64urlInto: target too small');
  return target.write(input, 0, expected, 'base64url') === expected ? expected : -1;
}

/** The checks decoding cannot make: length, unused bits, ASCII, no `+` or `/` (see decodeBase64url). */
function canonicalShape(input: string): boolean {
  const length = input.length;
  const rest = length % 4;
  if (rest === 1) return false;
  // The last character of a 2- or 3-character group carries 4 or 2 unused bits, which must be zero. A character
  // outside the alphabet gives -1 here, which has those bits set: refused too.
  if (rest !== 0 && (ALPHABET.indexOf(input[length - 1] as string) & (rest === 2 ? 0x0f : 0x03)) !== 0) return false;
  return Buffer.byteLength(input, 'utf8') === length && input.indexOf('+') === -1 && input.indexOf('/') === -1;
}

export function encodeBase64url(input: Buffer | Uint8Array | string): string {
  return (typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input)).toString('base64url');
}
