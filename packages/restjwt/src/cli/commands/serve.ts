import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { Command, Option } from 'commander';
import type { FastifyInstance } from 'fastify';
import { combineObservers, createRestJwt, type LogEvent, type RateCounter, type Store } from '@restjwt/core';
import { buildServer } from '../../server/app.js';
import { DEFAULT_LOGGER, stdoutDestination } from '../../server/logging.js';
import { importOptional } from '@restjwt/core/adapter-kit';
import { createMemoryRateCounter } from '@restjwt/core/memory';
import { sqliteFilenameFromUrl, isSqliteUrl } from '@restjwt/sqlite';
import { loadServeSettings } from '../config.js';
import { CliError, reportError } from '../errors.js';
import { booleanFromEnv, databaseOption, integerIn, redisOption } from '../options.js';
import { listenMetrics, loadMetrics, metricsFeature } from '../metrics.js';
import { openCliStore } from '../store.js';

interface ServeOptions {
  host: string;
  port: number;
  database: string;
  redis?: string;
  config?: string;
  workers: number;
  /** False with `--no-request-log` or `RESTJWT_REQUEST_LOG=0`: no log line per request. */
  requestLog: boolean;
  /** `--metrics-port`: Prometheus metrics on a listener of their own (see ../metrics.ts); off when undefined. */
  metricsPort?: number;
  metricsHost: string;
  /** `--tracing`: OpenTelemetry spans (`@restjwt/metrics`'s createTracing), a no-op until an SDK is preloaded. */
  tracing: boolean;
}

/** How long a shutdown may wait for in-flight requests before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;
/** A worker that dies this often within {@link RESTART_WINDOW_MS} is not restarted again: something is wrong. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

/** `restjwt serve`: the reference server, in one process or in a cluster of workers sharing one port. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('run the reference server (token endpoints, /api/protected/, /api/me/, /healthz)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'port to listen on (0: any free port)').default(8000).argParser(integerIn(0, 65535, '--port')))
    .addOption(databaseOption())
    .addOption(redisOption())
    .option('--config <file>', 'JSON settings file (camelCase or SIMPLE_JWT names); else the JSON in RESTJWT_SETTINGS')
    .addOption(
      new Option('--workers <n>', 'number of processes serving the port (node:cluster)').default(1).argParser(integerIn(1, 256, '--workers')),
    )
    .addOption(
      new Option(
        '--no-request-log',
        'do not log the access line written per request ({"msg":"request"} with method, route, status, ms); errors and start-up are still logged (or RESTJWT_REQUEST_LOG=0)',
      ),
    )
    .addOption(
      new Option('--metrics-port <port>', 'serve Prometheus metrics at GET /metrics on this port, off the public API (needs @restjwt/metrics)').argParser(
        integerIn(0, 65535, '--metrics-port'),
      ),
    )
    .option('--metrics-host <host>', 'address the metrics listener binds to', '127.0.0.1')
    .option(
      '--tracing',
      'OpenTelemetry spans around the token endpoints and store calls (needs @restjwt/metrics); a no-op unless an SDK is preloaded, e.g. node --import ./otel.mjs',
      false,
    )
    .addHelpText(
      'after',
      '\nWithout a signing key (RESTJWT_SIGNING_KEY or signingKey in the config) and with an HMAC algorithm, serve\n' +
        'creates one in the database directory as "signing-key" (mode 0600) and reuses it on later starts.\n' +
        'With "mfa" in the config (second factors: TOTP, passkeys, recovery codes; needs @restjwt/mfa) and no\n' +
        'RESTJWT_MFA_KEY or mfa.encryptionKey, serve creates their encryption key beside it as "mfa-key" (mode 0600).\n' +
        'Refresh-token rotation, blacklisting after rotation, login throttling and last-login recording are on unless\n' +
        'the config sets them. Throttling counts login attempts in Redis with --redis (shared by every instance and\n' +
        'worker), else in the memory of each process.\n',
    )
    .action(async (options: ServeOptions, command: Command) => {
      // The flag wins over the environment; checked here, so a bad value fails once, not in every worker.
      if (command.getOptionValueSource('requestLog') !== 'cli') options.requestLog = booleanFromEnv('RESTJWT_REQUEST_LOG', true);
      if (cluster.isWorker) return runServer(options, true);
      if (options.workers > 1) return runPrimary(options);
      return runServer(options, false);
    });
}

/** `http://HOST:PORT`, with brackets around an IPv6 host. */
function serverUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function say(line: string): void {
  process.stderr.write(`restjwt: ${line}\n`);
}

