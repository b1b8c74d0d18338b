/**
 * What every adapter needs to turn its framework's request into a `CoreRequest` and a `CoreResponse` back into its
 * framework's answer, written once: header normalisation, reading a body stream within `maxBodyBytes`, the token
 * routes under a prefix, the trailing-slash redirect, and the response text. Adapters only translate.
 */
import type { EndpointName, EndpointSpec } from '../endpoints.js';
import { ApiError, ParseError, PayloadTooLarge } from '../errors.js';
import type { CoreResponse, HeaderMap } from './types.js';

export type { HeaderMap } from './types.js';

/** Node's `IncomingHttpHeaders`, a web `Headers`, or any map/list of name–value pairs. */
export type HeaderInput =
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[] | number | undefined>>;

/** Lower-cases names and joins repeated values with ", " (as Node and `Headers` do). */
export function headerRecord(input: HeaderInput): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = Object.create(null) as Record<string, string | undefined>;
  if (Symbol.iterator in input) {
    for (const [name, value] of input as Iterable<readonly [string, unknown]>) addHeader(out, name, value);
    return out;
  }
  // A plain object (Node's headers, on every guarded request): its keys, without an [name, value] array for each.
  const record = input as Readonly<Record<string, unknown>>;
  const names = Object.keys(record);
  for (let i = 0; i < names.length; i++) addHeader(out, names[i] as string, record[names[i] as string]);
  return out;
}

function addHeader(out: Record<string, string | undefined>, name: string, value: unknown): void {
  if (value === undefined) return;
  const key = name.toLowerCase();
  const text = Array.isArray(value) ? value.join(', ') : String(value);
  const previous = out[key];
  out[key] = previous === undefined ? text : `${previous}, ${text}`;
}

/** Node's `IncomingMessage.headers`: names lowercase, repeated lines joined or dropped (see {@link nodeHeaderMap}). */
export type NodeHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Every value of the field `name` (lowercase) in Node's `rawHeaders`, joined by ", " as web `Headers` joins them,
 * when it occurs more than once; undefined when it occurs once or not at all.
 */
export function repeatedHeader(rawHeaders: readonly string[], name: string): string | undefined {
  // Both sides with 0x20 set: a letter in either case, and any other character the same on both.
  const first = name.charCodeAt(0) | 0x20;
  let found = -1;
  let joined: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i] as string;
    // Length, then first letter (either case), before any comparison: most fields stop at the first test.
    if (field.length !== name.length || (field.charCodeAt(0) | 0x20) !== first || (field !== name && field.toLowerCase() !== name)) continue;
    if (found === -1) found = i;
    else joined = `${joined ?? rawHeaders[found + 1]}, ${rawHeaders[i + 1]}`;
  }
  return joined;
}

/**
 * Node's request headers for the core. Node keeps the first `Authorization` line (and the first of a few other
 * fields) and drops the others, which a proxy might read instead; so the configured auth header gets every copy from
 * `rawHeaders`, joined as web `Headers` joins them, and the core refuses the ambiguity (`rawTokenFromHeader`).
 * Otherwise Node's own object is used, not copied (what guards call on every request): its names are lowercase and
 * its values strings, but `set-cookie`'s, which a request has no use for and the core never reads. A header name that
 * Object.prototype also has (`constructor`…) gets a copy without a prototype, as {@link headerRecord} makes.
 */
export function nodeHeaderMap(headers: NodeHeaders, rawHeaders: readonly string[], authHeaderName: string): HeaderMap {
  if (repeatedHeader(rawHeaders, authHeaderName) === undefined && !(authHeaderName in Object.prototype)) return headers as HeaderMap;
  return nodeHeaderRecord(headers, rawHeaders, authHeaderName);
}

/** {@link headerRecord} of Node's request headers, with every copy of the configured auth header as {@link nodeHeaderMap} has them. */
export function nodeHeaderRecord(headers: NodeHeaders, rawHeaders: readonly string[], authHeaderName: string): Record<string, string | undefined> {
  const record = headerRecord(headers);
  const repeated = repeatedHeader(rawHeaders, authHeaderName);
  if (repeated !== undefined) record[authHeaderName] = repeated;
  return record;
}

