import { describe, expect, it } from 'vitest';
import { decodeBase64url, decodeBase64urlInto, decodeBase64urlPortable, encodeBase64url, encodeBase64urlPortable } from '../../packages/core/src/jws/base64url.js';

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

  // decodeBase64urlInto is what the per-token path uses: it must agree with decodeBase64url on every input.
  const into = (input: string): Buffer | null => {
    const target = Buffer.alloc(((input.length * 3) >>> 2) + 8, 0xee);
    const n = decodeBase64urlInto(input, target);
    return n < 0 ? null : target.subarray(0, n);
  };

  it('decodeBase64urlInto agrees with decodeBase64url: foreign characters in every position, every length', () => {
    const foreign = ['=', '+', '/', ' ', '\n', '.', '\0', '\u00e9', '\u012b', '\u2b00', '\ud800', '!'];
    for (let len = 0; len < 14; len++) {
      const base = Buffer.from(Array.from({ length: len }, (_, i) => (i * 91 + 7) & 0xff)).toString('base64url');
      const variants = [base, base.slice(0, -1), `${base}A`, `${base}AB`];
      for (let i = 0; i <= base.length; i++) {
        for (const f of foreign) variants.push(base.slice(0, i) + f + base.slice(i + 1), base.slice(0, i) + f + base.slice(i));
      }
      for (const v of variants) expect(into(v), JSON.stringify(v)).toEqual(decodeBase64url(v));
    }
  });

  it('decodeBase64urlInto agrees on long inputs too (Buffer.from takes another path past 4 kB)', () => {
    for (const len of [3000, 4095, 4096, 4097, 6000, 9000]) {
      const text = Buffer.from(Array.from({ length: len }, (_, i) => (i * 131) & 0xff)).toString('base64url');
      for (const v of [text, `${text.slice(0, 1000)}=${text.slice(1001)}`, `${text.slice(0, -2)}+${text.slice(-1)}`]) {
        expect(into(v)).toEqual(decodeBase64url(v));
      }
    }
  });

  it('decodeBase64urlInto never writes past the bytes it reports, and refuses a target without room', () => {
    const target = Buffer.alloc(8, 0xee);
    expect(decodeBase64urlInto('AAAA', target)).toBe(3);
    expect([...target.subarray(3)]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee]);
    expect(() => decodeBase64urlInto('AAAAAAAAAAAA', target)).toThrow(RangeError);
  });

  // The web path's decoder (no Buffer) must answer exactly what the node one answers, on every input.
  it('decodeBase64urlPortable agrees with decodeBase64url: foreign characters in every position, every length', () => {
    const foreign = ['=', '+', '/', ' ', '\n', '.', '\0', '\u00e9', '\u012b', '\u2b00', '\ud800', '!', '\u0080', '\u00ff'];
    let compared = 0;
    for (let len = 0; len < 14; len++) {
      const base = Buffer.from(Array.from({ length: len }, (_, i) => (i * 91 + 7) & 0xff)).toString('base64url');
      const variants = [base, base.slice(0, -1), `${base}A`, `${base}AB`, `${base.slice(0, -1)}B`, `${base.slice(0, -1)}_`];
      for (let i = 0; i <= base.length; i++) {
        for (const f of foreign) variants.push(base.slice(0, i) + f + base.slice(i + 1), base.slice(0, i) + f + base.slice(i));
      }
      for (const v of variants) {
        const node = decodeBase64url(v);
        const portable = decodeBase64urlPortable(v);
        expect(portable === null ? null : Buffer.from(portable), JSON.stringify(v)).toEqual(node === null ? null : Buffer.from(node));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('encodeBase64urlPortable encodes as Buffer does, every length', () => {
    for (let len = 0; len < 70; len++) {
      const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 151 + len * 7) & 0xff);
      expect(encodeBase64urlPortable(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
      expect(encodeBase64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
    }
    expect(encodeBase64url('h\u00e9\u{1f600}')).toBe(Buffer.from('h\u00e9\u{1f600}').toString('base64url'));
  });
});