/** Turns the common listen failures into messages that say what to do. */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new CliError(`Port ${port} on ${host} is already in use. Stop the other server or pick another --port.`, { cause: error });
  }
  if (code === 'EACCES') {
    return new CliError(`Not allowed to listen on port ${port}. Use a port above 1023, or run behind a reverse proxy.`, { cause: error });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new CliError(`Cannot listen on ${host}: it is not an address of this machine. Use --host 127.0.0.1 or --host 0.0.0.0.`, {
      cause: error,
    });
  }
  return error;
}

/** True for the store behind the Redis cache (`--redis`), which carries the login-throttle counter every instance shares. */
function hasSharedCounter(store: Store): store is Store & { rateCounter: RateCounter } {
  return 'rateCounter' in store && typeof store.rateCounter === 'object' && store.rateCounter !== null;
}

/**
 * Runs one server process: settings, store (migrated on open), Fastify, listen; stops cleanly on SIGTERM/SIGINT.
 * A cluster worker stays quiet: its primary prints the start-up lines once for all workers.
 */
async function runServer(options: ServeOptions, worker: boolean): Promise<void> {
  // Before anything is read or opened: a missing @restjwt/metrics is one line naming the install.
  const feature = metricsFeature(options);
  const metricsPackage = feature === undefined ? undefined : await loadMetrics(feature);
  const { input, settings, notices, social, mfa } = await loadServeSettings({ config: options.config, database: options.database });
  if (!worker) for (const notice of notices) say(notice);
  // Second factors are an optional package: loaded only when the config has "mfa", before the store is opened.
  const mfaPackage = mfa === undefined ? undefined : await importOptional(() => import('@restjwt/mfa'), 'second factors (the config\'s "mfa" key)', ['@restjwt/mfa']);

  const opened = await openCliStore(options.database, {
    redisUrl: options.redis ?? null,
    onEvent: (e) => {
      if (e.level !== 'info') say(`${e.event}: ${e.reason ?? ''}`);
    },
  });
  // A worker's metrics are summed by the primary (see runPrimary); a single process serves its own.
  const metrics = options.metricsPort === undefined ? undefined : metricsPackage?.createPrometheusMetrics({ clusterWorker: worker });
  const timed = metrics === undefined ? opened : metrics.instrument(opened);
  const tracing = options.tracing ? metricsPackage?.createTracing() : undefined;
  const store = tracing === undefined ? timed : tracing.instrument(timed);
  const observer = combineObservers(metrics?.observer, tracing?.observer);
  let metricsServer: import('node:http').Server | undefined;
  // Asynchronous stdout: flushed on every way out, so no line is lost at exit.
  const logs = stdoutDestination();
  process.once('exit', () => logs.flushSync());
  let app: FastifyInstance | undefined;
  try {
    // Login-throttling counters (used when loginThrottle is on): shared through Redis when there is one, so that
    // every instance counts every attempt; else this process's own.
    const shared = hasSharedCounter(store);
    const rateCounter = shared ? store.rateCounter : createMemoryRateCounter();
    if (!worker && settings.loginThrottle !== false) say(throttleLine(shared, 1));
    // The core's warnings and errors: those of start-up on stderr with the other start-up lines (in a cluster once,
    // by the first worker), later ones in the JSON log.
    let onEvent = (e: LogEvent): void => {
      if (e.level !== 'info' && (!worker || cluster.worker?.id === 1)) say(`${e.level === 'warn' ? 'warning' : 'error'} (${e.event}): ${e.reason ?? ''}`);
    };
    // Built before the service (which takes its second factor), bound to it when its routes are mounted.
    const secondFactors = mfa === undefined || mfaPackage === undefined ? undefined : mfaPackage.createMfa({ ...mfa, store });
    const restjwt = createRestJwt({
      store,
      settings: input,
      rateCounter,
      log: (e) => onEvent(e),
      observer,
      ...(secondFactors === undefined ? {} : { secondFactor: secondFactors.secondFactor }),
    });
    // Social sign-in is an optional package: loaded only when the config names providers.
    const createSocialLogin =
      social === undefined ? undefined : (await importOptional(() => import('@restjwt/social'), 'social sign-in (the config\'s "social" key)', ['@restjwt/social'])).createSocialLogin;
    app = await buildServer({
      restjwt,
      logger: { ...(DEFAULT_LOGGER as object), stream: logs.stream },
      disableRequestLogging: !options.requestLog,
      ...(social === undefined || createSocialLogin === undefined ? {} : { social: createSocialLogin(restjwt, social) }),
      ...(secondFactors === undefined ? {} : { mfa: secondFactors }),
    });
    const log = app.log;
    onEvent = ({ level, ...fields }) => {
      // pino writes its own "level".
      if (level !== 'info') log[level](fields, fields.event);
    };
    try {
      await app.listen({ host: options.host, port: options.port });
    } catch (error) {
      throw listenError(error, options.host, options.port);
    }
    if (metrics !== undefined && !worker && options.metricsPort !== undefined) {
      const registry = metrics.registry;
      const listened = await listenMetrics(() => registry.metrics(), registry.contentType, options.metricsHost, options.metricsPort);
      metricsServer = listened.server;
      say(`metrics: ${listened.url} (Prometheus text format)`);
    }
  } catch (error) {
    await app?.close();
    await store.close();
    throw error;
  }
  const port = (app.server.address() as AddressInfo).port;

  const server = app;
  const stop = onShutdown(async () => {
    // app.close() stops accepting connections and waits for in-flight requests; only then is the store closed.
    await server.close();
    metricsServer?.close();
    await store.close();
  }, !worker);
  // A worker whose primary is gone (killed without a chance to forward a signal) must not linger.
  if (worker) process.on('disconnect', () => stop('disconnect'));
  // Only now: whoever waits for this line may signal at once, and the signal must find its handler.
  if (!worker) process.stderr.write(`restjwt listening on ${serverUrl(options.host, port)}\n${pagesLine(serverUrl(options.host, port))}`);
}

