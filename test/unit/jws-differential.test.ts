/**
 * The JWS differential property test (test/differential/jws-differential.ts: restjwt's verifier against jose's
 * compactVerify, every algorithm, valid, tampered and random tokens) on Node, against both primitives: node:crypto
 * (the synchronous fast path) and WebCrypto (the path of runtimes without node:crypto). The same module runs under
 * Bun, Deno and workerd through test/differential/entry.ts.
 */
import { describe, expect, it } from 'vitest';
import { DOCUMENTED, runJwsDifferential } from '../differential/jws-differential.js';

describe('verifyCompact against jose compactVerify', () => {
  it.each(['node', 'web'] as const)('the %s primitive differs from jose only in the documented stricter cases', async (primitive) => {
    const result = await runJwsDifferential({ primitive });
    expect(result.failures.slice(0, 5)).toEqual([]);
    expect(result.failures).toHaveLength(0);
    // Every property ran at full strength: ~2 000 generated cases, each run through several mutations.
    expect(result.checked).toBeGreaterThan(4000);
    expect(result.differences.bothAccept).toBeGreaterThan(0);
    expect(result.differences.bothRefuse).toBeGreaterThan(0);
    for (const kind of Object.keys(result.differences)) {
      if (kind !== 'bothAccept' && kind !== 'bothRefuse') expect(Object.keys(DOCUMENTED)).toContain(kind);
    }
    if (process.env.JWS_DIFF_VERBOSE) console.info(`jws differential (${primitive}):`, result.checked, result.differences);
  }, 600_000);
});
