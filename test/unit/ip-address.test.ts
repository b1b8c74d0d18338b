// The core's IP parser against Node's, which it replaces so that the core loads without node:net: the same verdict
// as net.isIP on every input, and the same range membership as net.BlockList.
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inRanges, ipVersion } from '../../packages/core/src/http/client-ip.js';

const RUNS = 20_000;

const octet = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 255 }).map(String), weight: 4 }, fc.constantFrom('00', '01', '007', '256', '999', '1000', '-1', '+1', ' 1', '1e1', '0x1'));
const hexGroup = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16)),
  fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16).toUpperCase().padStart(4, '0')),
  fc.constantFrom('', '00000', '12345', 'g', 'fffg', '-1', ' 1'),
);
const zone = fc.oneof(fc.constant(''), fc.stringMatching(/^%[0-9a-zA-Z.:_%é -]{0,6}$/));
const dottedQuad = fc.oneof({ arbitrary: fc.array(octet, { minLength: 4, maxLength: 4 }), weight: 3 }, fc.array(octet, { minLength: 3, maxLength: 5 })).map((parts) => parts.join('.'));
// Near-misses of the IPv6 grammar: 0 to 9 groups, a few `::` or none (any place), IPv4 parts (anywhere), a zone or not.
const ipv6ish = fc
  .tuple(
    fc.array(fc.tuple(fc.oneof({ arbitrary: hexGroup, weight: 6 }, { arbitrary: dottedQuad, weight: 1 }), fc.constantFrom(':', ':', ':', '::', ':::')), { maxLength: 9 }),
    fc.oneof(hexGroup, dottedQuad, fc.constant('')),
    fc.constantFrom('', ':', '::'),
    zone,
  )
  .map(([groups, last, lead, z]) => lead + groups.map(([g, sep]) => g + sep).join('') + last + z);
// One-character edits of well-formed addresses: the inputs closest to the boundary.
const edited = fc
  .tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom(...'0123456789abcdefABCDEFg:.%-z '))
  .map(([text, at, how, char]) => {
    const i = at % (text.length + 1);
    if (how === 'insert') return text.slice(0, i) + char + text.slice(i);
    if (how === 'delete') return text.slice(0, i) + text.slice(i + 1);
    return text.slice(0, i) + char + text.slice(i + 1);
  });
const anyInput = fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV6(), dottedQuad, ipv6ish, edited, fc.string({ maxLength: 12 }));

describe('ipVersion: the same answer as net.isIP', () => {
  it.each([
    ['127.0.0.1', 4], ['0.0.0.0', 4], ['255.255.255.255', 4], ['01.2.3.4', 0], ['1.2.3.04', 0], ['256.1.1.1', 0], ['1.2.3', 0],
    ['1.2.3.4%eth0', 0], ['::', 6], ['::1', 6], ['1::', 6], ['::ffff:1.2.3.4', 6], ['1::1.2.3.4', 6], ['::00000', 0],
    ['1:2:3:4:5:6:7::', 6], ['::1:2:3:4:5:6:7', 6], ['1:2:3:4:5:6:7:8:9', 0], ['1:2:3:4:5:6::1.2.3.4', 0],
    ['1:2:3:4:5::1.2.3.4', 6], ['1:2:3:4:5:6:1.2.3.4', 6], ['1.2.3.4::', 0], ['::1.2.3.4:1', 0], ['1.2.3.4:1:2:3:4:5:6', 0], [':::', 0], ['1::2::3', 0], [':1::', 0],
    ['fe80::1%eth0', 6], ['fe80::1%', 0], ['fe80::1%a%b', 0], ['fe80::1%a_b', 0], ['fe80::1%:.-', 6], ['', 0],
  ])('%j is %i', (text, expected) => {
    expect(isIP(text)).toBe(expected); // the table is Node's own answer
    expect(ipVersion(text)).toBe(expected);
  });

  it('agrees with net.isIP on generated addresses and near-misses', () => {
    let valid = 0;
    fc.assert(
      fc.property(anyInput, (text) => {
        const expected = isIP(text);
        if (expected !== 0) valid++;
        expect(ipVersion(text)).toBe(expected);
      }),
      { numRuns: RUNS },
    );
    // The generators reach both sides of the boundary, or the property proves little.
    expect(valid).toBeGreaterThan(RUNS / 10);
    expect(valid).toBeLessThan(RUNS * 0.9);
  });
});

describe('inRanges: the same membership as net.BlockList', () => {
  // An address, and a range base that shares its first `shared` bits (the rest random): membership turns on whether
  // the prefix is longer than the shared bits, so both answers come up at every prefix length.
  const near = (bytes: number) =>
    fc
      .tuple(fc.uint8Array({ minLength: bytes, maxLength: bytes }), fc.uint8Array({ minLength: bytes, maxLength: bytes }), fc.integer({ min: 0, max: bytes * 8 }), fc.integer({ min: 0, max: bytes * 8 }))
      .map(([address, noise, shared, prefix]) => {
        const base = address.map((byte, i) => {
          const keep = Math.max(0, Math.min(8, shared - i * 8));
          const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
          return (byte & mask) | ((noise[i] as number) & ~mask & 0xff);
        });
        return { address, base, prefix };
      });
  const v4 = (b: Uint8Array) => Array.from(b).join('.');
  const v6 = (b: Uint8Array) => Array.from({ length: 8 }, (_, i) => (((b[2 * i] as number) << 8) | (b[2 * i + 1] as number)).toString(16)).join(':');
  const isMapped = (b: Uint8Array) => b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

  it('IPv4', () => {
    fc.assert(
      fc.property(near(4), ({ address, base, prefix }) => {
        const list = new BlockList();
        list.addSubnet(v4(base), prefix, 'ipv4');
        expect(inRanges(v4(address), [`${v4(base)}/${prefix}`])).toBe(list.check(v4(address), 'ipv4'));
      }),
      { numRuns: 5_000 },
    );
  });

  it('IPv6 (outside the IPv4-mapped range, which counts as IPv4)', () => {
    fc.assert(
      fc.property(near(16).filter(({ address, base }) => !isMapped(address) && !isMapped(base)), ({ address, base, prefix }) => {
        const list = new BlockList();
        list.addSubnet(v6(base), prefix, 'ipv6');
        expect(inRanges(v6(address), [`${v6(base)}/${prefix}`])).toBe(list.check(v6(address), 'ipv6'));
      }),
      { numRuns: 5_000 },
    );
  });

  it('counts an IPv4-mapped IPv6 address, in any spelling, as its IPv4 address', () => {
    for (const mapped of ['::ffff:10.1.2.3', '::FFFF:a01:203', '0:0:0:0:0:ffff:10.1.2.3', '0::ffff:0a01:0203']) {
      expect(inRanges(mapped, ['10.0.0.0/8'])).toBe(true);
      expect(inRanges(mapped, ['11.0.0.0/8'])).toBe(false);
    }
    expect(inRanges('::fffe:10.1.2.3', ['10.0.0.0/8'])).toBe(false);
  });
});
