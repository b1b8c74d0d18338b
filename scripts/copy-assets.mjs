// The build's second step: tsc compiles TypeScript only. The server's static pages (demo, admin) and Swagger UI's
// browser files are copied next to the compiled server, where it serves them from (an installed package has dist/ but
// no src/). Swagger UI is copied at build time rather than installed with restjwt: its npm package brings a telemetry
// install script (@scarf/scarf) to every user, and the server needs only four of its files.
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const SERVER = 'packages/restjwt';
rmSync(`${SERVER}/dist/server/assets`, { recursive: true, force: true });
cpSync(`${SERVER}/src/server/assets`, `${SERVER}/dist/server/assets`, { recursive: true });

const swaggerUi = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const target = `${SERVER}/dist/server/assets/swagger-ui`;
mkdirSync(target, { recursive: true });
for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'favicon-16x16.png', 'LICENSE', 'NOTICE']) {
  cpSync(join(swaggerUi, file), join(target, file));
}

// The time of the last complete build, for scripts/build-if-stale.mjs.
mkdirSync('node_modules/.cache', { recursive: true });
writeFileSync('node_modules/.cache/restjwt-build-stamp', `${new Date().toISOString()}\n`);
