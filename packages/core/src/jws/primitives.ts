import type { Buffer as NodeBuffer } from 'node:buffer';
import type * as NodeCrypto from 'node:crypto';
import type { webcrypto } from 'node:crypto';

/** WebCrypto's types (the same in every runtime; @types/node names them). */
export type CryptoKey = webcrypto.CryptoKey;
export type SubtleCrypto = webcrypto.SubtleCrypto;

/**
 * Which signature primitive this runtime gives the JWS code, decided once here.
 *
 * Why not `import … from 'node:crypto'`: a Worker without Node compatibility cannot even load a module that imports
 * a `node:` specifier statically, nor one that touches the global `Buffer`. `process.getBuiltinModule` (Node ≥ 20.16,
 * Bun, Deno, workerd with nodejs_compat) hands the same modules over synchronously, so where it exists the fast,
 * synchronous node:crypto path is kept (one-shot calls, reused byte areas: no promise, no microtask per request);
 * where it does not, the WebCrypto path (`globalThis.crypto.subtle`, asynchronous) is used. Everything but the
 * primitive itself (header checks, key selection, signature lengths, payload parsing) is the same code on both paths.
 * workerd is the exception: with nodejs_compat it has node:crypto, but a partial one (crypto.sign refuses a KeyObject
 * inside its options, for one), while its WebCrypto is complete and native — so Workers always take the web path.
 */
export type Primitive = 'node' | 'web';

/** node:crypto and Buffer, where the runtime has them. */
export interface NodeBuiltins {
  readonly crypto: typeof NodeCrypto;
  readonly Buffer: typeof NodeBuffer;
}

function loadNode(): NodeBuiltins | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof process?.getBuiltinModule !== 'function') return undefined;
  if ((globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers') return undefined;
  try {
    const crypto = process.getBuiltinModule('node:crypto') as typeof NodeCrypto | undefined;
    const buffer = process.getBuiltinModule('node:buffer') as { Buffer?: typeof NodeBuffer } | undefined;
    if (typeof crypto?.createHmac !== 'function' || typeof buffer?.Buffer?.from !== 'function') return undefined;
    return { crypto, Buffer: buffer.Buffer };
  } catch {
    return undefined;
  }
}

/** node:crypto and Buffer, or undefined on a web-only runtime. */
export const nodeBuiltins: NodeBuiltins | undefined = loadNode();

/** The primitive keysets use unless told otherwise: node:crypto wherever it exists. */
export const DEFAULT_PRIMITIVE: Primitive = nodeBuiltins === undefined ? 'web' : 'node';

/** node:crypto and Buffer; throws where the runtime has none (a keyset asked for the node primitive there). */
export function requireNode(): NodeBuiltins {
  if (nodeBuiltins === undefined) throw new TypeError('node:crypto is not available in this runtime: use the "web" primitive');
  return nodeBuiltins;
}

/** WebCrypto's SubtleCrypto; throws where the runtime has none. */
export function subtle(): SubtleCrypto {
  const s = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (s === undefined) throw new TypeError('WebCrypto (globalThis.crypto.subtle) is not available in this runtime');
  return s;
}
