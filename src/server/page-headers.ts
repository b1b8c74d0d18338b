/**
 * What every HTML page of the reference server (demo, admin, API reference) sends and where its files are: one
 * Content-Security-Policy, the framing and isolation headers, and the lookup of a page's asset folder.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';

/**
 * The pages' Content-Security-Policy: their own scripts, styles and API only, nothing external, no framing.
 * `img-src data:` is for the empty favicon that stops a browser asking for `/favicon.ico`. Swagger UI sets inline
 * styles, so the API reference alone passes `inlineStyles`.
 */
export function pageCsp(options: { inlineStyles?: boolean } = {}): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    options.inlineStyles === true ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Sets the CSP and the headers that keep a page out of frames and other origins' windows. */
export function securePage(reply: FastifyReply, csp: string): FastifyReply {
  return reply
    .header('Content-Security-Policy', csp)
    .header('X-Frame-Options', 'DENY')
    .header('Cross-Origin-Opener-Policy', 'same-origin')
    .header('Cross-Origin-Resource-Policy', 'same-origin');
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
