/**
 * The demo page at `/`: static HTML, CSS and an ES module from `assets/demo/`, plus the compiled client
 * (`dist/client/*.js`) at `/assets/client/`, so that the page imports `restjwt/client` with no build step of its own.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RestJwt } from '../core/index.js';
import { firstDirWith, pageAssetsDir, pageCsp, securePage } from './page-headers.js';

/** The demo's Content-Security-Policy: its own scripts, styles and API only; nothing inline, nothing external. */
export const DEMO_CSP = pageCsp();

/** Where the demo's files are (see {@link pageAssetsDir}). */
export const demoAssetsDir = (): string | null => pageAssetsDir('demo');

/**
 * Where the compiled client is: `dist/client/` beside `dist/server/` after a build, or `dist/client/` from the
 * sources (under vitest, after `npm run build`). Null when it was never built. Looked up per request, so that
 * building while the server runs is enough.
 */
export function clientAssetsDir(): string | null {
  return firstDirWith([new URL('../client/', import.meta.url), new URL('../../dist/client/', import.meta.url)], 'index.js');
}

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Plain file names only (no directories, no dot files): nothing outside the asset directories can be named. */
const SAFE_NAME = /^[a-z0-9][a-z0-9._-]*\.(js|css|svg|png)$/i;

const typeOf = (file: string): string | undefined => TYPES[file.slice(file.lastIndexOf('.')).toLowerCase()];

function notFound(reply: FastifyReply, text: string): FastifyReply {
  return reply.code(404).header('Content-Type', 'text/plain; charset=utf-8').header('Cache-Control', 'no-store').send(`${text}\n`);
}

/** Serves `file` from `dir` if it is a plain, known kind of file that exists there. */
async function sendAsset(reply: FastifyReply, dir: string, file: string): Promise<FastifyReply> {
  const type = typeOf(file);
  if (!SAFE_NAME.test(file) || file.includes('..') || type === undefined) return notFound(reply, 'Not found.');
  let body: Buffer;
  try {
    body = await readFile(`${dir}${file}`);
  } catch {
    return notFound(reply, 'Not found.');
  }
  // Development assets: always revalidated, so an edit or a rebuild shows at the next load.
  return reply.header('Content-Type', type).header('Cache-Control', 'no-cache').send(body);
}

/** Registers `GET /`, `/assets/demo/:file` and `/assets/client/:file`. */
export async function registerPages(app: FastifyInstance, restjwt: RestJwt): Promise<void> {
  const hidden = { schema: { hide: true } as Record<string, unknown> };
  // The page chooses its storage from the server's mode: cookie mode only when the refresh token is in a cookie and
  // the access token is not (the client needs it; see docs/client.md).
  const cookieMode = restjwt.settings.cookieMode === 'refresh' ? 'refresh' : 'off';

  app.get('/', hidden, async (_req, reply) => {
    const dir = demoAssetsDir();
    if (dir === null) return notFound(reply, 'The demo page assets (src/server/assets/demo/) are missing.');
    const html = (await readFile(`${dir}index.html`, 'utf8')).replace('%COOKIE_MODE%', cookieMode);
    return securePage(reply, DEMO_CSP)
      .header('Content-Type', 'text/html; charset=utf-8')
      .header('Cache-Control', 'no-cache')
      .send(html);
  });

  app.get<{ Params: { file: string } }>('/assets/demo/:file', hidden, async (req, reply) => {
    const dir = demoAssetsDir();
    if (dir === null || req.params.file === 'index.html') return notFound(reply, 'Not found.');
    return sendAsset(reply, dir, req.params.file);
  });

  app.get<{ Params: { file: string } }>('/assets/client/:file', hidden, async (req, reply) => {
    const dir = clientAssetsDir();
    if (dir === null) return notFound(reply, 'The restjwt client is not built: run `npm run build` (it compiles src/client/ to dist/client/).');
    if (!req.params.file.endsWith('.js')) return notFound(reply, 'Not found.');
    return sendAsset(reply, dir, req.params.file);
  });
}
