/**
 * node:http translation, shared by the adapters whose requests and responses are Node's own (Express, NestJS on
 * its default Express platform): the request's body stream goes to the core unread, the core's answer is written
 * as it is. Internal: applications use `@restjwt/express` or `@restjwt/nest`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CoreResponse, EndpointName, RestJwt } from '../index.js';
import { matchTokenRoute, nodeHeaderRecord, slashRedirect, splitTarget, responseText, outgoingHeaders, type HeaderMap } from '../adapter-kit.js';

/** The request's headers for the core, with every copy of the configured auth header (see `nodeHeaderMap`). */
export const nodeHeaders = (req: IncomingMessage, restjwt: RestJwt): HeaderMap => nodeHeaderRecord(req.headers, req.rawHeaders, restjwt.settings.authHeaderName);

/** Writes a core response as it is: no framework serialiser, ETag or charset in between. */
export function sendNode(res: ServerResponse, out: CoreResponse): void {
  res.writeHead(out.status, outgoingHeaders(out)).end(responseText(out));
}

/** Answers the 308 to the slashed URL, for a request target such as `req.originalUrl`. */
export function redirectNode(res: ServerResponse, target: string): void {
  const { pathname, search } = splitTarget(target);
  sendNode(res, slashRedirect(pathname, search));
}

/**
 * Answers a token endpoint from the request's raw body stream. A body some parser already read cannot be given
 * to the core as it came, and re-serialising it would change the answers: that is a mounting mistake, said loudly.
 */
export async function handleNode(restjwt: RestJwt, name: EndpointName, req: IncomingMessage, ip?: string): Promise<CoreResponse> {
  if (req.readableDidRead) {
    throw new Error(
      `restjwt: the body of ${req.method ?? ''} ${req.url ?? ''} was already read by another body parser; ` +
        'mount the token endpoints before it (before express.json() / express.urlencoded())',
    );
  }
  return restjwt.handleStream(name, { method: req.method ?? 'GET', headers: nodeHeaders(req, restjwt), body: req, ip: ip ?? req.socket.remoteAddress });
}

/** A connect-style middleware (`(req, res, next)`) answering the token endpoints under `prefix` (default: the service's). */
export function tokenMiddleware(restjwt: RestJwt, prefix?: string) {
  const routes = restjwt.routes(prefix);
  return (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    const target = req.url ?? '/';
    const match = matchTokenRoute(routes, splitTarget(target).pathname);
    if (match === undefined) return next();
    if (match.redirect) return redirectNode(res, target);
    handleNode(restjwt, match.route.name, req).then((out) => sendNode(res, out), next);
  };
}
