/**
 * The published packages as a user gets them: `npm pack` of every workspace, and fresh projects that install an
 * install line (`npm i @restjwt/core @restjwt/express express pg`) from those tarballs instead of the registry.
 *
 * Every `@restjwt/*` and `restjwt` name resolves to its tarball through `overrides` as well as in `dependencies`,
 * so the siblings a package depends on (`@restjwt/express` → `@restjwt/core`) come from the tarballs too, and the
 * tree npm builds is the one a user's `npm i` builds. Everything else comes from the registry.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The workspace root: the nearest folder up with the workspace's package.json (also from the compiled bench copy). */
function workspaceRoot(): string {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown }).workspaces !== undefined) return dir;
  }
  throw new Error(`no workspace root above ${import.meta.dirname}`);
}
const ROOT = workspaceRoot();

/** Package name → absolute path of its tarball. */
export type Tarballs = Readonly<Record<string, string>>;

/** Packs every workspace (their `dist/` must be built: `npm test` builds first) into `dir`. */
export function packWorkspaces(dir: string): Tarballs {
  const r = spawnSync('npm', ['pack', '--workspaces', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack failed:\n${r.stderr}`);
  const packed = JSON.parse(r.stdout) as { name: string; filename: string }[];
  return Object.fromEntries(packed.map((p) => [p.name, join(dir, p.filename)]));
}

/** What `npm install` printed and how a fresh project came out. */
export interface Installed {
  dir: string;
  status: number | null;
  output: string;
  ms: number;
}

/** Options of {@link installLine}. */
export interface InstallOptions {
  /** npm's cache folder; a fresh one measures a cold install. Default: the user's cache. */
  cache?: string;
  /** More devDependencies (typescript, @types/node), installed after the line itself. */
  dev?: readonly string[];
  /** No install scripts (a types-only check needs no native build). */
  ignoreScripts?: boolean;
  /** better-sqlite3's binary from an earlier build on this machine instead of a compile: see {@link reuseNativeBuilds}. */
  reuseNativeBuild?: boolean;
}

/** better-sqlite3 is the one native package an install line may bring. */
const NATIVE = 'better-sqlite3';
/** Where the binaries built here are kept as prebuild-install tarballs, one per version and Node ABI. */
const PREBUILDS = join(tmpdir(), 'restjwt-test-prebuilds');

/** The file name prebuild-install looks for (its download URL's last part) for `version` on this Node. */
function prebuildName(version: string): string {
  return `${NATIVE}-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
}

/**
 * Keeps the better-sqlite3 binary under `projectDir` (compiled there, or unpacked from a tarball) as the prebuilt
 * tarball of its version, once: written aside and renamed, so concurrent installs never read half a file.
 */
function keepNativeBuild(projectDir: string): void {
  const version = installedVersion(projectDir, NATIVE);
  const binary = join(projectDir, 'node_modules', NATIVE, 'build', 'Release', 'better_sqlite3.node');
  if (version === undefined || !existsSync(binary)) return;
  const target = join(PREBUILDS, prebuildName(version));
  if (existsSync(target)) return;
  mkdirSync(PREBUILDS, { recursive: true });
  const partial = `${target}.${process.pid}.tmp`;
  const r = spawnSync('tar', ['-czf', partial, '-C', join(projectDir, 'node_modules', NATIVE), 'build/Release/better_sqlite3.node']);
  if (r.status === 0) renameSync(partial, target);
}

/**
 * Makes better-sqlite3's install script (`prebuild-install || node-gyp rebuild`) in the project `dir` find a binary
 * already built on this machine, the way a user's machine finds the prebuilt one it downloads: this machine cannot
 * reach GitHub's release downloads, so without it every install compiles SQLite from source (a minute or more of
 * both cores, for each of the install tests' apps). Seeded from the workspace's own install (the lockfile's version,
 * which is also the newest 12.x); an install that had to compile another version leaves its binary for the next.
 * prebuild-install reads `.prebuild-installrc` from the folders above the package it installs.
 */
export function reuseNativeBuilds(dir: string): void {
  keepNativeBuild(ROOT);
  writeFileSync(join(dir, '.prebuild-installrc'), `${JSON.stringify({ 'local-prebuilds': PREBUILDS })}\n`);
}

/** The packages an install line names, as `npm i` takes them: `name` or `name@range`. */
export function parseLine(line: string): string[] {
  const words = line.trim().split(/\s+/);
  if (words[0] !== 'npm' || words[1] !== 'i') throw new Error(`not an install line: ${line}`);
  return words.slice(2);
}

/** Splits `name@range` (scoped names keep their leading @). */
function nameOf(spec: string): [string, string | undefined] {
  const at = spec.indexOf('@', 1);
  return at === -1 ? [spec, undefined] : [spec.slice(0, at), spec.slice(at + 1)];
}

/** Runs a command to its end without blocking the event loop (several installs overlap), with everything it printed. */
function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

/**
 * A fresh project (in the OS temporary folder) that ran `line` against the tarballs: `npm i @restjwt/core hono`
 * installs `@restjwt/core` from its tarball and `hono` from the registry.
 */
export async function installLine(line: string, tarballs: Tarballs, options: InstallOptions = {}): Promise<Installed> {
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-app-'));
  const local = Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`]));
  const dependencies: Record<string, string> = {};
  for (const spec of parseLine(line)) {
    const [name, range] = nameOf(spec);
    // `npm i name` installs the latest release (and records its ^range).
    dependencies[name] = local[name] ?? range ?? 'latest';
  }
  // overrides reach the siblings required by version ("@restjwt/core": "0.1.0"), which no registry has; npm wants a
  // direct dependency and its override to be the same spec, which they are.
  const manifest = { name: 'app', version: '1.0.0', private: true, type: 'module', dependencies, overrides: local };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const cacheArgs = [...(options.cache === undefined ? [] : ['--cache', options.cache]), ...(options.ignoreScripts === true ? ['--ignore-scripts'] : [])];
  if (options.reuseNativeBuild === true) reuseNativeBuilds(dir);
  const started = performance.now();
  const installed = await run('npm', ['install', '--no-audit', '--no-fund', ...cacheArgs], dir, 600_000);
  const ms = performance.now() - started;
  if (options.reuseNativeBuild === true && installed.status === 0) keepNativeBuild(dir);
  let { status, output } = installed;
  if (status === 0) {
    // What `npm i name` records: the caret range of the version it installed.
    for (const [name, spec] of Object.entries(dependencies)) if (spec === 'latest') dependencies[name] = `^${installedVersion(dir, name) ?? '0.0.0'}`;
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ ...manifest, dependencies }, null, 2)}\n`);
  }
  if (status === 0 && options.dev !== undefined && options.dev.length > 0) {
    const dev = await run('npm', ['i', '-D', '--no-audit', '--no-fund', ...cacheArgs, ...options.dev], dir, 300_000);
    output += dev.output;
    status = dev.status;
  }
  return { dir, status, output, ms };
}

