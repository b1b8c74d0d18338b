import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1, closed again before it is returned: for programs that take their port from a flag
 * or a config (gunicorn, redis-server, workerd) rather than from the OS. Another process may take it in between;
 * the callers that care retry.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (port === 0) throw new Error('no free port on 127.0.0.1');
  return port;
}
