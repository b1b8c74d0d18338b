/** Bun: the app through Bun.serve, from the TypeScript source (`bun examples/runtimes/bun.ts`). */
import { buildApp } from './app.js';

const { app, close } = await buildApp(process.env, `bun ${Bun.version}`);
const server = Bun.serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`listening on http://127.0.0.1:${server.port}`);
const stop = () => void server.stop().then(close).then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
