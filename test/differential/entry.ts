/**
 * Runs the JWS differential test (jws-differential.ts) against every primitive this runtime has and prints one JSON
 * line: `{"runtime": …, "node": {checked, differences, failures} | null, "web": … | null}`. Runtime-neutral: run it
 * with `bun`, `deno run -A` (through a bundle), or in workerd from a fetch handler (worker.ts).
 */
import { nodeBuiltins } from '../../packages/core/src/jws/primitives.js';
import { runJwsDifferential, type DifferentialResult } from './jws-differential.js';

export interface AllResults {
  runtime: string;
  node: DifferentialResult | null;
  web: DifferentialResult | null;
}

function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } }; navigator?: { userAgent?: string }; process?: { versions?: { node?: string } } };
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return 'workerd';
  if (g.process?.versions?.node !== undefined) return `node ${g.process.versions.node}`;
  return g.navigator?.userAgent ?? 'unknown';
}

/** Both primitives where available (node:crypto through process.getBuiltinModule, WebCrypto through crypto.subtle). */
export async function runAll(scale = 1): Promise<AllResults> {
  const hasWeb = (globalThis as { crypto?: { subtle?: unknown } }).crypto?.subtle !== undefined;
  return {
    runtime: runtimeName(),
    node: nodeBuiltins === undefined ? null : await runJwsDifferential({ primitive: 'node', scale }),
    web: hasWeb ? await runJwsDifferential({ primitive: 'web', scale }) : null,
  };
}

// Run at once everywhere but workerd (whose global scope may not do asynchronous work: it answers fetches instead).
if (runtimeName() !== 'workerd' && (globalThis as { RESTJWT_DIFFERENTIAL_NO_MAIN?: boolean }).RESTJWT_DIFFERENTIAL_NO_MAIN !== true) {
  const scale = Number((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.JWS_DIFF_SCALE ?? '1');
  const results = await runAll(scale);
  console.log(JSON.stringify(results));
  const proc = (globalThis as { process?: { exitCode?: number } }).process;
  if (proc !== undefined && (results.node?.failures.length ?? 0) + (results.web?.failures.length ?? 0) > 0) proc.exitCode = 1;
}
