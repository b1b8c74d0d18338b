/**
 * The reference server's logs: JSON lines (pino, through Fastify), one access line per request, written to stdout
 * asynchronously in batches so that logging costs a request little.
 */
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import pino from 'pino';

/** JSON logs: request line and status only. Headers that carry credentials are redacted should anything log them. */
export const DEFAULT_LOGGER: FastifyServerOptions['logger'] = {
  level: 'info',
  serializers: {
    // The query string is dropped: clients sometimes put tokens or passwords there (?access_token=…).
    req: (req: { method?: string; url?: string; hostname?: string; ip?: string }) => ({
      method: req.method,
      url: pathOf(req.url),
      host: req.hostname,
      remoteAddress: req.ip,
    }),
  },
  redact: {
    paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'req.body', '*.password', '*.refresh', '*.access', '*.token'],
    censor: '[redacted]',
  },
};

/** A request target without its query string, cut to a length a log line can carry. */
function pathOf(url: string | undefined): string {
  const target = url ?? '';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/**
 * One access line per request (`"msg":"request"` with method, route, status and duration in ms, and the request's
 * `reqId`), instead of Fastify's two ("incoming request", "request completed") that each serialise the request.
 * `route` is the matched route's pattern (`/api/token/`, `/api/admin/users/:id/`); a request no route matched logs
 * its path instead. Never a header, a body or a query string. Errors keep Fastify's own lines.
 *
 * The line goes through a logger of its own on the same stream (see {@link accessLines}): it holds four fields we
 * chose, so it skips the redaction pass the request logger applies to every line (about a tenth of a public
 * request's time in the server). Without one (logging off) it goes to the request's logger.
 */
export class AccessLog extends LogController {
  constructor(private readonly lines?: pino.Logger) {
    super();
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (error) return super.requestCompleted(error, request, reply, metadata);
    const route = request.routeOptions.url ?? pathOf(request.url);
    const ms = Math.round(reply.elapsedTime * 100) / 100;
    if (this.lines === undefined) reply.log.info({ method: request.method, route, status: reply.statusCode, ms }, 'request');
    else this.lines.info({ reqId: request.id, method: request.method, route, status: reply.statusCode, ms }, 'request');
  }
}

/**
 * The access lines' logger for Fastify logger options: the same options and stream (stdout when none is given)
 * without redaction or serializers. Undefined when logging is off, or writes to a file or a transport (those stay
 * with Fastify's logger, which owns them).
 */
export function accessLines(logger: FastifyServerOptions['logger']): pino.Logger | undefined {
  if (logger === false || logger === undefined || logger === null) return undefined;
  if (logger === true) return pino();
  const { redact: _redact, serializers: _serializers, stream, file, transport, ...rest } = logger as pino.LoggerOptions & { stream?: pino.DestinationStream; file?: string };
  if (file !== undefined || transport !== undefined) return undefined;
  return pino(rest, stream ?? pino.destination(1));
}

/**
 * No line per request at all (`restjwt serve --no-request-log`). Not Fastify's own `disableRequestLogging`: that also
 * silences the per-request error lines (an errored response, stream and serializer failures), and its top-level form
 * is deprecated in Fastify 5.12 (FSTDEP023, a warning printed by every process at start).
 */
export class WithoutRequestLines extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (error) super.requestCompleted(error, request, reply, metadata);
  }
}

/** A log destination that must be flushed before the process exits. */
export interface LogDestination {
  /** The stream to give pino (Fastify's `logger.stream`). */
  readonly stream: pino.DestinationStream;
  /** Writes what is still buffered, synchronously: call it before exiting. */
  flushSync(): void;
}

/**
 * stdout, written asynchronously: lines gather in memory while a write is in flight or until 4 KiB are there, and
 * go out in one `write(2)`; a timer flushes what waits at least every 250 ms, so a quiet server's lines still appear
 * at once to a person watching. Measured in docs/benchmarks.md ("defaults" group): a synchronous write per line
 * costs the public route about a third of its requests/s.
 */
export function stdoutDestination(): LogDestination {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 });
  let done = false;
  return {
    stream,
    flushSync() {
      if (done) return;
      done = true;
      try {
        stream.flushSync();
      } catch {
        // stdout already closed (a pipe whose reader went away): nothing left to save.
      }
    },
  };
}
