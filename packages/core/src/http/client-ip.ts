import { isIP } from 'node:net';

/**
 * Whether `address` is in one of `cidrs` (IPv4 `a.b.c.d/n`, IPv6 `x::/n`, or a bare address). IPv4-mapped IPv6
 * addresses (`::ffff:a.b.c.d`, as Node reports IPv4 clients on a dual-stack socket) count as IPv4.
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

function toBytes(address: string): number[] | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const addr = mapped?.[1] ?? address;
  const kind = isIP(addr);
  if (kind === 4) return addr.split('.').map(Number);
  if (kind !== 6) return null;
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').flatMap((g) => (g.includes('.') ? ipv4Groups(g) : [parseInt(g, 16)])) : []);
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  return groups.flatMap((g) => [(g >> 8) & 0xff, g & 0xff]);
}

function ipv4Groups(v4: string): number[] {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
  return [(a << 8) | b, (c << 8) | d];
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
    if (isIP(hop) === 0) return socket; // a malformed chain is not trusted at all
    if (!inRanges(hop, trustedProxies)) return hop;
  }
  return hops[0] ?? socket;
}
