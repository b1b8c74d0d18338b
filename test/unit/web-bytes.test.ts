// The web-standard replacements for Buffer and node:crypto in the core's request paths, against the Node APIs they
// replace: the same answers on generated inputs.
import { timingSafeEqual } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, randomBytes, timingSafeEqualBytes, timingSafeEqualStrings, toBase64, toHex } from '../../packages/core/src/bytes.js';
import { utf8LengthExceeds } from '../../packages/core/src/http/parse-body.js';

// Every kind of UTF-16 code unit: ASCII, two- and three-byte characters, surrogate pairs and lone surrogates.
const text = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\udc00', '\ud83d'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 });

describe('utf8LengthExceeds: Buffer.byteLength(text) > limit', () => {
  it('agrees on generated text and limits around its length', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: -2, max: 2 }), fc.integer({ min: 0, max: 3 }), (t, delta, scale) => {
        const limit = Math.max(0, Buffer.byteLength(t) * (scale === 0 ? 1 : scale / 2) + delta);
        expect(utf8LengthExceeds(t, limit)).toBe(Buffer.byteLength(t) > limit);
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('standard base64', () => {
  it('encodes as Buffer does', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 70 }), (bytes) => {
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    }));
  });

  it('decodes only the canonical spelling of some bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')), fc.string({ unit: fc.constantFrom(...'AQgw+/=_- \n'), maxLength: 12 })), (encoded) => {
        const canonical = Buffer.from(Buffer.from(encoded, 'base64').toString('base64'), 'base64').toString('base64') === encoded;
        const decoded = fromBase64(encoded);
        if (canonical) expect(decoded && Buffer.from(decoded).toString('base64')).toBe(encoded);
        else expect(decoded).toBeNull();
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('constant-time equality', () => {
  it('answers what crypto.timingSafeEqual answers (false for different lengths)', () => {
    const pair = fc.oneof(
      fc.tuple(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 })),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).chain((a) => fc.tuple(fc.constant(a), fc.nat(a.length - 1), fc.integer({ min: 0, max: 1 })).map(([, i, same]) => [a, same === 1 ? a.slice() : a.map((x, j) => (j === i ? x ^ 1 : x))] as const)),
    );
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const expected = a.length === b.length && timingSafeEqual(a, b);
        expect(timingSafeEqualBytes(a, b)).toBe(expected);
        const s = (x: Uint8Array) => String.fromCharCode(...x);
        expect(timingSafeEqualStrings(s(a), s(b))).toBe(expected);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('randomBytes and toHex', () => {
  it('gives fresh bytes of the asked length; hex as Buffer writes it', () => {
    const a = randomBytes(16);
    expect(a).toHaveLength(16);
    expect(toHex(a)).toBe(Buffer.from(a).toString('hex'));
    expect(toHex(a)).not.toBe(toHex(randomBytes(16)));
    expect(toHex(new Uint8Array([0, 1, 0xab, 0xff]))).toBe('0001abff');
  });
});
