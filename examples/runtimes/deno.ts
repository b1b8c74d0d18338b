/**
 * Deno: the app through Deno.serve, from the TypeScript source. `deno run -A --sloppy-imports examples/runtimes/deno.ts`
 * (sloppy imports: the sources import `./app.js` as Node's module resolution wants; bare `@restjwt/*` resolve
 * through the workspace's node_modules, as Deno does beside a package.json).
 */
import { buildApp } from './app.js';

const { app, close } = await buildApp(Deno.env.toObject(), `deno ${Deno.version.deno}`);
const server = Deno.serve({ hostname: '127.0.0.1', port: Number(Deno.env.get('PORT') ?? 0), onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`) }, app.fetch);
const stop = () => void server.shutdown().then(close).then(() => Deno.exit(0));
Deno.addSignalListener('SIGTERM', stop);
Deno.addSignalListener('SIGINT', stop);
