/**
 * Just enough DER to read what a PEM key is without importing it (the web path validates keys synchronously, where
 * the user configures them, and imports them with WebCrypto only later): the algorithm and curve OIDs of an SPKI or
 * PKCS #8 structure and an RSA key's modulus length. Anything unexpected reads as null.
 */

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function tlv(bytes: Uint8Array, offset: number, limit: number): Tlv | null {
  if (offset + 2 > limit) return null;
  const tag = bytes[offset] as number;
  let length = bytes[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) return null;
    length = 0;
    for (let i = 0; i < n; i++) length = (length << 8) | (bytes[start + i] as number);
    start += n;
  }
  const end = start + length;
  return end > limit ? null : { tag, start, end };
}

/** The children of a constructed element. */
function children(bytes: Uint8Array, parent: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = tlv(bytes, at, parent.end);
    if (child === null) return null;
    out.push(child);
    at = child.end;
  }
  return out;
}

function oid(bytes: Uint8Array, t: Tlv | undefined): string | null {
  if (t === undefined || t.tag !== 0x06 || t.end <= t.start) return null;
  const first = bytes[t.start] as number;
  const parts = [Math.min(Math.floor(first / 40), 2), first - 40 * Math.min(Math.floor(first / 40), 2)];
  let value = 0;
  for (let i = t.start + 1; i < t.end; i++) {
    const b = bytes[i] as number;
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

/** Bit length of a DER INTEGER (unsigned magnitude). */
function integerBits(bytes: Uint8Array, t: Tlv | undefined): number {
  if (t === undefined || t.tag !== 0x02) return 0;
  let i = t.start;
  while (i < t.end && bytes[i] === 0) i++;
  if (i === t.end) return 0;
  return (t.end - i - 1) * 8 + (32 - Math.clz32(bytes[i] as number));
}

const KEY_TYPES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.113549.1.1.10': 'rsa-pss',
  '1.2.840.10045.2.1': 'ec',
  '1.3.101.112': 'ed25519',
  '1.3.101.113': 'ed448',
  '1.3.101.110': 'x25519',
  '1.3.101.111': 'x448',
};

/** Node's curve names, which the key checks and messages use on both paths. */
export const CURVES: Readonly<Record<string, string>> = {
  '1.2.840.10045.3.1.7': 'prime256v1',
  '1.3.132.0.34': 'secp384r1',
  '1.3.132.0.35': 'secp521r1',
  '1.3.132.0.10': 'secp256k1',
};

export interface DerFacts {
  asymmetricKeyType: string;
  namedCurve?: string;
  modulusLength?: number;
}

/** What an SPKI (`public`) or PKCS #8 (`private`) DER structure holds, or null when it is not one. */
export function readKeyDer(bytes: Uint8Array, kind: 'public' | 'private'): DerFacts | null {
  const outer = tlv(bytes, 0, bytes.length);
  if (outer === null || outer.tag !== 0x30 || outer.end !== bytes.length) return null;
  const top = children(bytes, outer);
  if (top === null) return null;
  // SPKI: SEQUENCE { AlgorithmIdentifier, BIT STRING }; PKCS #8: SEQUENCE { INTEGER, AlgorithmIdentifier, OCTET STRING, … }.
  const [algId, key] = kind === 'public' ? [top[0], top[1]] : [top[1], top[2]];
  if (kind === 'private' && top[0]?.tag !== 0x02) return null;
  if (algId?.tag !== 0x30 || key?.tag !== (kind === 'public' ? 0x03 : 0x04)) return null;
  const algParts = children(bytes, algId);
  const type = KEY_TYPES[oid(bytes, algParts?.[0]) ?? ''];
  if (type === undefined) return null;
  if (type === 'ec') {
    const curve = oid(bytes, algParts?.[1]);
    return { asymmetricKeyType: type, namedCurve: CURVES[curve ?? ''] ?? curve ?? 'unknown' };
  }
  if (type === 'rsa' || type === 'rsa-pss') {
    // The key inside: RSAPublicKey { n, e } after the BIT STRING's unused-bits byte; RSAPrivateKey { version, n, … }.
    const inner = tlv(bytes, kind === 'public' ? key.start + 1 : key.start, key.end);
    const fields = inner === null || inner.tag !== 0x30 ? null : children(bytes, inner);
    return { asymmetricKeyType: type, modulusLength: integerBits(bytes, fields?.[kind === 'public' ? 0 : 1]) };
  }
  return { asymmetricKeyType: type };
}
