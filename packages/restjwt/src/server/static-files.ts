/**
 * The reference server's one static file helper, for every page's files (demo, admin): where a page's folder is, the
 * content types served, and the answer itself — `Cache-Control: no-cache` with an `ETag`, so that a browser
 * revalidates on every load (an upgrade or a rebuild shows at once) and a 304 keeps that cheap.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A file ready to send. */
export interface StaticFile {
  readonly body: Buffer;
  /** Its `Content-Type`. */
  readonly type: string;
  /** A strong validator: a digest of the bytes, quoted. */
  readonly etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The `Content-Type` of a file name by its extension; undefined for a kind of file never served. */
export function contentType(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  return dot === -1 ? undefined : TYPES[name.slice(dot).toLowerCase()];
}

/** `body` as the file `name` (its type from the extension), with its ETag. */
export function staticFile(name: string, body: Buffer | string): StaticFile {
  const type = contentType(name);
  if (type === undefined) throw new Error(`no content type for ${name}`);
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return { body: bytes, type, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"` };
}

/** Reads `dir` + `name` now (files loaded once at start-up). Throws when it is missing. */
export function loadStaticFile(dir: string, name: string): StaticFile {
  return staticFile(name, readFileSync(`${dir}${name}`));
}

/** Plain asset names only (no directories, no dot files, no pages): nothing outside the asset folders can be named. */
const ASSET_NAME = /^[a-z0-9][a-z0-9._-]*\.(js|css|svg|png)$/i;

/** Reads the asset `file` from `dir` if it is a plain, known kind of file that exists there; null otherwise. */
export async function readAsset(dir: string, file: string): Promise<StaticFile | null> {
  if (!ASSET_NAME.test(file) || file.includes('..')) return null;
  try {
    return staticFile(file, await readFile(`${dir}${file}`));
  } catch {
    return null;
  }
}

/** Sends `file`, always revalidated: 304 without a body when the request's `If-None-Match` names this version. */
export function sendStatic(req: FastifyRequest, reply: FastifyReply, file: StaticFile): FastifyReply {
  reply.header('Content-Type', file.type).header('ETag', file.etag).header('Cache-Control', 'no-cache');
  if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.send(file.body);
}

/** A plain-text answer that is never cached (a missing file, a missing installation step). */
export function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).header('Content-Type', 'text/plain; charset=utf-8').header('Cache-Control', 'no-store').send(`${text}\n`);
}

/** The first of `candidates` (folder URLs) holding the file `probe`, as a path ending in "/"; null when none does. */
export function firstDirWith(candidates: readonly URL[], probe: string): string | null {
  for (const dir of candidates) {
    if (existsSync(new URL(probe, dir))) return fileURLToPath(dir);
  }
  return null;
}

/**
 * Where a page's static files (`assets/<page>/`) are: next to the compiled server when the build copied them
 * (`dist/server/assets/<page>/`), else in the sources (`src/server/assets/<page>/`), which is where they are under
 * vitest and in a checkout that ran only `tsc`.
 */
export function pageAssetsDir(page: 'demo' | 'admin'): string | null {
  return firstDirWith([new URL(`./assets/${page}/`, import.meta.url), new URL(`../../src/server/assets/${page}/`, import.meta.url)], 'index.html');
}

/**
 * The browser libraries the demo page loads, by the name it asks for under `/assets/vendor/`: one file of one npm
 * package each (dependencies of restjwt), served from the installed package, because the pages' CSP allows this
 * server's scripts only (no CDN). A fixed table, so that nothing else under node_modules can be named.
 */
export const VENDOR_FILES: Readonly<Record<string, { readonly pkg: string; readonly file: string }>> = Object.freeze({
  // The UMD bundle the package publishes for browsers: one file (its ES modules are a tree of files). Imported as a
  // module it still defines globalThis.SimpleWebAuthnBrowser (startRegistration, startAuthentication).
  'simplewebauthn-browser.js': { pkg: '@simplewebauthn/browser', file: 'dist/bundle/index.umd.min.js' },
  // A dependency-free ES module (encode, renderSVG…): the page draws the QR code of an otpauth:// URI with it.
  'uqr.js': { pkg: 'uqr', file: 'dist/index.mjs' },
});

/** The folder of the installed package `name` (its package.json's), or null when it is not installed. */
function packageDir(name: string): string | null {
  let entry: string;
  try {
    // The package's main entry: packages that export no ./package.json cannot be resolved by it.
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    return null;
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === name) return dir;
    } catch {
      // No (readable) package.json here: one level up.
    }
  }
  return null;
}

/** The vendored browser file `name` (see {@link VENDOR_FILES}), read now; null for an unknown name or a missing package. */
export async function readVendorFile(name: string): Promise<StaticFile | null> {
  const vendored = Object.hasOwn(VENDOR_FILES, name) ? VENDOR_FILES[name] : undefined;
  if (vendored === undefined) return null;
  const dir = packageDir(vendored.pkg);
  if (dir === null) return null;
  try {
    return staticFile(name, await readFile(join(dir, vendored.file)));
  } catch {
    return null;
  }
}
