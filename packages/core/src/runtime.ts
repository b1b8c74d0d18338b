/**
 * What the JavaScript runtime offers beyond web-standard APIs. The core runs on Node, Bun, Deno and Cloudflare
 * Workers: it imports no `node:*` module statically (a Worker without Node compatibility refuses the whole bundle at
 * the first one), and asks for a Node built-in only where one is needed, through `process.getBuiltinModule` (Node
 * ≥ 20.16, Bun, Deno, workerd with `nodejs_compat`), which answers synchronously and is simply absent elsewhere.
 */

interface BuiltinLoader {
  process?: { getBuiltinModule?: (id: string) => unknown };
  navigator?: { userAgent?: unknown; hardwareConcurrency?: unknown };
}

const runtime = globalThis as BuiltinLoader;

/**
 * A Node built-in module (`node:module`, `node:os`…), or `undefined` where the runtime has no Node built-ins. `T` is
 * the part of the module the caller uses, declared by the caller (the core's published types name no Node type).
 */
export function nodeBuiltin<T>(id: `node:${string}`): T | undefined {
  const get = runtime.process?.getBuiltinModule;
  if (typeof get !== 'function') return undefined;
  try {
    return (get(id) ?? undefined) as T | undefined;
  } catch {
    // A runtime may list the function and still refuse a module it does not implement.
    return undefined;
  }
}

/**
 * True on Cloudflare Workers (workerd), with or without `nodejs_compat`: `navigator.userAgent` is
 * `'Cloudflare-Workers'` there, as Cloudflare documents for telling its runtime apart. There no native addon and no
 * WebAssembly compiled from bytes at run time can load, whatever the compatibility flags.
 */
export function isCloudflareWorkers(): boolean {
  return runtime.navigator?.userAgent === 'Cloudflare-Workers';
}

/**
 * A `require` that loads installed packages, native addons included (Node, Bun, Deno), or `undefined` where none can
 * load (a Worker: its `node:module`, under `nodejs_compat`, requires only what was bundled).
 */
export function packageRequire(from: string): ((id: string) => unknown) | undefined {
  if (isCloudflareWorkers()) return undefined;
  const createRequire = nodeBuiltin<{ createRequire?: (from: string) => (id: string) => unknown }>('node:module')?.createRequire;
  return typeof createRequire === 'function' ? createRequire(from) : undefined;
}

/** How many threads can run at once: Node's `os.availableParallelism()`, else `navigator.hardwareConcurrency`, else 1. */
export function availableParallelism(): number {
  const os = nodeBuiltin<{ availableParallelism?: () => number }>('node:os');
  const count = typeof os?.availableParallelism === 'function' ? os.availableParallelism() : runtime.navigator?.hardwareConcurrency;
  return typeof count === 'number' && Number.isSafeInteger(count) && count >= 1 ? count : 1;
}
