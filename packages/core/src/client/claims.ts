/** Reads a JWT's payload without verifying it: the client only needs `exp` to schedule refreshes. */
export function decodeClaims(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (part === undefined) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      Array.from(atob(b64), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    const claims = JSON.parse(json) as unknown;
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Seconds since the epoch at which the token expires, or null when it has no readable `exp`. */
export function expiresAt(token: string): number | null {
  const exp = decodeClaims(token)?.exp;
  return typeof exp === 'number' ? exp : null;
}
