/**
 * Whether `address` is in one of `cidrs` (IPv4 `a.b.c.d/n`, IPv6 `x::/n`, or a bare address). IPv4-mapped IPv6
 * addresses (`::ffff:a.b.c.d`, as Node reports IPv4 clients on a dual-stack socket, in any IPv6 spelling) count as
 * IPv4.
 */
export function inRanges(address: string, cidrs: readonly string[]): boolean {
  const a = toBytes(address);
  if (a === null) return false;
  for (const cidr of cidrs) {
    const [base, bitsText] = cidr.split('/');
    const b = toBytes(base ?? '');
    if (b === null || b.length !== a.length) continue;
    const bits = bitsText === undefined ? a.length * 8 : Number(bitsText);
    if (!Number.isInteger(bits) || bits < 0 || bits > a.length * 8) continue;
    let ok = true;
    for (let i = 0; i < a.length && ok; i++) {
      const take = Math.max(0, Math.min(8, bits - i * 8));
      const mask = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
      ok = ((a[i] as number) & mask) === ((b[i] as number) & mask);
    }
    if (ok) return true;
  }
  return false;
}

/**
 * The bytes of an IP address: 4 for IPv4 and for IPv4-mapped IPv6 (`::ffff:0:0/96`), 16 for other IPv6; null for
 * anything that is not an address.
 */
function toBytes(address: string): number[] | null {
  const v4 = parseIPv4(address);
  if (v4 !== null) return v4;
  const bytes = parseIPv6(address);
  if (bytes === null) return null;
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

/**
 * 4 for an IPv4 address, 6 for an IPv6 address, 0 for anything else: the same answers as Node's `net.isIP`
 * (test/unit/ip-address.test.ts holds it to them), without `node:net`. IPv4 is a dotted quad of decimal numbers up to
 * 255 without leading zeros; IPv6 is eight groups of one to four hex digits, or fewer around one `::` standing for at
 * least one zero group, the last two groups possibly written as an IPv4 address, then optionally a zone id: `%` and
 * one or more of `0-9 A-Z a-z - . :`.
 */
export function ipVersion(address: string): 0 | 4 | 6 {
  if (parseIPv4(address) !== null) return 4;
  return parseIPv6(address) === null ? 0 : 6;
}

const DECIMAL_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const ZONE_ID = /^[0-9a-zA-Z.:-]+$/;

function parseIPv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!DECIMAL_OCTET.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes.push(value);
  }
  return bytes;
}

/** The 16 bytes of an IPv6 address (its zone id, if any, checked and dropped), or null. */
function parseIPv6(text: string): number[] | null {
  const percent = text.indexOf('%');
  if (percent !== -1 && !ZONE_ID.test(text.slice(percent + 1))) return null;
  const address = percent === -1 ? text : text.slice(0, percent);
  const gap = address.indexOf('::');
  if (gap !== -1 && address.indexOf('::', gap + 1) !== -1) return null;
  // The groups before and after the `::` (all of them in `tail` when there is none); an IPv4 ending only at the end.
  const head = gap === -1 ? [] : groupsOf(address.slice(0, gap), false);
  const tail = groupsOf(gap === -1 ? address : address.slice(gap + 2), true);
  if (head === null || tail === null) return null;
  const explicit = head.length + tail.length;
  if (gap === -1 ? explicit !== 8 : explicit > 7) return null;
  const groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...tail];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The 16-bit groups of a `:`-separated run ('' has none); with `ipv4Last`, the last one may be an IPv4 (two groups). */
function groupsOf(run: string, ipv4Last: boolean): number[] | null {
  if (run === '') return [];
  const parts = run.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
      continue;
    }
    const v4 = ipv4Last && i === parts.length - 1 ? parseIPv4(part) : null;
    if (v4 === null) return null;
    groups.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
  }
  return groups;
}

/**
 * The client's address: the socket peer, unless the peer is a configured trusted proxy, in which case the
 * right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Headers from anyone else are ignored, so a
 * client cannot pick the address it is throttled under.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | undefined, trustedProxies: readonly string[]): string {
  const socket = peer ?? 'unknown';
  if (trustedProxies.length === 0 || forwardedFor === undefined || !inRanges(socket, trustedProxies)) return socket;
  const hops = forwardedFor.split(',').map((h) => h.trim()).filter((h) => h.length > 0);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (ipVersion(hop) === 0) return socket; // a malformed chain is not trusted at all
    if (!inRanges(hop, trustedProxies)) return hop;
  }
  return hops[0] ?? socket;
}