/** A web `ReadableStream` reader, structurally (so the core needs no DOM types). */
interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
  releaseLock(): void;
}

/** A request body: a Node stream (any async iterable of bytes) or a web `ReadableStream`. */
export type BodySource = AsyncIterable<Uint8Array | string> | { getReader(): ChunkReader };

async function* chunksOf(source: BodySource): AsyncGenerator<Uint8Array | string> {
  if (!('getReader' in source)) {
    // Not `for await`: leaving it early would destroy a Node request, and with it the socket the 413 goes out on.
    const it = source[Symbol.asyncIterator]();
    for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
    return;
  }
  const reader = source.getReader();
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) if (r.value !== undefined) yield r.value;
  } finally {
    reader.releaseLock();
  }
}

/**
 * Reads a body as UTF-8 text, refusing more than `limit` bytes with the core's 413: at once when `Content-Length`
 * says so, else as soon as the count passes it (the rest is not read). A stream that fails is a 400 parse error.
 */
export async function readRawBody(source: BodySource | null | undefined, headers: HeaderMap, limit: number): Promise<string | undefined> {
  if (source === null || source === undefined) return undefined;
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLarge(limit);
  const decoder = new TextDecoder();
  let bytes = 0;
  let text = '';
  try {
    for await (const chunk of chunksOf(source)) {
      const data = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
      bytes += data.byteLength;
      if (bytes > limit) throw new PayloadTooLarge(limit);
      text += decoder.decode(data, { stream: true });
    }
  } catch (err) {
    throw err instanceof ApiError ? err : new ParseError('the request body could not be read.');
  }
  return text + decoder.decode();
}

/** One token endpoint mounted under a prefix. */
export interface TokenRoute {
  readonly name: EndpointName;
  readonly spec: EndpointSpec;
  /** The endpoint's URL, with simplejwt's trailing slash: `/api/token/refresh/`. */
  readonly path: string;
  /** The same without the trailing slash, which answers 308 to `path`. */
  readonly bare: string;
}

/** The token endpoints under `prefix` (which starts and ends with "/"). */
export function tokenRoutes(endpoints: readonly EndpointSpec[], prefix: string): TokenRoute[] {
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`prefix must start and end with "/", got "${prefix}"`);
  return endpoints.map((e) => ({ name: e.name, spec: e, path: `${prefix}${e.path}`, bare: `${prefix}${e.path.slice(0, -1)}` }));
}

/** What a request path means among the token routes: an endpoint, a redirect to one, or nothing of ours. */
export type RouteMatch = { readonly route: TokenRoute; readonly redirect: boolean } | undefined;

/** Matches a request path (no query) against the token routes, for adapters that route by hand. */
export function matchTokenRoute(routes: readonly TokenRoute[], pathname: string): RouteMatch {
  for (const route of routes) {
    if (route.path === pathname) return { route, redirect: false };
    if (route.bare === pathname) return { route, redirect: true };
  }
  return undefined;
}

/**
 * Django's APPEND_SLASH answers 301, which turns a POST into a GET; 308 keeps the method and the body. The query
 * string is kept, as Django keeps it.
 */
export function slashRedirect(pathname: string, search = ''): CoreResponse {
  return { status: 308, headers: { Location: `${pathname}/${search}` }, body: undefined };
}

/** Splits a request target (`/a/b?x=1`) into its path and its search (`?x=1`, or ""). */
export function splitTarget(target: string): { pathname: string; search: string } {
  const q = target.indexOf('?');
  return q === -1 ? { pathname: target, search: '' } : { pathname: target.slice(0, q), search: target.slice(q) };
}

/** A core response's body as the bytes go out: JSON text, or "" for no body. */
export function responseText(res: CoreResponse): string {
  return res.body === undefined ? '' : JSON.stringify(res.body);
}

/** The headers to write, with Set-Cookie as a list when the response sets cookies (one header per cookie). */
export function outgoingHeaders(res: CoreResponse): Record<string, string | string[]> {
  return res.cookies === undefined || res.cookies.length === 0 ? res.headers : { ...res.headers, 'Set-Cookie': [...res.cookies] };
}
