/**
 * The core's plain-data view of HTTP. An adapter turns its framework's request into a `CoreRequest` and writes the
 * `CoreResponse` back; that translation is all an adapter does.
 */

/** Headers as the core reads them: lower-case names, one string each. */
export type HeaderMap = Readonly<Record<string, string | undefined>>;

/** A request as the core sees it. */
export interface CoreRequest {
  /** Upper-case method. */
  method: string;
  /** Header names in lower case. Repeated headers joined with ", " (as Node does). */
  headers: Readonly<Record<string, string | undefined>>;
  /** The raw body text, or undefined when the request had none. */
  rawBody?: string | undefined;
  /** The client address as the adapter saw it (after trusted-proxy handling). */
  ip?: string | undefined;
}

/** A JSON response. `body` undefined means no body (e.g. a HEAD). */
export interface CoreResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** Set-Cookie values (cookie mode), written as separate headers. */
  cookies?: readonly string[];
}

/** Headers every JSON answer carries, as Django REST framework sends them. */
export const BASE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'application/json',
  Vary: 'Accept',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
});

/** What a handler may know of the request besides its body. */
export interface RequestMeta {
  /** The client address (after trusted-proxy handling), for throttling. */
  address: string;
  /** The request's headers (lower-case names), for endpoints that authenticate the caller (logout-all). */
  headers?: Readonly<Record<string, string | undefined>>;
}
