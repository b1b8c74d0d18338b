/** Node 20/22/24: the app through @hono/node-server. Run compiled (test/runtimes/ compiles it with tsc). */
import { serve } from '@hono/node-server';
import { buildApp } from './app.js';

const { app, close } = await buildApp(process.env, `node ${process.version}`);
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT ?? 0) }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
const stop = () => server.close(() => void close().then(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