/** Every package installed for production (`npm ls --all --omit=dev --parseable`): one path each, the project's own left out. */
export function productionPaths(dir: string): string[] {
  const r = spawnSync('npm', ['ls', '--all', '--omit=dev', '--parseable'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm ls failed in ${dir}:\n${r.stdout}${r.stderr}`);
  // npm prints the project itself first.
  return r.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((path) => path !== '')
    .slice(1);
}

/** The names of every package installed for production, each once (a name npm installed twice counts once). */
export function productionPackages(dir: string): string[] {
  const names = new Set<string>();
  for (const path of productionPaths(dir)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(path);
    if (m?.[1] !== undefined) names.add(m[1]);
  }
  return [...names].sort();
}

/** The two module resolutions an app's TypeScript may use: Node's own and a bundler's. */
const RESOLUTIONS: Readonly<Record<string, readonly string[]>> = {
  nodenext: ['--module', 'nodenext', '--moduleResolution', 'nodenext'],
  bundler: ['--module', 'esnext', '--moduleResolution', 'bundler'],
};

/** One `tsc` pass of {@link typeCheck}. */
export interface TscRun {
  resolution: string;
  status: number | null;
  output: string;
}

/**
 * `tsc --strict` without skipLibCheck, with the app's own typescript and @types/node, on `file` in `dir`, once per
 * resolution: restjwt's declarations are checked in the app as well as the app's code. With `emit`, the nodenext pass
 * also writes the JavaScript next to the file (for node to run).
 */
export function typeCheck(dir: string, file: string, options: { flags?: readonly string[]; emit?: boolean } = {}): TscRun[] {
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const common = ['--strict', '--skipLibCheck', 'false', '--target', 'es2022', '--types', 'node', ...(options.flags ?? [])];
  return Object.entries(RESOLUTIONS).map(([resolution, flags]) => {
    const noEmit = options.emit === true && resolution === 'nodenext' ? [] : ['--noEmit'];
    const r = spawnSync(process.execPath, [tsc, ...common, ...flags, ...noEmit, file], { cwd: dir, encoding: 'utf8' });
    return { resolution, status: r.status, output: `${r.stdout}${r.stderr}` };
  });
}

/** Whether a package sits in the project's `node_modules` (installed at all, at any depth npm put it). */
export function installedVersion(dir: string, name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}
