/**
 * What every HTML page of the reference server (demo, admin, API reference) sends: one Content-Security-Policy and
 * the framing and isolation headers. (Their files are served by `./static-files.ts`.)
 */
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

