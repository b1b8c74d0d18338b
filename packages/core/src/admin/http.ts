/**
 * The admin API's answers as core responses (framework-neutral): success bodies, DRF's paginated list shape, and
 * errors as the core renders every error (`{"detail", "code"}` / `{"field": ["message"]}`), never cached.
 */
import { BASE_HEADERS, type CoreResponse, type HeaderMap } from '../http/types.js';
import type { AdminPage } from './users.js';

/** Headers of every admin answer: DRF's, and never cached (they carry user data). */
export function adminHeaders(allow: readonly string[]): Record<string, string> {
  return { ...BASE_HEADERS, Allow: allow.join(', '), 'Cache-Control': 'no-store' };
}

/** A JSON success answer. */
export function adminResponse(status: number, body: unknown, allow: readonly string[]): CoreResponse {
  return { status, headers: adminHeaders(allow), body };
}

/** What rendering an error needs: a `RestJwt` fits. */
export interface AdminErrorRenderer {
  errorResponse(err: unknown, headers: HeaderMap): CoreResponse;
}

/**
 * Any error as an answer, in the request's language: the admin's own errors and field errors like the core's
 * (400/401/403/404/501/503, 500 for bugs), all through the core's one renderer, with `Cache-Control: no-store`.
 */
export function adminErrorResponse(service: AdminErrorRenderer, err: unknown, headers: HeaderMap): CoreResponse {
  const res = service.errorResponse(err, headers);
  return { ...res, headers: { ...res.headers, 'Cache-Control': 'no-store' } };
}

/** DRF's LimitOffsetPagination body. */
export interface PageBody<T> {
  count: number | null;
  /** The next page's URL (path and query, relative to the API's origin), or null on the last page. */
  next: string | null;
  previous: string | null;
  results: T[];
}

/**
 * Renders a page as DRF's LimitOffsetPagination does, with `next`/`previous` as path-relative links (`/api/admin/
 * users/?limit=50&offset=50`) that keep the request's other query parameters. Relative, because behind a proxy the
 * server cannot know its public origin; browsers and `fetch` resolve them against the API's URL.
 */
export function pageBody<T>(page: AdminPage<T>, pathname: string, search: string): PageBody<T> {
  const link = (offset: number): string => {
    const params = new URLSearchParams(search);
    params.set('limit', String(page.limit));
    if (offset > 0) params.set('offset', String(offset));
    else params.delete('offset');
    return `${pathname}?${params.toString()}`;
  };
  return {
    count: page.count,
    next: page.hasMore ? link(page.offset + page.limit) : null,
    previous: page.offset > 0 ? link(Math.max(0, page.offset - page.limit)) : null,
    results: page.results,
  };
}
