/**
 * Picks the best configured locale for an `Accept-Language` header (RFC 9110 §12.5.4): the highest q-value whose
 * language (or its primary subtag) is configured, else the default. Malformed entries are skipped, never fatal.
 */
export function negotiateLocale(header: string | undefined, available: readonly string[], fallback: string): string {
  if (header === undefined || header === '' || available.length <= 1) return fallback;
  let best = fallback;
  let bestQ = 0;
  for (const part of header.slice(0, 512).split(',')) {
    const [rawTag, ...attrs] = part.trim().split(';');
    const tag = rawTag?.trim().toLowerCase();
    if (!tag) continue;
    let q = 1;
    for (const attr of attrs) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/.exec(attr);
      if (m?.[1] !== undefined) q = Number(m[1]);
    }
    if (q <= bestQ) continue;
    const match = available.find((l) => l.toLowerCase() === tag) ?? available.find((l) => l.toLowerCase() === tag.split('-')[0]);
    if (match !== undefined) {
      best = match;
      bestQ = q;
    }
  }
  return best;
}
