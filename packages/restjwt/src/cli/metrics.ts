/**
 * `restjwt serve --metrics-port`: Prometheus metrics (`@restjwt/metrics`, an optional package) on a listener of their
 * own, off the public API, bound to 127.0.0.1 unless `--metrics-host` says otherwise. With `--workers N` the primary
 * listens and aggregates every worker's metrics (prom-client's AggregatorRegistry over node:cluster messages).
 * `--tracing` takes the same package for its OpenTelemetry spans.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importOptional } from '@restjwt/core/adapter-kit';
import { CliError } from './errors.js';

type MetricsPackage = typeof import('@restjwt/metrics');

/** The metrics package (metrics and tracing), or a MissingPackageError that says to install it for `feature`. */
export function loadMetrics(feature = 'metrics (--metrics-port)'): Promise<MetricsPackage> {
  return importOptional(() => import('@restjwt/metrics'), feature, ['@restjwt/metrics']);
}

/** The feature that needs `@restjwt/metrics` with these options, if any (its name for the install message). */
export function metricsFeature(options: { metricsPort?: number; tracing: boolean }): string | undefined {
  if (options.metricsPort !== undefined) return options.tracing ? 'metrics and tracing (--metrics-port, --tracing)' : 'metrics (--metrics-port)';
  return options.tracing ? 'tracing (--tracing)' : undefined;
}

/**
 * Serves `GET /metrics` with `collect()`'s text on host:port; anything else is 404, a failed collection 500. Resolves
 * with the listening server and the URL of its page.
 */
export async function listenMetrics(collect: () => Promise<string>, contentType: string, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: the metrics are at GET /metrics.\n');
      return;
    }
    collect().then(
      (text) => res.writeHead(200, { 'content-type': contentType }).end(text),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`Collecting the metrics failed: ${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new CliError(`The metrics port ${port} on ${host} is already in use. Pick another --metrics-port.`, { cause: error }) : error),
    );
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics` };
}