/**
 * Calls `close` once on SIGTERM or SIGINT, then exits 0; a stuck close exits 1 after the grace period. In the
 * foreground (`interactive`), a second signal exits at once. Workers ignore it: Ctrl-C reaches them both directly
 * and as the SIGTERM their primary forwards. Returns the trigger, for other reasons to stop.
 */
function onShutdown(close: () => Promise<void>, interactive: boolean): (reason: string) => void {
  let closing = false;
  const handler = (reason: string): void => {
    if (closing) {
      if (!interactive) return;
      say(`${reason} again: exiting without waiting for requests to finish.`);
      process.exit(1);
    }
    closing = true;
    if (interactive) say(`${reason} received: finishing in-flight requests, then stopping.`);
    setTimeout(() => {
      say(`requests still running after ${SHUTDOWN_GRACE_MS / 1000} s; exiting anyway.`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    close().then(
      () => process.exit(0),
      (error: unknown) => process.exit(reportError(error)),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return handler;
}

/** True when `url` names a database that lives inside one process, which workers could not share. */
function isProcessLocal(url: string): boolean {
  if (/^memory:/i.test(url.trim())) return true;
  return isSqliteUrl(url) && sqliteFilenameFromUrl(url) === ':memory:';
}

/**
 * The cluster primary: prepares what workers must share (the signing key file, the migrated schema), forks the
 * workers, restarts one that dies, and on SIGTERM/SIGINT stops them all and exits.
 */
async function runPrimary(options: ServeOptions): Promise<void> {
  if (isProcessLocal(options.database)) {
    throw new CliError(
      `--workers ${options.workers} needs a database the processes can share, but ${options.database} lives inside one process. ` +
        'Use a SQLite file (--database sqlite:./restjwt.sqlite3), a server database (postgres://…, mysql://…) or drop --workers.',
    );
  }
  // Checked here too, so that a missing package is one line, not every worker failing its start-up.
  const feature = metricsFeature(options);
  const metricsPackage = feature === undefined ? undefined : await loadMetrics(feature);
  // Create the key file before forking: workers starting together must all read the same key, not race to make one.
  const { notices, settings } = await loadServeSettings({ config: options.config, database: options.database });
  for (const notice of notices) say(notice);
  // Each worker opens its own store, hence its own counters: Redis when --redis is given, else its memory.
  if (settings.loginThrottle !== false) say(throttleLine((options.redis ?? '').trim() !== '', options.workers));
  // Migrate once here, so workers do not all try at the same moment.
  const store: Store = await openCliStore(options.database);
  await store.close();
  if (metricsPackage !== undefined && options.metricsPort !== undefined) {
    // Every worker's metrics, summed, on the primary's own listener.
    const aggregator = new metricsPackage.AggregatorRegistry();
    const listened = await listenMetrics(() => aggregator.clusterMetrics(), aggregator.contentType, options.metricsHost, options.metricsPort);
    say(`metrics: ${listened.url} (Prometheus text format, every worker's metrics summed)`);
  }

  const listening = new Set<number>();
  const restarts: number[] = [];
  let announced = false;
  let shuttingDown = false;
  let exitStatus = 0;

  const liveWorkers = () => Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);

  const shutdown = (status: number): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    exitStatus = status;
    const workers = liveWorkers();
    if (workers.length === 0) process.exit(status);
    for (const w of workers) w.process.kill('SIGTERM');
    setTimeout(() => {
      say(`workers still running after ${SHUTDOWN_GRACE_MS / 1000} s; killing them.`);
      for (const w of liveWorkers()) w.process.kill('SIGKILL');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + 5_000).unref();
  };

  cluster.on('listening', (worker, address) => {
    listening.add(worker.id);
    if (!announced && listening.size >= options.workers) {
      announced = true;
      process.stderr.write(`restjwt listening on ${serverUrl(options.host, address.port)} (${options.workers} workers)\n${pagesLine(serverUrl(options.host, address.port))}`);
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const hadStarted = listening.delete(worker.id);
    if (shuttingDown) {
      if (liveWorkers().length === 0) process.exit(exitStatus);
      return;
    }
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    if (!hadStarted) {
      // It failed before listening (bad port, bad config…): a new worker would fail the same way, forever.
      say(`worker ${worker.process.pid ?? '?'} stopped during start-up (${how}); see its message above. Stopping.`);
      shutdown(1);
      return;
    }
    const now = Date.now();
    while (restarts.length > 0 && (restarts[0] ?? now) < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length >= MAX_RESTARTS) {
      say(`workers died ${MAX_RESTARTS} times within ${RESTART_WINDOW_MS / 1000} s; stopping. Check the logs above for the cause.`);
      shutdown(1);
      return;
    }
    restarts.push(now);
    say(`worker ${worker.process.pid ?? '?'} died (${how}); starting a new one.`);
    cluster.fork();
  });

  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  for (let i = 0; i < options.workers; i++) cluster.fork();
}

/** Where login attempts are counted, for the start-up lines. */
function throttleLine(inRedis: boolean, workers: number): string {
  if (inRedis) return 'login throttling counts attempts in Redis (shared by every instance).';
  if (workers > 1) {
    return (
      `login throttling counts attempts in each worker process, not shared: with ${workers} workers a guesser gets up to ` +
      `${workers} times the limits. Give --redis to share the counts.`
    );
  }
  return 'login throttling counts attempts in this process (another instance would count its own: give --redis to share the counts).';
}

/** Where the browser pages are, printed under the listening line. */
function pagesLine(base: string): string {
  const root = base.replace(/\/$/, '');
  return `restjwt pages: demo ${root}/ · admin ${root}/admin/ (staff users: restjwt createuser NAME --staff) · API reference ${root}/api/docs/\n`;
}
