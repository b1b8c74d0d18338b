import { describe, expect, it } from 'vitest';
import { decodeBase64url } from '../../src/core/jws/base64url.js';

describe('strict base64url', () => {
  it.each([
    ['AA', true],
    ['AB', false], // unused low bits set: the same byte as "AA" to a lenient decoder
    ['AAE', true],
    ['AAB', false],
    ['AAAA', true],
    ['A', false], // 4n+1 can never be base64
    ['AA==', false], // padding
    ['A+B/', false], // base64, not base64url
    ['AA A', false], // whitespace
    ['', true],
  ])('%j is %s', (input, ok) => {
    expect(decodeBase64url(input) !== null).toBe(ok);
  });

  it('every canonical encoding decodes to the bytes it came from', () => {
    for (let len = 0; len < 40; len++) {
      const bytes = Buffer.from(Array.from({ length: len }, (_, i) => (i * 37 + len) & 0xff));
      expect(decodeBase64url(bytes.toString('base64url'))).toEqual(bytes);
    }
  });
});
