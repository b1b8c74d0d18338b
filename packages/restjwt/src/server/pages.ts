/**
 * The demo page at `/`: static HTML, CSS and an ES module from `assets/demo/`, plus @restjwt/core's compiled client
 * (its `dist/client/*.js`) at `/assets/client/`, so that the page imports `@restjwt/core/client` with no build step of
 * its own.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { RestJwt } from '@restjwt/core';
import { pageCsp, securePage } from './page-headers.js';
import { firstDirWith, pageAssetsDir, readAsset, readVendorFile, sendStatic, sendText, staticFile } from './static-files.js';

/** The demo's Content-Security-Policy: its own scripts, styles and API only; nothing inline, nothing external. */
export const DEMO_CSP = pageCsp();

/** Where the demo's files are (see {@link pageAssetsDir}). */
export const demoAssetsDir = (): string | null => pageAssetsDir('demo');

/**
 * Where the compiled typed client is: `dist/client/` of the installed @restjwt/core (the demo page imports it as
 * modules). Null when that package was never built. Looked up per request, so that building while the server runs is
 * enough.
 */
export function clientAssetsDir(): string | null {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('@restjwt/core/client');
  } catch {
    return null;
  }
  return firstDirWith([pathToFileURL(dirname(entry) + '/')], 'index.js');
}

const NOT_FOUND = 'Not found.';

/** Registers `GET /`, `/assets/demo/:file`, `/assets/client/:file` and `/assets/vendor/:file`. */
export async function registerPages(app: FastifyInstance, restjwt: RestJwt): Promise<void> {
  const hidden = { schema: { hide: true } as Record<string, unknown> };
  // The page chooses its storage from the server's mode: cookie mode only when the refresh token is in a cookie and
  // the access token is not (the client needs it; see docs/client.md).
  const cookieMode = restjwt.settings.cookieMode === 'refresh' ? 'refresh' : 'off';
  // Whether logins may ask for a second factor (the service has the `token/mfa/` step): the page then offers passkey
  // sign-in and second-factor enrolment, and loads their browser libraries (only then).
  const mfa = restjwt.endpoints.some((e) => e.name === 'mfa') ? 'on' : 'off';

  app.get('/', hidden, async (req, reply) => {
    const dir = demoAssetsDir();
    if (dir === null) return sendText(reply, 404, 'The demo page assets (src/server/assets/demo/) are missing.');
    // Read per request, as the assets are: an edit or a rebuild shows at the next load.
    const html = (await readFile(`${dir}index.html`, 'utf8')).replace('%COOKIE_MODE%', cookieMode).replace('%MFA%', mfa);
    return sendStatic(req, securePage(reply, DEMO_CSP), staticFile('index.html', html));
  });

  app.get<{ Params: { file: string } }>('/assets/demo/:file', hidden, async (req, reply) => {
    const dir = demoAssetsDir();
    // readAsset names no page (index.html is served at / only).
    const file = dir === null ? null : await readAsset(dir, req.params.file);
    return file === null ? sendText(reply, 404, NOT_FOUND) : sendStatic(req, reply, file);
  });

  app.get<{ Params: { file: string } }>('/assets/client/:file', hidden, async (req, reply) => {
    const dir = clientAssetsDir();
    if (dir === null) return sendText(reply, 404, 'The restjwt client is not built: run `npm run build` (it compiles packages/core/src/client/ to packages/core/dist/client/).');
    const file = req.params.file.endsWith('.js') ? await readAsset(dir, req.params.file) : null;
    return file === null ? sendText(reply, 404, NOT_FOUND) : sendStatic(req, reply, file);
  });

  // The browser libraries of the second-factor views (WebAuthn, QR codes): see VENDOR_FILES.
  app.get<{ Params: { file: string } }>('/assets/vendor/:file', hidden, async (req, reply) => {
    const file = await readVendorFile(req.params.file);
    return file === null ? sendText(reply, 404, NOT_FOUND) : sendStatic(req, reply, file);
  });
}
